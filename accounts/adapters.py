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
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import Account
from accounts.selectors import accounts_with_email, login_account_id, privacy_notice_for
from accounts.services import sign_in_refusal, social_sign_in_match


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
    """allauth's reset form, finding the account by email whatever the case it was stored in."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [a for a in accounts_with_email(email) if a.is_active and a.deleted_at is None]
        return email
