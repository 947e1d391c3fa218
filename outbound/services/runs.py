"""Runs: started one at a time per service, claimed by a conditional UPDATE, retried after an outage, failed
when their worker was lost; the periodic sweep and the pushes soon after a person may no longer sign in."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from outbound import scim
from outbound.models import ScimRun, ScimTarget, ScimUser
from outbound.secrets import TokenUnreadable
from outbound.selectors import (
    organisations_of,
    run_open,
    targets_enabled,
)
from outbound.services.push import push_execute
from outbound.services.reconcile import plan_apply, plan_make
from outbound.services.records import RetryLater, run_finish
from outbound.services.targets import exchanges_purge

log = logging.getLogger(__name__)


def run_start(*, target: ScimTarget, kind: str = ScimRun.Kind.PUSH, actor=None) -> ScimRun:
    """A run of the target, sent to a worker once the transaction commits; the open run when there is one
    already (one run at a time per service, so two never push the same account at once)."""
    from outbound import tasks  # cycle: the tasks call these services

    with transaction.atomic():
        ScimTarget.objects.select_for_update().filter(pk=target.pk).first()
        existing = run_open(target=target, kind=kind)
        if existing is not None:
            return existing
        run = ScimRun.objects.create(
            target=target, kind=kind, created_by=actor if actor is not None and actor.is_authenticated else None
        )
        task = tasks.push_task if kind == ScimRun.Kind.PUSH else tasks.reconcile_plan_task
        transaction.on_commit(lambda: task.delay(str(run.pk)))
    return run


def sweep() -> int:
    """The periodic sweep: a push for every enabled service with no run open. Returns how many were started."""
    runs_abandon()
    started = 0
    for target in targets_enabled():
        if run_open(target=target, kind=ScimRun.Kind.PUSH) is None:
            run_start(target=target)
            started += 1
    exchanges_purge()
    return started


def runs_abandon(*, now=None) -> int:
    """Runs whose worker or message was lost never finish by themselves: an open run (other than a plan waiting
    for a person) with no heartbeat for JOB_ABANDONED_AFTER is failed, so the next sweep pushes again. Safe
    because a push is idempotent; a reconciliation is planned again by whoever still needs it. A run waiting
    to be retried has its heartbeat written then, and waits at most 15 minutes (_retry_or_fail)."""
    now = now or timezone.now()
    waiting = [state for state in ScimRun.OPEN_STATES if state != ScimRun.State.NEEDS_CONFIRMATION]
    return (
        ScimRun.objects.alias(last_seen=Coalesce("heartbeat_at", "created_at"))
        .filter(state__in=waiting, last_seen__lt=now - settings.JOB_ABANDONED_AFTER)
        .update(
            state=ScimRun.State.FAILED,
            finished_at=now,
            error="The worker stopped before the run finished; the next sweep pushes again.",
        )
    )


def push_soon(*, account_ids: list, **_reason) -> None:
    """accounts.extensions.sign_in_ended and accounts.erasure.on_account_erased: a person locked out, un-approved,
    revoked or erased is pushed once the change commits, not at the next sweep. Only a task is sent here (no
    query in the caller's transaction); it finds the services concerned."""
    from outbound import tasks  # cycle: the tasks call these services

    ids = [str(pk) for pk in account_ids]
    if ids:
        transaction.on_commit(lambda: tasks.push_for_accounts_task.delay(ids))


def push_erased_soon(*, account, actor) -> None:
    push_soon(account_ids=[account.pk])


def push_for_accounts(*, account_ids: list) -> int:
    """A push for each enabled service of an organisation where these accounts hold a place (or held one: an
    erased account's row at the service is what must go). Returns how many were started."""
    organisations = organisations_of(account_ids=account_ids)
    mapped = set(ScimUser.objects.filter(account_id__in=account_ids).values_list("target_id", flat=True))
    started = 0
    for target in targets_enabled().filter(Q(service__organisation_id__in=organisations) | Q(pk__in=mapped)):
        if run_open(target=target, kind=ScimRun.Kind.PUSH) is None:
            run_start(target=target)
            started += 1
    return started


def _claim(run: ScimRun, *, states, to: str) -> bool:
    now = timezone.now()
    claimed = ScimRun.objects.filter(pk=run.pk, state__in=states).update(
        state=to, started_at=run.started_at or now, heartbeat_at=now, attempts=run.attempts + 1
    )
    if claimed:
        run.refresh_from_db()
    return bool(claimed)


def run_work(run_id) -> None:
    """What a task does with its run: claim it, do its part, and record the outcome. An outage leaves the run
    waiting to be retried (RetryLater) until SCIM_PUSH_RETRIES attempts were made; then it fails."""
    run = ScimRun.objects.select_related("target__service").filter(pk=run_id).first()
    if run is None:
        return
    if run.state == ScimRun.State.CONFIRMED:
        claimed = _claim(run, states=(ScimRun.State.CONFIRMED,), to=ScimRun.State.APPLYING)
        work = plan_apply
    else:
        claimed = _claim(run, states=(ScimRun.State.QUEUED, ScimRun.State.RETRYING), to=ScimRun.State.RUNNING)
        work = push_execute if run.kind == ScimRun.Kind.PUSH else plan_make
    if not claimed:
        log.info("SCIM run %s already taken or finished; nothing to do", run.pk)
        return
    if not run.target.enabled:
        return run_finish(run, state=ScimRun.State.CANCELLED, error="The SCIM push of this service is switched off.")
    try:
        connection = scim.ScimConnection(run.target)
    except TokenUnreadable as exc:
        return run_finish(run, state=ScimRun.State.FAILED, error=str(exc))
    try:
        work(run, connection)
    except scim.Transient as exc:
        _retry_or_fail(run, str(exc))
    except scim.Refused as exc:
        run_finish(run, state=ScimRun.State.FAILED, error=str(exc))
    except RetryLater:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run for support; the mappings written so far stand
        log.exception("SCIM run %s failed", run.pk)
        run_finish(run, state=ScimRun.State.FAILED, error=f"The run stopped with an error: {type(exc).__name__}.")
    finally:
        connection.close()


def _retry_or_fail(run: ScimRun, message: str) -> None:
    if run.attempts >= settings.SCIM_PUSH_RETRIES:
        run_finish(run, state=ScimRun.State.FAILED, error=f"{message} Gave up after {run.attempts} attempts.")
        return
    # An apply goes back to confirmed (it resumes at progress_done), a push or plan to waiting to retry.
    again = ScimRun.State.CONFIRMED if run.state == ScimRun.State.APPLYING else ScimRun.State.RETRYING
    ScimRun.objects.filter(pk=run.pk).update(
        state=again, error=f"{message} Will try again.", heartbeat_at=timezone.now()
    )
    raise RetryLater(countdown=min(900, 30 * 2 ** (run.attempts - 1)))
