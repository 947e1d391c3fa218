"""The reconciliation after an outage: what the service holds compared with what it should hold, as a plan that
waits for confirmation like a sync's dry run, then applied as planned."""

import logging
from collections import Counter

from django.db import transaction
from django.utils import timezone

from outbound import scim
from outbound.models import ScimRun, ScimTarget, ScimUser
from outbound.selectors import (
    DesiredUser,
    desired_users,
)
from outbound.services.push import user_create_or_link
from outbound.services.records import exchanges_record, run_finish
from outbound.services.targets import target_audit

log = logging.getLogger(__name__)


def plan_make(run: ScimRun, connection: scim.ScimConnection) -> None:
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
    exchanges_record(run, connection)
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
        run_finish(run, state=ScimRun.State.SUCCEEDED, counts=dict(counts))


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
        target_audit(
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
        target_audit(action="outbound.scim.reconciliation_cancelled", actor=actor, target=run.target, changes={})
    return bool(cancelled)


def plan_apply(run: ScimRun, connection: scim.ScimConnection) -> None:
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
            exchanges_record(run, connection, account_id=item["account_id"])
        run.progress_done = index + 1
        ScimRun.objects.filter(pk=run.pk).update(
            progress_done=run.progress_done, counts={**run.counts, "applied": dict(counts)}, heartbeat_at=timezone.now()
        )
    run_finish(run, state=ScimRun.State.SUCCEEDED, counts={**run.counts, "applied": dict(counts)})


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
        return user_create_or_link(connection, target, user)
    if item["changes"]:
        connection.user_patch(item["remote_id"], user)
    ScimUser.objects.update_or_create(
        target=target,
        account_id=aid,
        defaults={"remote_id": item["remote_id"], "fingerprint": user.fingerprint, "active": user.active},
    )
    return action
