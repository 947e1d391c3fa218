"""Writes of the SCIM push: configuring a service's endpoint, starting runs, the push itself (a sweep that sends
what changed since the last push, by fingerprint), and the reconciliation after an outage (plan, then apply on
confirmation).

Idempotent by design: a user is created only when no ScimUser row maps the account, changed only when its
fingerprint differs from the one last pushed, and the row is written right after the service answered. A run
redelivered, retried after an outage or started twice sends only what is still different: a replay sends nothing.
"""

from outbound.services.reconcile import reconcile_cancel, reconcile_confirm
from outbound.services.records import RetryLater
from outbound.services.runs import (
    push_erased_soon,
    push_for_accounts,
    push_soon,
    run_start,
    run_work,
    runs_abandon,
    sweep,
)
from outbound.services.targets import exchanges_blank_for_erased, exchanges_purge, target_check, target_token_set

__all__ = [
    "RetryLater",
    "exchanges_blank_for_erased",
    "exchanges_purge",
    "push_erased_soon",
    "push_for_accounts",
    "push_soon",
    "reconcile_cancel",
    "reconcile_confirm",
    "run_start",
    "run_work",
    "runs_abandon",
    "sweep",
    "target_check",
    "target_token_set",
]
