"""Reads of the MIS sync that screens and the API share. The first argument is the school."""

import io

from django.db.models import Count, OuterRef, QuerySet, Subquery

from accounts.labels import role_names
from accounts.models import AuditEvent, Membership, RoleAssignment
from provisioning.models import Feed, SchoolNightly, SyncRecord, SyncRun
from provisioning.sync import guard, labels
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


def run_rows_left_out(run: SyncRun) -> list[dict]:
    """The rows of the run's feed that were left out, each with its file, row, column and reason; their people
    are kept as they are (the run's skipped records say so per person)."""
    if run.feed is None or run.feed.state != Feed.State.VALID:
        return []
    keys = (("file", ""), ("row", None), ("column", ""), ("message", ""))
    return [{key: problem.get(key, blank) for key, blank in keys} for problem in run.feed.errors or []]


def labelled_counts(counts: dict) -> list[dict]:
    """The run's counts in words, each once, with the outcome it filters the records by (people only)."""
    rows = []
    for key, n in ordered_counts(counts):
        filterable = key in OUTCOME_ORDER and key != "unchanged"
        rows.append({"key": key, "label": labels.count_label(key), "count": n, "filter": key if filterable else ""})
    return rows


def _name(given, family, code) -> str:
    name = f"{given or ''} {family or ''}".strip()
    return f"{name} ({code})" if name and code else name or code or ""


def _people_named(*, school: School, run: SyncRun, records: list[SyncRecord]) -> tuple[dict, dict]:
    """Names for the people a page of records mentions, by membership id and by (person type, MIS code): from
    the registry, or, for a preview's newcomers, from the run's own records."""
    ids, codes = set(), set()
    for r in records:
        ends = {**r.before, **r.after}
        ids.update(str(v) for k, v in ends.items() if k in ("contact_membership_id", "student_membership_id") and v)
        if r.membership_id:
            ids.add(str(r.membership_id))
        if r.entity == "link" and r.mis_code:
            codes.add(("contact", r.mis_code))
        if ends.get("student_code"):
            codes.add(("student", ends["student_code"]))
    by_id, by_code = {}, {}
    for r in records:  # newcomers carry their names: a first import's page needs no query for them
        if r.entity == "person" and r.outcome == SyncRecord.Outcome.CREATE and r.membership_id:
            name = _name(r.after.get("given_name"), r.after.get("family_name"), r.mis_code)
            by_id[str(r.membership_id)] = by_code[(r.person_type, r.mis_code)] = name
    ids -= set(by_id)
    codes -= set(by_code)
    if not ids and not codes:
        return by_id, by_code
    rows = Membership.objects.filter(school=school, id__in=ids) if ids else Membership.objects.none()
    if codes:
        rows = rows | Membership.objects.filter(school=school, mis_code__in={c for _t, c in codes})
    for m in rows.values("id", "person_type", "mis_code", "account__given_name", "account__family_name"):
        name = _name(m["account__given_name"], m["account__family_name"], m["mis_code"])
        by_id[str(m["id"])] = name
        by_code[(m["person_type"], m["mis_code"])] = name
    missing = ids - set(by_id)
    if missing or codes - set(by_code):
        newcomers = SyncRecord.objects.filter(
            school=school, run=run, entity="person", outcome=SyncRecord.Outcome.CREATE
        )
        for r in newcomers.filter(membership_id__in=missing) | newcomers.filter(
            mis_code__in={c for _t, c in codes - set(by_code)}
        ):
            name = _name(r.after.get("given_name"), r.after.get("family_name"), r.mis_code)
            by_id.setdefault(str(r.membership_id), name)
            by_code.setdefault((r.person_type, r.mis_code), name)
    return by_id, by_code


def record_rows(*, school: School, run: SyncRun, records) -> list[dict]:
    """A page of records as the preview shows them: outcome and fields in words, link rows naming both people."""
    records = list(records)
    roles = role_names()
    by_id, by_code = _people_named(school=school, run=run, records=records)
    rows = []
    for r in records:
        ends = {**r.before, **r.after}
        row = {
            "outcome": r.outcome,
            "entity": r.entity,
            "outcome_label": labels.outcome_label(
                "joined"
                if r.entity == "person" and r.outcome == "create" and r.after.get("existing_account")
                else r.outcome,
                r.entity,
            ),
            "person_type": labels.person_type_label(r.person_type),
            "mis_code": r.mis_code,
            "username": r.username,
            "reason": r.reason,
            "changes": labels.record_changes(r, roles),
            "record": r,
            "name": "",
            "contact": "",
            "student": "",
        }
        if r.entity == "link":
            row["contact"] = (
                by_id.get(str(ends.get("contact_membership_id", "")))
                or by_code.get(("contact", r.mis_code))
                or r.mis_code
            )
            student_code = ends.get("student_code", "")
            row["student"] = (
                by_id.get(str(ends.get("student_membership_id", "")))
                or by_code.get(("student", student_code))
                or student_code
            )
            row["changes"] = [c for c in row["changes"] if c[0] != labels.field_label("student_code")]
        else:
            # A newcomer carries both names; a change carries only the part that changed (a new family name),
            # so the person is named as the registry holds them, the change shown beside.
            given, family = r.after.get("given_name"), r.after.get("family_name")
            held = by_id.get(str(r.membership_id), "")
            row["name"] = _name(given, family, "") if (given and family) or not held else held
            if row["name"].endswith(f"({r.mis_code})"):
                row["name"] = row["name"][: -len(r.mis_code) - 3]
        rows.append(row)
    return rows


def run_report_csv(*, school: School, run: SyncRun) -> bytes:
    """The run's records, one column per field (before and after), the counts and warnings in words."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(labels.csv_header())
    roles = role_names()
    records = run_records(school=school, run=run)
    for start in range(0, records.count(), 2000):
        for row in record_rows(school=school, run=run, records=records[start : start + 2000]):
            writer.writerow(
                [
                    row["outcome_label"],
                    row["person_type"],
                    row["mis_code"],
                    row["username"],
                    row["name"],
                    row["contact"],
                    row["student"],
                    row["reason"],
                    *labels.csv_field_cells(row["record"], roles),
                ]
            )
    writer.writerow([])
    writer.writerow(["Counts"])
    for count in labelled_counts(run.counts):
        writer.writerow([count["label"], count["count"]])
    if run.counts.get(CONTACTS_TO_REVOKE):
        writer.writerow([labels.count_label(CONTACTS_TO_REVOKE), run.counts[CONTACTS_TO_REVOKE]])
    for warning in run_warnings(run):
        writer.writerow(["Warning", warning])
    left_out = run_rows_left_out(run)
    if left_out:
        writer.writerow([])
        writer.writerow(["Rows left out", "File", "Row", "Column", "Reason"])
        for e in left_out:
            writer.writerow(["Row left out", e.get("file", ""), e.get("row") or "", e.get("column", ""),
                             e.get("message", "")])  # fmt: skip
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


def sync_overview_by_school(*, schools) -> dict:
    """The trust console's sync columns, for every school at once (three queries, whatever their number):
    {school id: {"last_run": the school's latest SyncRun or None, "runs_waiting": n, "feeds_failed": n}}, with
    the dashboard's definitions (attention_counts). Run inside scope(school=schools)."""
    from datetime import timedelta

    from django.utils import timezone

    ids = [school.pk for school in schools]
    latest = SyncRun.objects.filter(school=OuterRef("pk")).order_by("-created_at").values("pk")[:1]
    last_ids = School.objects.filter(pk__in=ids).annotate(last=Subquery(latest)).values("last")
    overview: dict = {pk: {"last_run": None, "runs_waiting": 0, "feeds_failed": 0} for pk in ids}
    for run in SyncRun.objects.filter(pk__in=last_ids):
        overview[run.school_id]["last_run"] = run
    waiting = SyncRun.objects.filter(school__in=ids, state=SyncRun.State.NEEDS_CONFIRMATION)
    for row in waiting.values("school_id").annotate(n=Count("id")).order_by():
        overview[row["school_id"]]["runs_waiting"] = row["n"]
    failed = Feed.objects.filter(
        school__in=ids, state=Feed.State.REJECTED, received_at__gte=timezone.now() - timedelta(days=7)
    )
    for row in failed.values("school_id").annotate(n=Count("id")).order_by():
        overview[row["school_id"]]["feeds_failed"] = row["n"]
    return overview
