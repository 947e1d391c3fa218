"""The push: what changed since the last push (by fingerprint), sent user by user, groups after them."""

import logging
from collections import Counter

from django.conf import settings
from django.utils import timezone

from outbound import scim
from outbound.models import ScimGroup, ScimRun, ScimTarget, ScimUser
from outbound.selectors import (
    DesiredUser,
    desired_groups,
    desired_users,
    fingerprint,
)
from outbound.services.records import exchanges_record, run_finish, run_progress

log = logging.getLogger(__name__)


def push_execute(run: ScimRun, connection: scim.ScimConnection) -> None:
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
                exchanges_record(run, connection, account_id=aid)
        run_progress(run, done=min(start + batch, len(work)), total=len(work), counts=counts)
    if target.push_groups:
        counts.update(_push_groups(run, connection, desired))
    run_finish(run, state=ScimRun.State.SUCCEEDED, counts=dict(counts) or {"unchanged": len(desired)})


def _push_one(connection, target: ScimTarget, user: DesiredUser | None, row: ScimUser | None, *, account_id) -> str:
    if user is None:
        try:
            connection.user_delete(row.remote_id)
        except scim.NotFound:
            pass  # gone already: what a delete wanted
        row.delete()
        return "deleted"
    if row is None:
        return user_create_or_link(connection, target, user)
    try:
        connection.user_patch(row.remote_id, user)
    except scim.NotFound:
        row.delete()  # the service lost it: made again
        return user_create_or_link(connection, target, user)
    outcome = "deactivated" if row.active and not user.active else "changed"
    ScimUser.objects.filter(pk=row.pk).update(
        fingerprint=user.fingerprint, active=user.active, pushed_at=timezone.now()
    )
    return outcome


def user_create_or_link(connection, target: ScimTarget, user: DesiredUser) -> str:
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
            exchanges_record(run, connection)
    for key, row in mapped.items():
        if key not in wanted:
            try:
                connection.group_delete(row.remote_id)
            except scim.NotFound:
                pass
            finally:
                exchanges_record(run, connection)
            row.delete()
            counts["groups_deleted"] += 1
    return counts
