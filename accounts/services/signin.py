"""Who may sign in, and which account a Microsoft or Google sign-in names."""

from accounts.audit import audit_record
from accounts.models import Account
from accounts.selectors import accounts_with_email


def sign_in_refusal(account: Account) -> str | None:
    """Why this account may not sign in right now, in words for the person, or None."""
    if not account.is_active or account.deleted_at is not None:
        return "This account is no longer active."
    if account.locked_out:
        return "Your account is locked out. Please contact your school's nominated contact or exams officer."
    if not account.approved:
        return "Your account is waiting for approval by your school. You can sign in once it has been approved."
    return None


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
