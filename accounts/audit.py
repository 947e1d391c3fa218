"""The audit log writer. Services call it inside their transaction; nothing else writes events."""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from accounts.models import Account, AuditEvent

SECRET_FIELDS = {"password", "starter_code", "token", "secret", "api_key"}
MASK = "••••••"


# Who acts when no person does: an organisation's SCIM token (scim/) is a credential, not an account, yet its
# changes must name it. Services keep taking an Actor; the label reaches every event they write from here.
_ACTING_AS: ContextVar[str] = ContextVar("rollcall_audit_acting_as", default="")


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """While this runs, events written with no acting account name `label` as their actor."""
    reset = _ACTING_AS.set(label)
    try:
        yield
    finally:
        _ACTING_AS.reset(reset)


def _actor_label(actor, job) -> str:
    return getattr(actor, "username", "") or _ACTING_AS.get() or ("system" if job is None else f"job {job.pk}")


@functools.lru_cache(maxsize=512)
def _is_secret(field: str) -> bool:
    # Cached (bounded: the names are the code's own, but need not stay so): a bulk job masks the same few field
    # names tens of thousands of times (an upload's 30,000 events).
    return any(s in field for s in SECRET_FIELDS)


def masked(changes: dict[str, Any]) -> dict[str, Any]:
    return {field: [MASK, MASK] if _is_secret(field) else value for field, value in changes.items()}


def audit_record(
    *,
    action: str,
    actor: Account | None,
    school=None,
    target: Account | None = None,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    changes: dict[str, Any] | None = None,
    job=None,
) -> AuditEvent:
    if target is not None:
        target_type, target_id, target_label = "account", str(target.pk), target.username
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=_actor_label(actor, job),
        school=school,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        changes=masked(changes or {}),
        job=job,
    )


def audit_record_many(
    *, action: str, actor: Account | None, school=None, targets: list[tuple[Account, dict[str, Any]]], job=None
) -> None:
    """One event per account, written in one INSERT: bulk jobs (Revoke Access, Welcome Email) change
    thousands of accounts, and their query count must grow with batches, not people."""
    actor_label = _actor_label(actor, job)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action=action,
                actor=actor if actor is not None and actor.is_authenticated else None,
                actor_label=actor_label,
                school=school,
                target_type="account",
                target_id=str(account.pk),
                target_label=account.username,
                changes=masked(changes or {}),
                job=job,
            )
            for account, changes in targets
        ]
    )


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    return {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}
