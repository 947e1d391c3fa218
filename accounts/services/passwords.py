"""Passwords and the ways to get one: set by an admin, starter code, emailed set-password link."""

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.credentials import set_password_link_issue, starter_code_issue
from accounts.models import Account, SetPasswordLink
from accounts.permissions import AccountAction
from accounts.services.actor import Actor
from accounts.services.authority import check_may_act_on_account
from accounts.services.emails import set_password_email, site_url
from accounts.services.signin import password_signin_refusal
from tenancy.models import School

# How +Add (and the API) gives a new person their first credential.
PASSWORD_SET = "set"  # the admin sets one; the person must change it at first sign-in
PASSWORD_STARTER_CODE = "starter_code"  # a one-time starter code, shown once to the admin
PASSWORD_INVITATION = "invitation"  # an email with a single-use, expiring set-password link
PASSWORD_NONE = "none"  # no Rollcall password: Microsoft 365 / Google sign-in only
PASSWORD_METHODS = (PASSWORD_SET, PASSWORD_STARTER_CODE, PASSWORD_INVITATION, PASSWORD_NONE)


def _check_password(password: str | None, *, account: Account) -> None:
    if not password:
        raise ValidationError({"password": "Enter a password, or choose another way to give them one."})
    try:
        password_validation.validate_password(password, user=account)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def set_password_email_send(
    *, school: School, actor: Actor, account: Account, purpose: str, base_url: str = ""
) -> None:
    """Email a single-use set-password link (invitation or reset): HTML and text, never a password.

    The mail leaves only once the transaction commits, so a refused change sends nothing.
    """
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.LINK)
    if not account.email:
        raise ValidationError({"email": "An email address is needed to send a set-password link."})
    if password_signin_refusal(account):
        raise ValidationError(
            f"{account.full_name} signs in with Microsoft 365 or Google only, so a Rollcall password link would "
            "not work. Turn on Override Network Authentication first if they need a Rollcall password."
        )
    path = set_password_link_issue(school=school, account=account, purpose=purpose, actor=actor.account, job=actor.job)
    message = set_password_email(
        school=school, account=account, purpose=purpose, url=site_url(path, base_url), base_url=base_url
    )
    transaction.on_commit(message.send)


@transaction.atomic
def account_set_password(
    *, actor: Actor, account: Account, password: str, must_change: bool, school: School | None = None
) -> None:
    check_may_act_on_account(actor=actor, account=account, action=AccountAction.PASSWORD)
    account.set_password(password)
    account.must_change_password = must_change
    account.save(update_fields=["password", "must_change_password"])
    audit_record(
        action="accounts.account.password_set",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"password": ["", "set"], "must_change_password": [None, must_change]},
    )


@transaction.atomic
def account_password_changed_by_owner(*, account: Account) -> None:
    """The person chose a new password themselves, so the forced change is done."""
    if account.must_change_password:
        Account.objects.filter(pk=account.pk).update(must_change_password=False)
        account.must_change_password = False
    audit_record(
        action="accounts.account.password_changed",
        actor=account,
        school=account.home_school,
        target=account,
        changes={"password": ["", "changed"]},
    )


RESET_SET = "set"
RESET_STARTER_CODE = "starter_code"
RESET_LINK = "link"
_RESET_ACTIONS = {
    RESET_SET: AccountAction.PASSWORD,
    RESET_STARTER_CODE: AccountAction.STARTER_CODE,
    RESET_LINK: AccountAction.LINK,
}


@transaction.atomic
def account_credentials_reset(
    *, school: School, actor: Actor, account: Account, method: str, password: str | None = None, base_url: str = ""
) -> str | None:
    """A password reset from the edit screen: set one (must change at next sign-in), issue a starter
    code (returned, to show once), or email a set-password link. Any of them ends old sessions."""
    action = _RESET_ACTIONS.get(method)
    if action is not None:
        check_may_act_on_account(actor=actor, account=account, action=action)
    if method == RESET_SET:
        _check_password(password, account=account)
        account_set_password(actor=actor, account=account, password=password, must_change=True, school=school)
        return None
    if method == RESET_STARTER_CODE:
        return starter_code_issue(school=school, account=account, actor=actor.account, job=actor.job)
    if method == RESET_LINK:
        set_password_email_send(
            school=school, actor=actor, account=account, purpose=SetPasswordLink.Purpose.RESET, base_url=base_url
        )
        return None
    raise ValidationError({"password_method": "Choose how to reset the password."})
