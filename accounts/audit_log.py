"""The school's audit log as people read it: filtered, paged, every action and change in words, and exported to
.xlsx through the one safe writer (tenancy/spreadsheets.py). A school sees only its own events."""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import labels
from accounts.audit import audit_record
from accounts.models import Account, AuditEvent
from tenancy import spreadsheets
from tenancy.models import School

PER_PAGE = 50
# One export holds at most this many events (newest first); narrow the filters for older ones.
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class AuditFilters:
    person: str = ""  # a User Name (or part of one) the event is about
    actor: str = ""  # who did it: a User Name, or part of one
    action: str = ""  # one action code
    job: uuid.UUID | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def audit_events(*, school: School, filters: AuditFilters) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(school=school)
    if filters.person:
        # The label is the User Name at the time; the account's current one finds renamed people too.
        ids = Account.objects.filter(username__icontains=filters.person).values_list("pk", flat=True)[:200]
        events = events.filter(
            Q(target_label__icontains=filters.person) | Q(target_type="account", target_id__in=[str(i) for i in ids])
        )
    if filters.actor:
        events = events.filter(actor_label__icontains=filters.actor)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.job:
        events = events.filter(job_id=filters.job)
    if filters.date_from:
        events = events.filter(at__date__gte=filters.date_from)
    if filters.date_to:
        events = events.filter(at__date__lte=filters.date_to)
    return events.order_by("-at", "-pk")


def audit_actions(*, school: School) -> list[tuple[str, str]]:
    """The actions the school's log holds, in words, for the action filter."""
    codes = AuditEvent.objects.filter(school=school).values_list("action", flat=True).distinct().order_by()
    return sorted(((code, labels.action_label(code)) for code in set(codes)), key=lambda pair: pair[1])


@dataclass(frozen=True)
class AuditRow:
    at: dt.datetime
    action: str
    actor: str
    about: str
    changes: list[tuple[str, str, str]]
    job_id: uuid.UUID | None


def audit_rows(events, roles: dict[str, str] | None = None) -> list[AuditRow]:
    roles = roles if roles is not None else labels.role_names()
    return [
        AuditRow(
            at=event.at,
            action=labels.action_label(event.action),
            actor=labels.actor_words(event.actor_label),
            about=event.target_label,
            changes=labels.audit_changes(event.changes, roles),
            job_id=event.job_id,
        )
        for event in events
    ]


def audit_page(*, school: School, filters: AuditFilters, page) -> tuple[Page, list[AuditRow]]:
    paginator = Paginator(audit_events(school=school, filters=filters), PER_PAGE)
    current = paginator.get_page(page)
    return current, audit_rows(current.object_list)


def audit_xlsx(*, school: School, filters: AuditFilters) -> bytes:
    book = spreadsheets.workbook(write_only=True)
    sheet = book.create_sheet("Audit log")
    sheet.append(spreadsheets.text_cells(sheet, ["When", "What", "Who", "About", "Changes", "Job"]))
    events = audit_events(school=school, filters=filters)[:EXPORT_LIMIT]
    for row in audit_rows(events.iterator(chunk_size=2000)):
        changes = "; ".join(f"{label}: {old} → {new}" for label, old, new in row.changes)
        values = [
            timezone.localtime(row.at).strftime("%Y-%m-%d %H:%M:%S"),
            row.action,
            row.actor,
            row.about,
            changes,
            str(row.job_id or ""),
        ]
        sheet.append(spreadsheets.text_cells(sheet, values))
    return spreadsheets.xlsx_bytes(book)


def audit_log_export(*, school: School, actor: Account, filters: AuditFilters) -> bytes:
    """The filtered log as .xlsx; that it was exported (and with which filters) is itself logged."""
    body = audit_xlsx(school=school, filters=filters)
    used = {key: str(value) for key, value in vars(filters).items() if value}
    audit_record(
        action="data.audit_log.exported",
        actor=actor,
        school=school,
        target_type="school",
        target_id=str(school.pk),
        target_label=school.name,
        changes={"filters": [None, used]},
    )
    return body
