"""Writes of the SCIM push: configuring a service's endpoint, starting runs, the push itself (a sweep that sends
what changed since the last push, by fingerprint), and the reconciliation after an outage (plan, then apply on
confirmation).

Idempotent by design: a user is created only when no ScimUser row maps the account, changed only when its
fingerprint differs from the one last pushed, and the row is written right after the service answered. A run
redelivered, retried after an outage or started twice sends only what is still different: a replay sends nothing.
"""

import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.audit import audit_record
from outbound import scim
from outbound.models import ScimExchange, ScimGroup, ScimRun, ScimTarget, ScimUser
from outbound.secrets import TokenUnreadable, token_encrypt
from outbound.selectors import (
    DesiredUser,
    desired_groups,
    desired_users,
    fingerprint,
    organisations_of,
    run_open,
    targets_enabled,
)

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The run stopped on an outage and waits to be retried after `countdown` seconds."""

    def __init__(self, countdown: int):
        super().__init__(countdown)
        self.countdown = countdown


# --- Configuration -----------------------------------------------------------------------------------------


def target_check(*, service, endpoint: str) -> None:
    if service.organisation_id is None:
        raise ValidationError(
            "SCIM push is for a service of one organisation: a shared service would receive every "
            "organisation's people."
        )
    if not endpoint.startswith(("https://", "http://")):
        raise ValidationError("The SCIM endpoint URL must start with https://.")


def target_token_set(*, target: ScimTarget, token: str) -> None:
    """A new bearer token, kept encrypted; an empty one leaves the token as it is."""
    if token:
        target.token_encrypted = token_encrypt(token.strip())


def _audit_target(*, action: str, actor, target: ScimTarget, changes: dict) -> None:
    audit_record(
        action=action,
        actor=actor,
        target_type="connected_service",
        target_id=str(target.service_id),
        target_label=target.service.name,
        changes=changes,
    )


# --- Runs --------------------------------------------------------------------------------------------------


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
        work = _apply
    else:
        claimed = _claim(run, states=(ScimRun.State.QUEUED, ScimRun.State.RETRYING), to=ScimRun.State.RUNNING)
        work = _push if run.kind == ScimRun.Kind.PUSH else _plan
    if not claimed:
        log.info("SCIM run %s already taken or finished; nothing to do", run.pk)
        return
    if not run.target.enabled:
        return _finish(run, state=ScimRun.State.CANCELLED, error="The SCIM push of this service is switched off.")
    try:
        connection = scim.ScimConnection(run.target)
    except TokenUnreadable as exc:
        return _finish(run, state=ScimRun.State.FAILED, error=str(exc))
    try:
        work(run, connection)
    except scim.Transient as exc:
        _retry_or_fail(run, str(exc))
    except scim.Refused as exc:
        _finish(run, state=ScimRun.State.FAILED, error=str(exc))
    except RetryLater:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded on the run for support; the mappings written so far stand
        log.exception("SCIM run %s failed", run.pk)
        _finish(run, state=ScimRun.State.FAILED, error=f"The run stopped with an error: {type(exc).__name__}.")
    finally:
        connection.close()


def _retry_or_fail(run: ScimRun, message: str) -> None:
    if run.attempts >= settings.SCIM_PUSH_RETRIES:
        _finish(run, state=ScimRun.State.FAILED, error=f"{message} Gave up after {run.attempts} attempts.")
        return
    # An apply goes back to confirmed (it resumes at progress_done), a push or plan to waiting to retry.
    again = ScimRun.State.CONFIRMED if run.state == ScimRun.State.APPLYING else ScimRun.State.RETRYING
    ScimRun.objects.filter(pk=run.pk).update(
        state=again, error=f"{message} Will try again.", heartbeat_at=timezone.now()
    )
    raise RetryLater(countdown=min(900, 30 * 2 ** (run.attempts - 1)))


def _finish(run: ScimRun, *, state: str, error: str = "", counts: dict | None = None) -> None:
    run.state, run.error, run.finished_at = state, error, timezone.now()
    if counts is not None:
        run.counts = counts
    run.save(update_fields=["state", "error", "finished_at", "counts", "plan", "progress_done", "progress_total"])


def _progress(run: ScimRun, *, done: int, total: int, counts: Counter) -> None:
    run.progress_done, run.progress_total, run.counts = done, total, dict(counts)
    ScimRun.objects.filter(pk=run.pk).update(
        progress_done=done, progress_total=total, counts=run.counts, heartbeat_at=timezone.now()
    )


def _log(run: ScimRun, connection: scim.ScimConnection, account_id=None) -> None:
    if connection.recorded:
        ScimExchange.objects.bulk_create(
            ScimExchange(
                target_id=run.target_id, run=run, account_id=account_id, method=x.method[:10], path=x.path,
                status=x.status, sent=x.sent, answered=x.answered,
            )
            for x in connection.recorded
        )  # fmt: skip
        connection.recorded.clear()


# --- The push ------------------------------------------------------------------------------------------------


def _push(run: ScimRun, connection: scim.ScimConnection) -> None:
    target = run.target
    desired = desired_users(target=target)
    mapped = {str(m.account_id): m for m in ScimUser.objects.filter(target=target)}
    work = [aid for aid, user in desired.items() if aid not in mapped or mapped[aid].fingerprint != user.fingerprint]
    work += [aid for aid in mapped if aid not in desired]
    counts: Counter = Counter()
    batch = max(1, settings.SCIM_PUSH_BATCH)
    for start in range(0, len(work), batch):
        for aid in work[start : start + batch]:
            try:
                counts[_push_one(connection, target, desired.get(aid), mapped.get(aid), account_id=aid)] += 1
            except (scim.Transient, scim.Refused):
                raise
            except scim.PushError as exc:
                counts["refused"] += 1
                why = {"service": target.service.name, "why": str(exc)}
                log.warning("SCIM push refused for one account", extra=why)
            finally:
                _log(run, connection, account_id=aid)
        _progress(run, done=min(start + batch, len(work)), total=len(work), counts=counts)
    if target.push_groups:
        counts.update(_push_groups(run, connection, desired))
    _finish(run, state=ScimRun.State.SUCCEEDED, counts=dict(counts) or {"unchanged": len(desired)})


def _push_one(connection, target: ScimTarget, user: DesiredUser | None, row: ScimUser | None, *, account_id) -> str:
    if user is None:
        try:
            connection.user_delete(row.remote_id)
        except scim.NotFound:
            pass  # gone already: what a delete wanted
        row.delete()
        return "deleted"
    if row is None:
        return _create(connection, target, user)
    try:
        connection.user_patch(row.remote_id, user)
    except scim.NotFound:
        row.delete()  # the service lost it: made again
        return _create(connection, target, user)
    outcome = "deactivated" if row.active and not user.active else "changed"
    ScimUser.objects.filter(pk=row.pk).update(
        fingerprint=user.fingerprint, active=user.active, pushed_at=timezone.now()
    )
    return outcome


def _create(connection, target: ScimTarget, user: DesiredUser) -> str:
    try:
        remote_id = connection.user_create(user)
        outcome = "created"
    except scim.Conflict:
        # Held already: a create whose answer was lost, or a person the service knew before Rollcall pushed.
        found = connection.user_find(user.account_id, user.user_name)
        if found is None:
            raise scim.Rejected("The service says the user exists but does not find it.", 409) from None
        remote_id = found.id
        connection.user_patch(remote_id, user)
        outcome = "linked"
    ScimUser.objects.update_or_create(
        target=target,
        account_id=user.account_id,
        defaults={"remote_id": remote_id, "fingerprint": user.fingerprint, "active": user.active},
    )
    return outcome


def _push_groups(run: ScimRun, connection: scim.ScimConnection, desired: dict[str, DesiredUser]) -> Counter:
    target = run.target
    counts: Counter = Counter()
    remote_ids = dict(ScimUser.objects.filter(target=target).values_list("account_id", "remote_id"))
    remote_ids = {str(k): v for k, v in remote_ids.items()}
    wanted = {}
    for key, group in desired_groups(target=target, users=desired).items():
        members = sorted(remote_ids[a] for a in group.account_ids if a in remote_ids)
        if members:
            wanted[key] = (group, members, fingerprint({"name": group.display_name, "members": members}))
    mapped = {g.key: g for g in ScimGroup.objects.filter(target=target)}
    for key, (group, members, print_) in wanted.items():
        row = mapped.get(key)
        try:
            if row is None:
                ScimGroup.objects.create(
                    target=target, key=key, remote_id=connection.group_create(group, members), fingerprint=print_
                )
                counts["groups_created"] += 1
            elif row.fingerprint != print_:
                connection.group_replace(row.remote_id, group, members)
                ScimGroup.objects.filter(pk=row.pk).update(fingerprint=print_, pushed_at=timezone.now())
                counts["groups_changed"] += 1
        except (scim.Transient, scim.Refused):
            raise
        except scim.PushError as exc:
            counts["groups_refused"] += 1
            log.warning("SCIM group push refused", extra={"service": target.service.name, "why": str(exc)})
        finally:
            _log(run, connection)
    for key, row in mapped.items():
        if key not in wanted:
            try:
                connection.group_delete(row.remote_id)
            except scim.NotFound:
                pass
            finally:
                _log(run, connection)
            row.delete()
            counts["groups_deleted"] += 1
    return counts


# --- Reconciliation ------------------------------------------------------------------------------------------


def _plan(run: ScimRun, connection: scim.ScimConnection) -> None:
    """What the service holds (a paged list), compared with what it should hold: the difference as a plan,
    waiting for confirmation like a sync's dry run. Users the service holds that are not Rollcall's (no
    mapping, no externalId of an account of this service, no userName of one) are left alone."""
    target = run.target
    desired = desired_users(target=target)
    mapped = {str(m.account_id): m for m in ScimUser.objects.filter(target=target)}
    by_remote = {m.remote_id: aid for aid, m in mapped.items()}
    by_name = {u.user_name.lower(): aid for aid, u in desired.items() if aid not in mapped}
    plan, seen, counts = [], set(), Counter()
    for remote in connection.users_list():
        aid = by_remote.get(remote.id)
        if aid is None and remote.external_id in desired and remote.external_id not in mapped:
            aid = remote.external_id
        if aid is None:
            aid = by_name.get((remote.user_name or "").lower())
        if aid is None or aid in seen:
            counts["not_rollcall"] += 1
            continue
        seen.add(aid)
        user = desired.get(aid)
        if user is None:
            plan.append(_item("delete", aid, remote.id, remote.user_name, {}))
            continue
        held = scim.user_attributes(remote)
        changes = {k: [held[k], v] for k, v in user.attributes().items() if held[k] != v}
        linked = aid in mapped and mapped[aid].remote_id == remote.id
        if changes or not linked:
            plan.append(_item("change" if linked else "link", aid, remote.id, user.user_name, changes, user))
        else:
            counts["same"] += 1
    _log(run, connection)
    for aid, user in desired.items():
        if aid not in seen:
            plan.append(_item("create", aid, "", user.user_name, {}, user))
    for aid, row in mapped.items():
        if aid not in seen and aid not in desired:
            counts["gone_already"] += 1  # mapped, not desired, not held: only the mapping is dropped on apply
            plan.append(_item("forget", aid, row.remote_id, "", {}))
    counts.update(item["action"] for item in plan)
    run.plan, run.progress_done, run.progress_total = plan, 0, len(plan)
    if plan:
        run.state, run.counts = ScimRun.State.NEEDS_CONFIRMATION, dict(counts)
        run.save(update_fields=["plan", "state", "counts", "progress_done", "progress_total"])
    else:
        _finish(run, state=ScimRun.State.SUCCEEDED, counts=dict(counts))


def _item(action: str, account_id: str, remote_id: str, user_name: str, changes: dict, user=None) -> dict:
    return {
        "action": action,
        "account_id": account_id,
        "remote_id": remote_id,
        "user_name": user_name or "",
        "changes": changes,
        "after": user.attributes() if user else None,
    }


@transaction.atomic
def reconcile_confirm(*, run: ScimRun, actor) -> bool:
    """A person confirms the planned reconciliation: it is applied as planned by a worker."""
    from outbound import tasks  # cycle: the tasks call these services

    confirmed = ScimRun.objects.filter(pk=run.pk, state=ScimRun.State.NEEDS_CONFIRMATION).update(
        state=ScimRun.State.CONFIRMED, attempts=0
    )
    if confirmed:
        _audit_target(
            action="outbound.scim.reconciliation_confirmed",
            actor=actor,
            target=run.target,
            changes={"planned": [None, run.counts]},
        )
        transaction.on_commit(lambda: tasks.reconcile_apply_task.delay(str(run.pk)))
    return bool(confirmed)


@transaction.atomic
def reconcile_cancel(*, run: ScimRun, actor) -> bool:
    cancelled = ScimRun.objects.filter(pk=run.pk, state=ScimRun.State.NEEDS_CONFIRMATION).update(
        state=ScimRun.State.CANCELLED, finished_at=timezone.now()
    )
    if cancelled:
        _audit_target(action="outbound.scim.reconciliation_cancelled", actor=actor, target=run.target, changes={})
    return bool(cancelled)


def _apply(run: ScimRun, connection: scim.ScimConnection) -> None:
    """The stored plan, item by item from where it stopped (progress_done): nothing is decided again."""
    target = run.target
    counts: Counter = Counter(run.counts.get("applied", {}))
    items = run.plan
    for index in range(run.progress_done, len(items)):
        item = items[index]
        try:
            counts[_apply_one(connection, target, item)] += 1
        except (scim.Transient, scim.Refused):
            raise
        except scim.PushError as exc:
            counts["refused"] += 1
            log.warning("SCIM reconciliation item refused", extra={"service": target.service.name, "why": str(exc)})
        finally:
            _log(run, connection, account_id=item["account_id"])
        run.progress_done = index + 1
        ScimRun.objects.filter(pk=run.pk).update(
            progress_done=run.progress_done, counts={**run.counts, "applied": dict(counts)}, heartbeat_at=timezone.now()
        )
    _finish(run, state=ScimRun.State.SUCCEEDED, counts={**run.counts, "applied": dict(counts)})


def _apply_one(connection, target: ScimTarget, item: dict) -> str:
    action, aid = item["action"], item["account_id"]
    if action in ("delete", "forget"):
        if action == "delete":
            try:
                connection.user_delete(item["remote_id"])
            except scim.NotFound:
                pass
        ScimUser.objects.filter(target=target, account_id=aid).delete()
        return action
    after = item["after"]
    user = DesiredUser(
        account_id=aid,
        user_name=after["userName"],
        given_name=after["givenName"],
        family_name=after["familyName"],
        email=after["email"],
        active=after["active"],
    )
    if action == "create":
        ScimUser.objects.filter(target=target, account_id=aid).delete()
        return _create(connection, target, user)
    if item["changes"]:
        connection.user_patch(item["remote_id"], user)
    ScimUser.objects.update_or_create(
        target=target,
        account_id=aid,
        defaults={"remote_id": item["remote_id"], "fingerprint": user.fingerprint, "active": user.active},
    )
    return action


# --- The log -------------------------------------------------------------------------------------------------


def exchanges_purge(*, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.SCIM_LOG_RETENTION_DAYS)
    deleted, _ = ScimExchange.objects.filter(at__lt=cutoff).delete()
    return deleted


def exchanges_blank_for_erased(*, account, actor) -> None:
    """accounts.erasure.on_account_erased: what was sent and answered about an erased person is blanked (the
    method, path and status stay, so the log still shows that a push happened)."""
    ScimExchange.objects.filter(account_id=account.pk).exclude(Q(sent="") & Q(answered="")).update(
        sent="", answered="(erased)"
    )
