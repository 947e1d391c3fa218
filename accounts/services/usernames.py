"""Usernames: their one spelling, who may take one, and holding released ones for a year."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Account, UsernameHold
from tenancy.sql import pg_array

USERNAME_HOLD_DAYS = 365
_BATCH = 900  # names in one __in lookup: under SQLite's default limit on query parameters
# Letters, digits, marks and . _ - @ + (Django's own rule): no spaces, no invisible or control characters.
# \Z, not $: "$" would let a final line break through.
_USERNAME_ALLOWED = re.compile(r"^[\w.@+-]+\Z")
USERNAME_CHARACTERS = "may contain only letters, digits and . @ + - _ (no spaces)"


def username_normalise(raw: str) -> str:
    """A username's one spelling, for every way one enters (+Add, the API, upload, sync, the admin, sign-in).

    NFKC folds look-alike forms into one (full-width "ｅｏ.northfield" is "eo.northfield"), and a letter
    whose case folding is not its lower case ("ß": "ss") is written folded: usernames are unique through
    lower(username), so two names that differ only by case folding are then the same name there too."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text.isascii():
        text = "".join(ch.casefold() if ch.casefold() != ch.lower() else ch for ch in text)
        text = unicodedata.normalize("NFKC", text)
    return text


def username_characters_ok(username: str) -> bool:
    """The one rule for a username's characters, for every way one enters: +Add, the API and the admin (through
    check_username_free), upload (per row, provisioning/upload/validation.py); sync makes names from a
    narrower set (provisioning/sync/usernames.py), which passes it."""
    return bool(_USERNAME_ALLOWED.match(username))


def username_problem(username: str) -> str | None:
    """Why a (normalised) username cannot be given, or None."""
    if not username:
        return "A username is required."
    if not username_characters_ok(username):
        return f"A username {USERNAME_CHARACTERS}."
    return None


def username_taken(username: str, *, exclude: Account | None = None) -> bool:
    """Held by another account, or released by someone else within the last 365 days. For many names at
    once: usernames_taken and username_free_for."""
    username = username_normalise(username)
    qs = Account.objects.annotate(lower=Lower("username")).filter(lower=username.lower())
    holds = UsernameHold.objects.filter(username_lower=username.lower(), held_until__gt=timezone.now())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
        holds = holds.exclude(account=exclude)
    return qs.exists() or holds.exists()


def usernames_taken(names: list[str]) -> dict[str, object]:
    """The set-based form of username_taken, for a sync's thousands of names at once: {lower name: the
    account id holding it, or ("hold", account id) for a live hold} for these lower-case names. Whether a
    name is taken for a given account: username_free_for."""
    taken: dict[str, object] = {}
    now = timezone.now()
    if connection.vendor == "postgresql" and names:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT lower(username), id FROM {Account._meta.db_table} WHERE lower(username) = ANY(%s::text[])",
                [pg_array(names)],
            )
            taken.update({name: pk for name, pk in cursor.fetchall()})
            cursor.execute(
                f"SELECT username_lower, account_id FROM {UsernameHold._meta.db_table}"
                " WHERE username_lower = ANY(%s::text[]) AND held_until > %s",
                [pg_array(names), now],
            )
            for name, account_id in cursor.fetchall():
                taken.setdefault(name, ("hold", account_id))
        return taken
    for i in range(0, len(names), _BATCH):
        chunk = names[i : i + _BATCH]
        rows = Account.objects.annotate(low=Lower("username")).filter(low__in=chunk).values_list("low", "id")
        taken.update(dict(rows))
        holds = UsernameHold.objects.filter(username_lower__in=chunk, held_until__gt=now)
        for name, account_id in holds.values_list("username_lower", "account_id"):
            taken.setdefault(name, ("hold", account_id))
    return taken


def username_free_for(taken: dict, name: str, account_id) -> bool:
    """username_taken's rule over usernames_taken's answer: free when no one holds the (lower-case) name,
    or the account asking (None for a new account) is its holder."""
    holder = taken.get(name)
    if holder is None:
        return True
    if isinstance(holder, tuple):  # a hold: only the account that released it may take it back
        return holder[1] is not None and account_id is not None and str(holder[1]) == str(account_id)
    return account_id is not None and str(holder) == str(account_id)


def check_username_free(username: str, *, account: Account | None = None) -> None:
    """A username to give `account` (or a new account): given, and neither used by another account nor
    released by someone else within the last 365 days."""
    problem = username_problem(username)
    if problem:
        raise ValidationError({"username": problem})
    if username_taken(username, exclude=account):
        raise ValidationError({"username": f"The username {username} is already taken."})


def usernames_hold(*, released: list[tuple[str, object]], now) -> None:
    """Keep released usernames from anyone but their old holder for 365 days; `released` holds
    (username, account id) pairs. Set-based: revoke, delete and sync release thousands at once."""
    from datetime import timedelta

    if not released:
        return
    UsernameHold.objects.bulk_create(
        [
            UsernameHold(
                username_lower=name.lower(),
                account_id=account_id,
                released_at=now,
                held_until=now + timedelta(days=USERNAME_HOLD_DAYS),
            )
            for name, account_id in released
        ],
        update_conflicts=True,
        unique_fields=["username_lower"],
        update_fields=["account", "released_at", "held_until"],
        batch_size=1000,
    )
