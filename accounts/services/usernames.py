"""Usernames: who may take one, and holding released ones for a year."""

from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from accounts.models import Account, UsernameHold

USERNAME_HOLD_DAYS = 365


def username_taken(username: str, *, exclude: Account | None = None) -> bool:
    """Held by another account, or released by someone else within the last 365 days."""
    from django.utils import timezone

    qs = Account.objects.annotate(lower=Lower("username")).filter(lower=username.lower())
    holds = UsernameHold.objects.filter(username_lower=username.lower(), held_until__gt=timezone.now())
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
        holds = holds.exclude(account=exclude)
    return qs.exists() or holds.exists()


def check_username_free(username: str, *, account: Account | None = None) -> None:
    """A username to give `account` (or a new account): given, and neither used by another account nor
    released by someone else within the last 365 days."""
    if not username:
        raise ValidationError({"username": "A username is required."})
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
