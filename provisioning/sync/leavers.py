"""Leaver timers: leavers past their grace period archived, archived leavers past their time erased.

Run each night for every school (nightly.py), whether or not it syncs: a school that uploads or syncs by
hand has leavers too. The sync itself only marks people as leavers (sync_plan.py, apply.py).
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Membership
from accounts.services import Actor, account_delete
from provisioning.models import SyncPolicy
from provisioning.sync.apply import deactivate_if_nothing_left
from provisioning.sync.policy import policy_for
from tenancy.models import School

PERSON_TYPES = ("student", "staff", "contact")


def leaver_timers(*, school: School, today=None, policy: SyncPolicy | None = None, due: bool | None = None) -> dict:
    """Leavers past their grace period are archived (cannot sign in); archived leavers past their erase time
    are erased. `policy` when the caller read it already, `due` when it asked already whether any leaver is
    past their grace (leavers_past_grace: the school's nightly task asks with its other questions)."""
    today = today or timezone.localdate()
    policy = policy or policy_for(school)
    if due is None and not _erase_filter(policy, today):
        due = _past_grace(school, policy, today).exists()
    if not _erase_filter(policy, today) and not due:
        # Most nights of most schools: nothing due, known in one read, without a transaction.
        return {"archived": 0, "erased": 0}
    return _leaver_timers(school=school, today=today, policy=policy)


def leavers_past_grace(school, cutoffs: dict):
    """The school's leavers past their grace period, whom leaver_timers archives (a query, not read): those whose
    leaving date is on or before their person type's cut-off (grace_cutoffs)."""
    # One query for the three person types (each with its own grace period): every school runs this nightly.
    past_grace = Q()
    for person_type in PERSON_TYPES:
        past_grace |= Q(person_type=person_type, left_on__lte=cutoffs[person_type])
    return Membership.objects.filter(past_grace, school=school, status=Membership.Status.LEFT)


def grace_cutoffs(policy: SyncPolicy, today) -> dict:
    """Per person type, the last leaving date whose grace period is over today."""
    return {pt: today - timedelta(getattr(policy, f"{pt}_grace_days")) for pt in PERSON_TYPES}


def _past_grace(school: School, policy: SyncPolicy, today):
    return leavers_past_grace(school, grace_cutoffs(policy, today))


def _erase_filter(policy: SyncPolicy, today) -> Q:
    """Archived memberships past their person type's "erase after N days" (0 = never); empty Q when never."""
    past_time = Q()
    for person_type in PERSON_TYPES:
        if days := getattr(policy, f"{person_type}_erase_days"):
            past_time |= Q(person_type=person_type, archived_on__lte=today - timedelta(days))
    return past_time


@transaction.atomic
def _leaver_timers(*, school: School, today, policy: SyncPolicy) -> dict:
    moved = 0
    due = _past_grace(school, policy, today)
    account_ids = list(due.values_list("account_id", flat=True))
    if account_ids:
        moved = due.update(status=Membership.Status.ARCHIVED, archived_on=today, updated_at=timezone.now())
        deactivate_if_nothing_left(account_ids)
    erased = _erase_due(school=school, policy=policy, today=today)
    if moved:
        audit_record(
            action="provisioning.sync.leavers_archived",
            actor=None,
            school=school,
            target_type="school",
            target_id=str(school.pk),
            target_label=school.name,
            changes={"archived": [None, moved]},
        )
    return {"archived": moved, "erased": erased}


class _PolicyTimer(Actor):
    """The school's own leaver policy erasing people it archived long enough ago (audited as such)."""

    @property
    def is_support(self) -> bool:
        return True


def _erase_due(*, school: School, policy: SyncPolicy, today) -> int:
    """Archived leavers past "erase after N days" (0 = never) are erased, unless they hold another live
    membership (here or at another school): then only the due membership is removed. Erased accounts'
    sync records lose the personal data too."""
    erased = 0
    past_time = _erase_filter(policy, today)
    if not past_time:  # "never" for every person type
        return 0
    due = Membership.objects.filter(
        past_time, school=school, status=Membership.Status.ARCHIVED, account__deleted_at__isnull=True
    ).select_related("account")
    gone = set()  # a person with two due memberships is erased once (read in one query, before either)
    for membership in due:
        if membership.account_id in gone:
            continue
        timer = _PolicyTimer(account=None, school=school)
        if account_delete(school=school, actor=timer, account=membership.account, membership=membership):
            erased += 1
            gone.add(membership.account_id)
    return erased
