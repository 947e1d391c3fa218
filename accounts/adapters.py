"""allauth hooks: nobody signs up, and sign-in refusals say why."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount import signals
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.forms import DisconnectForm as AllauthDisconnectForm
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import Account
from accounts.selectors import (
    accounts_named_by,
    accounts_with_email,
    linked_signins,
    login_account_id,
    privacy_notice_for,
)
from accounts.services import password_signin_refusal, sign_in_refusal, social_sign_in_match


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def authenticate(self, request, **credentials):
        account = super().authenticate(request, **credentials)
        if account is None:
            # accounts.backends.SignInMethodBackend refuses the passwords of people whose schools sign in with
            # Microsoft 365 or Google only without checking them: say so, in the same words whatever password
            # was typed. A login naming nobody, or a wrong password, keeps allauth's own words.
            named = accounts_named_by(credentials.get("email") or credentials.get("username") or "")
            refusals = {password_signin_refusal(a) for a in named}
            if named and None not in refusals:
                raise ValidationError(refusals.pop())
            return None
        # Django's ModelBackend returns nothing for a locked or unapproved account that is still
        # active, so the password form can say precisely why instead of "wrong password".
        refusal = sign_in_refusal(account)
        if refusal:
            raise ValidationError(refusal)
        return account

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth keys its per-login failure limit by the text typed, lower-cased: "ｅｏ.x" (full width), "EO.x"
        # and the account's email would each get their own five guesses at one password. Keyed by the account
        # the login names (one key for its username, any spelling, and its email), or by the login's one
        # spelling when it names no single account, so a guesser gets five tries at an account, not per spelling.
        login = credentials.get("email", credentials.get("username", "")) or ""
        account_id = login_account_id(login)
        key = f"account:{account_id}" if account_id else Account.normalize_username(login).casefold()
        return f"{super()._get_login_attempts_cache_key(request)}{key}"

    def login(self, request, user):
        first_time = user.last_login is None
        super().login(request, user)
        if first_time:
            # PRODUCT: the organisation's privacy notice is shown at first sign-in.
            notice = privacy_notice_for(user)
            if notice:
                messages.info(request, f"Privacy notice from {notice[0]}: {notice[1]}", extra_tags="privacy")
            if password_signin_refusal(user) and not linked_signins(account=user):
                # In by their first-use starter code: the only way in from now on is a linked sign-in.
                messages.info(
                    request,
                    "Your school signs in with Microsoft 365 or Google: link yours under Linked sign-ins on "
                    "your profile page now, so you can sign in with it next time.",
                )

    def get_password_change_redirect_url(self, request):
        # After a forced change, on to where the person was going when it stopped them (a service's sign-in).
        after = request.session.pop("after_password_change", "")
        if after and url_has_allowed_host_and_scheme(after, allowed_hosts={request.get_host()}):
            return after
        return super().get_password_change_redirect_url(request)

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

    def pre_social_login(self, request, sociallogin):
        """Runs once allauth has looked for an existing link to this Microsoft or Google identity.

        Without one, the identity's verified email must name exactly one Rollcall account, which is
        then linked. We match here rather than through allauth's SOCIALACCOUNT_EMAIL_AUTHENTICATION,
        which compares the stored email's case exactly and wipes the account's password on the
        first match (a guard against self-sign-up squatting an address, which cannot happen here:
        schools create every account).
        """
        if sociallogin.state.get("process") == AuthProcess.CONNECT:
            return  # linking from the profile page: allauth links it to the person signed in
        if sociallogin.is_existing:
            account = sociallogin.user
        else:
            verified = [address.email for address in sociallogin.email_addresses if address.verified]
            account, problem = social_sign_in_match(verified_emails=verified, provider=sociallogin.provider.name)
            if account is None:
                _refuse(request, problem)
        refusal = sign_in_refusal(account)
        if refusal:
            _refuse(request, refusal)
        if not sociallogin.is_existing:
            sociallogin.connect(request, account)


def _refuse(request, message: str):
    messages.error(request, message)
    raise ImmediateHttpResponse(redirect("account_login"))


class DisconnectForm(AllauthDisconnectForm):
    """allauth's unlink form, which also unlinks a Microsoft or Google sign-in that is no longer set up.

    allauth looks the provider's app up before deleting a link (to name it in a notification) and
    fails with a 500 when Rollcall no longer has that provider configured. Such a link can sign nobody
    in, so it is removed with the same message and signal (which audits it), without the lookup.
    """

    def save(self) -> None:
        account = self.cleaned_data["account"]
        if get_social_adapter().list_apps(self.request, provider=account.provider):
            return super().save()
        get_account_adapter().add_message(
            self.request, messages.INFO, "socialaccount/messages/account_disconnected.txt"
        )
        account.delete()
        signals.social_account_removed.send(sender=SocialAccount, request=self.request, socialaccount=account)


class ResetPasswordForm(AllauthResetPasswordForm):
    """allauth's reset form, finding the account by email whatever the case it was stored in.

    Someone whose schools sign in with Microsoft 365 or Google only (password_signin_refusal) is sent no
    reset link, whose password would be refused: an email telling them to use that button instead. The page
    answers the same either way, so it tells the person asking nothing about the address.
    """

    def clean_email(self) -> str:
        email = super().clean_email()
        found = [a for a in accounts_with_email(email) if a.is_active and a.deleted_at is None]
        self.users = [a for a in found if password_signin_refusal(a) is None]
        self.refused = [a for a in found if a not in self.users]
        return email

    def save(self, request, **kwargs) -> str:
        email = self.cleaned_data["email"]
        for account in self.refused:
            get_account_adapter().send_mail(
                "account/email/password_reset_refused",
                email,
                {"account": account, "login_url": request.build_absolute_uri(reverse("account_login"))},
            )
        if self.users or not self.refused:
            return super().save(request, **kwargs)
        return email
