"""allauth hooks: nobody signs up, and sign-in refusals say why."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from accounts.services import sign_in_refusal


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def authenticate(self, request, **credentials):
        # Django's ModelBackend returns nothing for a locked or unapproved account that is still
        # active, so the password form can say precisely why instead of "wrong password".
        account = super().authenticate(request, **credentials)
        if account is not None:
            refusal = sign_in_refusal(account)
            if refusal:
                raise ValidationError(refusal)
        return account

    def pre_login(self, request, user, **kwargs):
        refusal = sign_in_refusal(user)
        if refusal:
            messages.error(request, refusal)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Microsoft 365 / Google sign an existing account in; they never create one."""

    def is_open_for_signup(self, request, sociallogin):
        return False
