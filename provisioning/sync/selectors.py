"""Reads of the MIS sync that screens and the API share. The first argument is the school."""

import io
import json

from django.db.models import QuerySet

from accounts.models import AuditEvent, Membership, RoleAssignment
from provisioning.models import Feed, SchoolNightly, SyncRecord, SyncRun
from provisioning.sync import guard
from tenancy.models import School
from tenancy.spreadsheets import csv_writer

_O = SyncRecord.Outcome
OUTCOME_ORDER = [
    o.value for o in (_O.CREATE, _O.UPDATE, _O.TRANSFER, _O.ARCHIVE, _O.REACTIVATE, _O.SKIPPED, _O.UNCHANGED)
]
# A run's counts of contact links are the outcome's name with link_ before it (SyncPlan.add).
LINK_OUTCOMES = [f"link_{o.value}" for o in (_O.CREATE, _O.UPDATE, _O.ARCHIVE, _O.SKIPPED, _O.UNCHANGED)]
CONTACTS_TO_REVOKE = "contacts_to_revoke"  # in run.counts: contacts the run moves into Ready to Revoke Access


def run_get(*, school: School, run_id) -> SyncRun:
    return SyncRun.objects.select_related("feed", "job", "created_by", "confirmed_by").get(school=school, id=run_id)


def run_list(*, school: School, limit: int = 50) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(school=school).select_related("feed", "job", "created_by")[:limit]


def latest_open_run(*, school: School) -> SyncRun | None:
    return (
        SyncRun.objects.filter(
            school=school,
            state__in=[
                SyncRun.State.PLANNED,
                SyncRun.State.NEEDS_CONFIRMATION,
                SyncRun.State.QUEUED,
                SyncRun.State.PLANNING,
                SyncRun.State.APPLYING,
            ],  # fmt: skip
        )
        .select_related("job")
        .first()
    )


def credentials_taken(*, school: School, run: SyncRun) -> dict | None:
    """Who downloaded the run's starter codes and when (their audit event), once they have been taken."""
    if run.credentials_downloaded_at is None:
        return None
    event = (
        AuditEvent.objects.filter(
            school=school,
            action="provisioning.sync_run.credentials_downloaded",
            target_type="sync_run",
            target_id=str(run.pk),
        )
        .select_related("actor")
        .first()
    )
    by = (event.actor.full_name if event and event.actor else event.actor_label if event else "") or "someone"
    return {"by": by, "at": run.credentials_downloaded_at}


def feed_list(*, school: School, limit: int = 10) -> QuerySet[Feed]:
    return Feed.objects.filter(school=school).select_related("received_by")[:limit]


def feed_get(*, school: School, feed_id) -> Feed:
    return Feed.objects.get(school=school, id=feed_id)


def ordered_counts(counts: dict) -> list[tuple[str, int]]:
    """People's outcomes first in a fixed order, then contact links."""
    return [(k, counts[k]) for k in OUTCOME_ORDER + LINK_OUTCOMES if counts.get(k)]


def run_records(*, school: School, run: SyncRun, outcome: str = "", entity: str = "") -> QuerySet[SyncRecord]:
    qs = SyncRecord.objects.filter(school=school, run=run).order_by("id")
    if outcome:
        qs = qs.filter(outcome=outcome)
    if entity:
        qs = qs.filter(entity=entity)
    return qs


def records_for_account(*, school: School, account_id) -> QuerySet[SyncRecord]:
    """An account's history in the syncs of this school: the per-record audit trail."""
    return SyncRecord.objects.filter(school=school, account_id=account_id).select_related("run").order_by("-id")


def run_warnings(run: SyncRun) -> list[str]:
    """The run's warnings, in words a data manager can act on."""
    count = (run.counts or {}).get(CONTACTS_TO_REVOKE, 0)
    if not guard.exceeds(count, run.guard_threshold):
        return []
    contacts = "contact" if count == 1 else "contacts"
    return [
        f"This run moves {count:,} {contacts} into Ready to Revoke Access (more than the {run.guard_threshold:,} "
        "allowed without a warning). Check the students archived in this run before revoking them in "
        "Account Manager."
    ]


def run_report_csv(*, school: School, run: SyncRun) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["Outcome", "Kind", "Person type", "MIS Code", "User Name", "Reason", "Before", "After"])
    for r in (
        run_records(school=school, run=run)
        .values_list("outcome", "entity", "person_type", "mis_code", "username", "reason", "before", "after")
        .iterator(chunk_size=2000)
    ):
        writer.writerow([*r[:6], json.dumps(r[6], ensure_ascii=False), json.dumps(r[7], ensure_ascii=False)])
    writer.writerow([])
    for key, n in ordered_counts(run.counts):
        writer.writerow(["count", key, "", "", "", "", "", n])
    if run.counts.get(CONTACTS_TO_REVOKE):
        writer.writerow(["count", CONTACTS_TO_REVOKE, "", "", "", "", "", run.counts[CONTACTS_TO_REVOKE]])
    for warning in run_warnings(run):
        writer.writerow(["warning", "", "", "", "", warning, "", ""])
    return out.getvalue().encode("utf-8-sig")


def nominated_contact_emails(*, school: School) -> list[str]:
    """Who hears about a run that needs a person's eye: the school's current nominated contacts."""
    return sorted(
        set(
            RoleAssignment.objects.filter(
                school=school, role_id="nominated_contact", membership__status=Membership.Status.ACTIVE
            )
            .exclude(membership__account__email="")
            .values_list("membership__account__email", flat=True)
        )
    )


def attention_counts(*, school: School) -> dict[str, int]:
    """For the dashboard: sync runs waiting for a confirmation, and feeds rejected in the last 7 days."""
    from datetime import timedelta

    from django.utils import timezone

    return {
        "runs_waiting": SyncRun.objects.filter(school=school, state=SyncRun.State.NEEDS_CONFIRMATION).count(),
        "feeds_failed": Feed.objects.filter(
            school=school, state=Feed.State.REJECTED, received_at__gte=timezone.now() - timedelta(days=7)
        ).count(),
    }


def nightly_failure(*, school: School) -> SchoolNightly | None:
    """The school's nightly work as it last failed, until it next succeeds (provisioning.sync.services)."""
    return SchoolNightly.objects.filter(school=school, failed_at__isnull=False).first()
