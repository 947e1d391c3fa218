"""The retention page's reads: the schedule that applies to a school, what it will erase in the next 30 days,
and what it erased in the last 30 (tenancy.models.ErasureRecord: counts and why, never whom).

The forecast follows the rules the erasing code applies (provisioning/sync/leavers.py, provisioning/retention.py,
tenancy.services.job_reports_purge, pages/school_export.py); tests/pages/test_retention_page.py runs the
erasing code 30 days on and checks it did what the page said.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import Membership, PersonType
from provisioning.models import Feed, SyncPolicy, SyncRun, UploadBatch
from provisioning.retention import feeds_needed
from tenancy.models import ErasureRecord, Job, School

WINDOW_DAYS = 30
PERSON_TYPES = (PersonType.STUDENT, PersonType.STAFF, PersonType.CONTACT)
REASONS = {
    "leaver_policy": "Leaver policy",
    "deleted": "Deleted by hand",
    "expired": "Retention period over",
    "downloaded": "Downloaded (kept until then)",
}


@dataclass(frozen=True)
class ScheduleRow:
    what: str
    kept: str


@dataclass(frozen=True)
class CountRow:
    what: str
    count: int


def _policy(school: School) -> SyncPolicy:
    # Read, never made here: a page view writes nothing. A school with none has the defaults.
    return SyncPolicy.objects.filter(school=school).first() or SyncPolicy(school=school)


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def retention_schedule(*, school: School) -> list[ScheduleRow]:
    policy = _policy(school)
    rows = []
    for person_type in PERSON_TYPES:
        label = person_type.label
        grace = getattr(policy, f"{person_type.value}_grace_days")
        erase = getattr(policy, f"{person_type.value}_erase_days")
        rows.append(ScheduleRow(f"{label} who left", f"can sign in for {_days(grace)}, then archived"))
        rows.append(
            ScheduleRow(
                f"{label}: archived accounts",
                f"erased {_days(erase)} after they were archived" if erase else "kept (erasing is off)",
            )
        )
    rows += [
        ScheduleRow("Job reports", _days(settings.JOB_REPORT_RETENTION_DAYS) + " after the job finished"),
        ScheduleRow("Uploaded files (+Upload Users)", _days(settings.UPLOAD_FILE_RETENTION_DAYS) + " after applied"),
        ScheduleRow(
            "Stored MIS feeds",
            _days(settings.FEED_RETENTION_DAYS) + " after they arrived (the feeds the next sync reads are kept)",
        ),
        ScheduleRow("Starter-code sheets", "24 hours, or until downloaded"),
        ScheduleRow("School exports", _days(settings.SCHOOL_EXPORT_RETENTION_DAYS) + ", or until downloaded once"),
    ]
    return rows


def _leavers_due(school: School, policy: SyncPolicy, today, until) -> list[CountRow]:
    rows = []
    for person_type in PERSON_TYPES:
        grace = getattr(policy, f"{person_type.value}_grace_days")
        erase = getattr(policy, f"{person_type.value}_erase_days")
        people = Membership.objects.filter(
            school=school, person_type=person_type.value, account__deleted_at__isnull=True
        )
        archived = people.filter(status=Membership.Status.LEFT, left_on__lte=until - timedelta(grace)).count()
        rows.append(CountRow(f"{person_type.label} who left, to be archived", archived))
        if erase:
            erased = people.filter(
                Q(status=Membership.Status.ARCHIVED, archived_on__lte=until - timedelta(erase))
                # Left now: archived once the grace is over (on that night), then erased N days on.
                | Q(status=Membership.Status.LEFT, left_on__lte=until - timedelta(grace + erase))
            ).count()
            rows.append(CountRow(f"{person_type.label}: archived accounts to be erased", erased))
    return rows


def retention_due(*, school: School, now=None) -> list[CountRow]:
    """What the schedule will erase in the next WINDOW_DAYS, counted."""
    now = now or timezone.now()
    until = now + timedelta(days=WINDOW_DAYS)
    rows = _leavers_due(school, _policy(school), timezone.localdate(now), until.date())
    reports = Job.objects.filter(school=school).exclude(report="")
    rows.append(
        CountRow(
            "Job reports",
            reports.filter(finished_at__lte=until - timedelta(days=settings.JOB_REPORT_RETENTION_DAYS)).count(),
        )
    )
    upload_cutoff = until - timedelta(days=settings.UPLOAD_FILE_RETENTION_DAYS)
    done = (UploadBatch.State.APPLIED, UploadBatch.State.FAILED)
    uploads = (
        UploadBatch.objects.filter(school=school)
        .exclude(file="")
        .filter(
            Q(state=UploadBatch.State.PREVIEWED, created_at__lte=upload_cutoff)
            | Q(state__in=done, job__finished_at__lte=upload_cutoff)
            | Q(state__in=done, job__isnull=True, created_at__lte=upload_cutoff)
        )
    )
    rows.append(CountRow("Uploaded files", uploads.count()))
    feeds = Feed.objects.filter(school=school, received_at__lte=until - timedelta(days=settings.FEED_RETENTION_DAYS))
    rows.append(CountRow("Stored MIS feeds", feeds.exclude(pk__in=feeds_needed(school=school)).count()))
    sheets = SyncRun.objects.filter(school=school).exclude(credentials="").count()
    sheets += UploadBatch.objects.filter(school=school).exclude(credentials="").count()
    rows.append(CountRow("Starter-code sheets", sheets))
    rows.append(CountRow("School exports", reports.filter(kind=Job.Kind.SCHOOL_EXPORT).count()))
    return rows


@dataclass(frozen=True)
class ErasedRow:
    at: object
    what: str
    person_type: str
    why: str
    count: int


def _person_type_words(value: str) -> str:
    words = dict(PersonType.choices)
    return ", ".join(words.get(v, v) for v in value.split(",") if v) or ""


def erasure_report(*, school: School, now=None, days: int = WINDOW_DAYS) -> list[ErasedRow]:
    """Every erasure of the last `days`, newest first: when, what, person type, why, how many. No names."""
    since = (now or timezone.now()) - timedelta(days=days)
    return [
        ErasedRow(
            at=record.at,
            what=record.get_kind_display(),
            person_type=_person_type_words(record.person_type),
            why=REASONS.get(record.reason, record.reason.replace("_", " ").capitalize()),
            count=record.count,
        )
        for record in ErasureRecord.objects.filter(school=school, at__gte=since).order_by("-at")
    ]


def erased_counts(*, school: School, now=None, days: int = WINDOW_DAYS) -> list[CountRow]:
    since = (now or timezone.now()) - timedelta(days=days)
    totals = dict(
        ErasureRecord.objects.filter(school=school, at__gte=since)
        .order_by()
        .values("kind")
        .annotate(n=Sum("count"))
        .values_list("kind", "n")
    )
    return [CountRow(label, totals.get(kind, 0)) for kind, label in ErasureRecord.Kind.choices]
