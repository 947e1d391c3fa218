"""One definition of a valid new account, and one shape of its audit event, for every way one is made.

+Add and the API (account_create) and upload (provisioning/upload/validation.py row_clean, and its bulk
writer) ask new_account_problems and build the 'accounts.account.created' event's changes with
account_created_changes. Sync validates its own rows while planning (provisioning/sync/plan.py) and records
each created person as a SyncRecord of its run rather than as this event.
"""

from django.core.exceptions import ValidationError

from accounts.models import Account, PersonType, max_length
from accounts.services.names import NAME_FIELDS, UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE
from accounts.services.usernames import USERNAME_CHARACTERS, username_characters_ok

STAFF_EMAIL_REQUIRED = "is required for staff"
PERSON_TYPE_REQUIRED = "must be Student, Staff or Contact"
_LABELS = {"username": "Username", "person_type": "Person type", "email": "Email", **NAME_FIELDS}
_EMAIL_MAX = max_length(Account, "email")


def new_account_problems(
    *, username: str, person_type: str, email: str, given_name: str = "", family_name: str = ""
) -> dict[str, str]:
    """What is wrong with a new account's own fields (already normalised: username_normalise, stripped):
    {field: a phrase that follows the field's name, "is required for staff"}; empty when it is valid.

    A username's presence and whether it is free are asked where it is given (check_username_free; an
    upload's required column and its batch lookups)."""
    problems = {}
    if username and not username_characters_ok(username):
        problems["username"] = USERNAME_CHARACTERS
    if person_type not in PersonType.values:
        problems["person_type"] = PERSON_TYPE_REQUIRED
    elif person_type == PersonType.STAFF and not email:
        problems["email"] = STAFF_EMAIL_REQUIRED
    if len(email) > _EMAIL_MAX:
        problems["email"] = f"is {len(email)} characters long; the limit is {_EMAIL_MAX}"
    for field, value in (("given_name", given_name), ("family_name", family_name)):
        if value and UNSAFE_TEXT.search(value):
            problems[field] = UNSAFE_TEXT_MESSAGE
    return problems


def check_new_account(**fields) -> None:
    """new_account_problems as the ValidationError +Add and the API show ("Email is required for staff.")."""
    problems = new_account_problems(**fields)
    if problems:
        raise ValidationError({field: f"{_LABELS[field]} {phrase}." for field, phrase in problems.items()})


def account_created_changes(
    *,
    username: str,
    person_type: str,
    given_name: str,
    family_name: str,
    email: str,
    mis_code: str,
    password: str,
    consent: bool = False,
) -> dict:
    """The changes of an 'accounts.account.created' audit event: the same keys whoever made the account.
    password: how they get one ("set", "starter_code", "invitation", or "unusable")."""
    return {
        "username": [None, username],
        "person_type": [None, person_type],
        "given_name": [None, given_name],
        "family_name": [None, family_name],
        "email": [None, email],
        "mis_code": [None, mis_code],
        "password": [None, password],
        **({"consent": [None, "acknowledged"]} if consent else {}),
    }
