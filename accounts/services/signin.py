"""Who may sign in, how (a Rollcall password, or Microsoft 365 / Google only), and which account a Microsoft or
Google sign-in names."""

from django.conf import settings
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account
from accounts.selectors import accounts_with_email, linked_signins, membership_schools_sign_in_settings
from tenancy.models import School

PASSWORD_SIGN_IN_REFUSED = "Your school signs in with Microsoft 365 or Google: use the button below."


def sign_in_refusal(account: Account) -> str | None:
    """Why this account may not sign in right now, in words for the person, or None."""
    if not account.is_active or account.deleted_at is not None:
        return "This account is no longer active."
    if account.locked_out:
        return "Your account is locked out. Please contact your school's nominated contact or exams officer."
    if not account.approved:
        return "Your account is waiting for approval by your school. You can sign in once it has been approved."
    return None


def password_signin_refusal(account: Account, *, starter_code: bool = False) -> str | None:
    """Why a Rollcall password may not sign this account in, in words for the person, or None if it may.

    Every password path asks this one function: the sign-in backends (accounts.backends.SignInMethodBackend,
    first in AUTHENTICATION_BACKENDS), password reset and set-password links, and any other way in that takes
    a password (an OpenID Connect provider's too). `starter_code=True` asks about a one-time starter code
    instead of a password.

    Refused when every school the account signs in to (active schools of its Active memberships, or Left ones
    in their grace period; accounts.selectors.membership_schools_sign_in_settings) has "Sign in with Microsoft
    365 or Google only" on: one account signs in to all its schools, and a school that still takes passwords
    must not lose its own people's password because another school of theirs uses Microsoft 365 or Google. An
    account with no such membership (support staff) is not refused.

    Never refused: Override Network Authentication on (PRODUCT.md: one person keeps a Rollcall password);
    a starter code on the account's first sign-in (it has never signed in), so a newcomer whose email
    Microsoft or Google cannot match gets in once and links their sign-in from their profile. Once the
    account has signed in, a re-issued starter code is refused like a password.

    It reads the account and its schools, never the password typed: a right and a wrong password get the
    same answer, so the answer tells nobody whether a password was right.
    """
    if account.override_network_auth:
        return None
    if starter_code and account.last_login is None:
        return None
    if membership_schools_sign_in_settings(account) == {True}:
        return PASSWORD_SIGN_IN_REFUSED
    return None


@transaction.atomic
def school_sign_in_methods_set(*, school: School, actor: Account, microsoft_google_only: bool) -> None:
    """Turn "Sign in with Microsoft 365 or Google only" on or off for the school (a Centre Admin's choice:
    accounts.permissions.Perm.SIGN_IN_METHODS_MANAGE, checked by the view). Audited; saving the same value writes
    nothing."""
    school = School.objects.select_for_update().get(pk=school.pk)
    before = school.sign_in_microsoft_google_only
    if before == microsoft_google_only:
        return
    if microsoft_google_only:
        _refuse_a_lock_out(actor)
    School.objects.filter(pk=school.pk).update(sign_in_microsoft_google_only=microsoft_google_only)
    audit_record(
        action="tenancy.school.sign_in_methods_changed",
        actor=actor,
        school=school,
        target_type="school",
        target_id=str(school.pk),
        target_label=school.name,
        changes={"sign_in_microsoft_google_only": [before, microsoft_google_only]},
    )


class SignInMethodsRefused(ValueError):
    """Why the school may not switch to Microsoft 365 or Google only now, in words for the Centre Admin."""


def social_sign_in_offered() -> bool:
    """Whether this Rollcall offers a Microsoft 365 or Google button at all (settings or the support admin)."""
    from allauth.socialaccount.models import SocialApp

    return any(p.get("APPS") for p in settings.SOCIALACCOUNT_PROVIDERS.values()) or SocialApp.objects.exists()


def _refuse_a_lock_out(actor: Account) -> None:
    """Found by trying it: with no Microsoft or Google sign-in set up, ticking the setting refused everyone,
    the Centre Admin who ticked it included, and the page's "use the button below" had no button."""
    if not social_sign_in_offered():
        raise SignInMethodsRefused(
            "Rollcall has no Microsoft 365 or Google sign-in set up yet, so nobody at this school could sign in. "
            "Ask support to set one up first."
        )
    if not actor.override_network_auth and not linked_signins(account=actor):
        raise SignInMethodsRefused(
            "Link your own Microsoft 365 or Google sign-in on your profile page first: otherwise you could not "
            "sign in again once this is on."
        )


def social_sign_in_match(*, verified_emails: list[str], provider: str) -> tuple[Account | None, str]:
    """The one account a Microsoft or Google sign-in names by its verified email, or why there is none.

    It never creates an account; a shared (family) address is ambiguous, so it links nothing.
    """
    how_to_link = f"sign in with your username and password, then link {provider} from your profile page."
    if not verified_emails:
        return None, f"{provider} did not confirm an email address for you. Please {how_to_link}"
    for email in verified_emails:
        matches = list(accounts_with_email(email).filter(deleted_at__isnull=True))
        if len(matches) == 1:
            return matches[0], ""
        if matches:
            return (
                None,
                f"Several Rollcall accounts use {email}, so we cannot tell which is yours. Please {how_to_link}",
            )
    return None, f"No Rollcall account uses {verified_emails[0]}. Ask your school to add you, or {how_to_link}"


def linked_sign_in_removed(*, actor: Account, account: Account, provider: str) -> None:
    """Audit a Microsoft or Google sign-in unlinked from the profile's Linked sign-ins page (allauth deletes it)."""
    audit_record(
        action="accounts.linked_signin.removed",
        actor=actor,
        school=account.home_school,
        target=account,
        changes={"linked_signin": [provider, None]},
    )
