"""Reads that the assessment screens, the API and other apps share. The first argument is the school."""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Account, Membership, RoleAssignment
from accounts.permissions import ROLE_PERMISSIONS, Perm, permissions_for_roles
from accounts.selectors import role_codes_for
from assessments.models import (
    Assessment,
    AssessmentHidden,
    AssessmentProgress,
    Certificate,
    ProgressStatus,
    Section,
    SectionAttempt,
)
from tenancy.models import School

# A submission that left the browser just before the deadline still counts.
DEADLINE_GRACE = dt.timedelta(seconds=15)
EXPIRING_SOON = dt.timedelta(days=30)


def is_overdue(progress: AssessmentProgress, now: dt.datetime | None = None) -> bool:
    return bool(progress.deadline) and (now or timezone.now()) > progress.deadline + DEADLINE_GRACE


def effective_status(progress: AssessmentProgress | None, now: dt.datetime | None = None) -> str:
    """The status a person sees: a timed run past its deadline is Failed even before anyone submits."""
    if progress is None:
        return ProgressStatus.NOT_STARTED
    if progress.status == ProgressStatus.STARTED and is_overdue(progress, now):
        return ProgressStatus.FAILED
    return progress.status


def status_label(status: str) -> str:
    return ProgressStatus(status).label


# --- What a person may take ---------------------------------------------------------------------


def assessments_offered(*, school: School, account: Account, include_hidden: bool = False) -> list[Assessment]:
    """Active assessments whose audience includes one of the person's roles here, less the hidden ones."""
    roles = role_codes_for(school=school, account=account)
    qs = (
        Assessment.objects.filter(active=True, audience_roles__code__in=roles)
        .distinct()
        .annotate(section_count=Count("sections", distinct=True))
    )
    if not include_hidden:
        hidden = AssessmentHidden.objects.filter(school=school, account=account).values("assessment_id")
        qs = qs.exclude(id__in=hidden)
    return list(qs.order_by("sort_order", "title"))


def assessment_for_taker(*, school: School, account: Account, assessment_id) -> Assessment:
    """The assessment if this person may take it here; hidden or not offered raises DoesNotExist (a 404)."""
    for assessment in assessments_offered(school=school, account=account):
        if str(assessment.pk) == str(assessment_id):
            return assessment
    raise Assessment.DoesNotExist


def hidden_assessment_ids(*, school: School, account: Account) -> set:
    return set(AssessmentHidden.objects.filter(school=school, account=account).values_list("assessment_id", flat=True))


def may_take(*, school: School, account: Account) -> bool:
    return Perm.ASSESSMENTS_TAKE in permissions_for_roles(role_codes_for(school=school, account=account))


# --- Progress ---------------------------------------------------------------------------------------


def progress_get(*, school: School, account: Account, assessment: Assessment) -> AssessmentProgress | None:
    return AssessmentProgress.objects.filter(school=school, account=account, assessment=assessment).first()


def current_section(*, progress: AssessmentProgress, sections: list[Section]) -> Section | None:
    """The first section of the current run not yet passed; sections are answered in order."""
    if progress.status != ProgressStatus.STARTED:
        return None
    passed = set(
        SectionAttempt.objects.filter(
            school=progress.school_id, progress=progress, run=progress.run, passed=True
        ).values_list("section_id", flat=True)
    )
    for section in sections:
        if section.pk not in passed:
            return section
    return None


@dataclass
class AssessmentRow:
    assessment: Assessment
    progress: AssessmentProgress | None
    status: str
    sections_passed: int
    section_total: int
    certificate: Certificate | None = None
    hidden: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def result(self) -> str:
        return f"{self.sections_passed}/{self.section_total}"


def progress_rows(*, school: School, account: Account, include_hidden: bool = False) -> list[AssessmentRow]:
    """Per assessment open to the person (and any they have progress in): Status, Result, Certificate."""
    now = timezone.now()
    offered = assessments_offered(school=school, account=account, include_hidden=include_hidden)
    progress = {
        p.assessment_id: p
        for p in AssessmentProgress.objects.filter(school=school, account=account).select_related("assessment")
    }
    offered_ids = {a.pk for a in offered}
    extra = [
        a
        for a in Assessment.objects.filter(id__in=[k for k in progress if k not in offered_ids])
        .annotate(section_count=Count("sections"))
        .order_by("sort_order", "title")
    ]
    certificates = latest_certificates(school=school, account=account)
    hidden = hidden_assessment_ids(school=school, account=account)
    rows = []
    for assessment in offered + extra:
        p = progress.get(assessment.pk)
        status = effective_status(p, now)
        rows.append(
            AssessmentRow(
                assessment=assessment,
                progress=p,
                status=status,
                sections_passed=(
                    assessment.section_count if status == ProgressStatus.PASSED else (p.sections_passed if p else 0)
                ),
                section_total=assessment.section_count,
                certificate=certificates.get(assessment.pk),
                hidden=assessment.pk in hidden,
            )
        )
    return rows


def latest_certificates(*, school: School, account: Account) -> dict:
    """The current (valid) certificate per assessment for one person."""
    result = {}
    for c in Certificate.objects.filter(school=school, account=account, status=Certificate.Status.VALID).order_by(
        "issued_at"
    ):
        result[c.assessment_id] = c
    return result


@dataclass
class SectionRow:
    section: Section
    question_count: int
    status: str  # Not Started / Started / COMPLETED / FAILED
    mark: int | None
    out_of: int
    failed_attempts: int
    attempts: list[SectionAttempt] = field(default_factory=list)

    @property
    def passed_on(self) -> int | None:
        """Which go passed it (the seed's "Pass 2" means passed at the second go)."""
        for n, attempt in enumerate(self.attempts, start=1):
            if attempt.passed:
                return n
        return None


def section_rows(*, school: School, account: Account, assessment: Assessment) -> list[SectionRow]:
    progress = progress_get(school=school, account=account, assessment=assessment)
    sections = list(assessment.sections.annotate(question_count=Count("questions")).order_by("order"))
    attempts_by_section: dict = {}
    if progress is not None:
        for attempt in SectionAttempt.objects.filter(school=school, progress=progress).order_by("submitted_at"):
            attempts_by_section.setdefault(attempt.section_id, []).append(attempt)
    status = effective_status(progress)
    current = None
    if progress is not None and status == ProgressStatus.STARTED:
        current = current_section(progress=progress, sections=sections)
    rows = []
    for section in sections:
        attempts = attempts_by_section.get(section.pk, [])
        this_run = [a for a in attempts if progress and a.run == progress.run]
        shown = this_run or attempts
        if any(a.passed for a in this_run):
            label = "COMPLETED"
        elif this_run:
            label = "FAILED"
        elif current is not None and current.pk == section.pk:
            label = "Started"
        else:
            label = "Not Started"
        latest = shown[-1] if shown else None
        rows.append(
            SectionRow(
                section=section,
                question_count=section.question_count,
                status=label,
                mark=latest.mark if latest else None,
                out_of=section.question_count,
                failed_attempts=sum(1 for a in attempts if not a.passed),
                attempts=attempts,
            )
        )
    return rows


def section_attempts(*, school: School, account: Account, section: Section) -> list[SectionAttempt]:
    return list(
        SectionAttempt.objects.filter(school=school, progress__account=account, section=section).order_by(
            "submitted_at"
        )
    )


def started_membership_ids(*, school: School, membership_ids) -> set:
    """Memberships (of those given) whose person has started at least one assessment here: the Users list's Info."""
    account_ids = dict(
        Membership.objects.filter(school=school, id__in=list(membership_ids)).values_list("account_id", "id")
    )
    started = set(
        AssessmentProgress.objects.filter(school=school, account_id__in=account_ids, run__gt=0).values_list(
            "account_id", flat=True
        )
    )
    return {account_ids[a] for a in started}


# --- Certificates -------------------------------------------------------------------------------


def certificate_get(*, school: School, certificate_id) -> Certificate:
    return Certificate.objects.select_related("school", "account").get(school=school, id=certificate_id)


def certificate_by_code(code: str) -> Certificate | None:
    """The public verification page belongs to no school, so it looks across them: by unguessable code only."""
    with scopes_disabled():
        return Certificate.objects.select_related("school", "account").filter(code=code).first()


@dataclass(frozen=True)
class Verification:
    status: str  # Valid / Expired / Superseded / Revoked
    reason: str
    show_name: bool


def verification(certificate: Certificate, now: dt.datetime | None = None) -> Verification:
    now = now or timezone.now()
    holder_gone = certificate.account is None or certificate.account.deleted_at is not None
    if certificate.status == Certificate.Status.REVOKED:
        result = ("Revoked", certificate.status_reason)
    elif certificate.status == Certificate.Status.SUPERSEDED:
        result = ("Superseded", "A later pass of the same assessment replaced this certificate.")
    elif certificate.expires_at <= now:
        result = ("Expired", "")
    else:
        result = ("Valid", "")
    return Verification(status=result[0], reason=result[1], show_name=not holder_gone and bool(certificate.holder_name))


def certificates_for_zip(*, school: School, assessment_id=None) -> QuerySet[Certificate]:
    qs = Certificate.objects.filter(school=school, status=Certificate.Status.VALID).exclude(pdf="")
    if assessment_id:
        qs = qs.filter(assessment_id=assessment_id)
    return qs.order_by("assessment_title", "holder_name", "issued_at")


# --- User Summary -----------------------------------------------------------------------------------


@dataclass
class SummaryCell:
    status: str
    date: dt.datetime | None
    expires_at: dt.datetime | None
    certificate: Certificate | None
    expired: bool = False
    expiring: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.status)


@dataclass
class SummaryRow:
    membership: Membership
    cells: list[SummaryCell]


def summary_assessments(*, school: School) -> list[Assessment]:
    return list(Assessment.objects.filter(active=True).order_by("sort_order", "title"))


def summary_people(*, school: School) -> QuerySet[Membership]:
    """People who may take an assessment here, or have ever taken one."""
    take_roles = [code for code, perms in _role_perms().items() if Perm.ASSESSMENTS_TAKE in perms]
    taken = AssessmentProgress.objects.filter(school=school, run__gt=0).values("account_id")
    return (
        Membership.objects.filter(school=school)
        .exclude(status=Membership.Status.ARCHIVED)
        .filter(Q(role_assignments__role_id__in=take_roles) | Q(account_id__in=taken))
        .distinct()
        .select_related("account")
        .prefetch_related(Prefetch("role_assignments"))
        .order_by("account__family_name", "account__given_name", "account__username")
    )


@dataclass(frozen=True)
class SummaryFilter:
    """What the dashboard's training pictures link to: one assessment's people in one status, or the people
    whose certificate expires between two days from now."""

    assessment: Assessment | None = None
    status: str = ""
    expiring: tuple[int, int] | None = None

    def words(self) -> str:
        if self.expiring:
            return f"certificates expiring in {self.expiring[0] + 1}–{self.expiring[1]} days"
        if self.assessment and self.status:
            return f"{self.assessment.title}: {status_label(self.status)}"
        return ""

    def query(self) -> str:
        """The filter as the start of a query string (the pager keeps it): "" or "name=value&...&"."""
        if self.expiring:
            return f"expiring={self.expiring[0]}-{self.expiring[1]}&"
        if self.assessment and self.status:
            return f"assessment={self.assessment.pk}&status={self.status}&"
        return ""


def summary_filter(*, params) -> SummaryFilter:
    """The filter from a query string; anything it does not recognise is no filter (never an error)."""
    try:
        start, end = (int(n) for n in params.get("expiring", "").split("-"))
        if 0 <= start < end <= 3660:
            return SummaryFilter(expiring=(start, end))
    except ValueError:
        pass
    status = params.get("status", "")
    if status in ProgressStatus.values:
        try:
            assessment = Assessment.objects.filter(active=True, pk=params.get("assessment", "")).first()
        except (ValueError, ValidationError):
            assessment = None
        if assessment is not None:
            return SummaryFilter(assessment=assessment, status=status)
    return SummaryFilter()


def summary_people_filtered(*, school: School, filter: SummaryFilter) -> QuerySet[Membership]:
    """summary_people, narrowed by the filter with the same definitions as effective_status."""
    people = summary_people(school=school)
    now = timezone.now()
    if filter.expiring:
        start, end = filter.expiring
        certificates = Certificate.objects.filter(
            school=school,
            status=Certificate.Status.VALID,
            expires_at__gt=now + dt.timedelta(days=start),
            expires_at__lte=now + dt.timedelta(days=end),
        )
        return people.filter(account_id__in=certificates.values("account_id"))
    if not filter.assessment:
        return people
    progress = AssessmentProgress.objects.filter(school=school, assessment=filter.assessment)
    overdue = Q(status=ProgressStatus.STARTED, deadline__lt=now - DEADLINE_GRACE)
    wanted = {
        ProgressStatus.PASSED: progress.filter(status=ProgressStatus.PASSED),
        ProgressStatus.FAILED: progress.filter(Q(status=ProgressStatus.FAILED) | overdue),
        ProgressStatus.STARTED: progress.filter(status=ProgressStatus.STARTED).exclude(overdue),
    }
    if filter.status == ProgressStatus.NOT_STARTED:
        begun = progress.exclude(status=ProgressStatus.NOT_STARTED)
        return people.exclude(account_id__in=begun.values("account_id"))
    return people.filter(account_id__in=wanted[filter.status].values("account_id"))


def _role_perms():
    return ROLE_PERMISSIONS


def summary_rows(*, school: School, memberships, assessments: list[Assessment]) -> list[SummaryRow]:
    """Users × assessments: status, date (passed or started) and certificate expiry. Three queries per page."""
    now = timezone.now()
    memberships = list(memberships)
    account_ids = [m.account_id for m in memberships]
    progress = {
        (p.account_id, p.assessment_id): p
        for p in AssessmentProgress.objects.filter(school=school, account_id__in=account_ids)
    }
    certificates = {
        (c.account_id, c.assessment_id): c
        for c in Certificate.objects.filter(
            school=school, account_id__in=account_ids, status=Certificate.Status.VALID
        ).order_by("issued_at")
    }
    rows = []
    for membership in memberships:
        cells = []
        for assessment in assessments:
            p = progress.get((membership.account_id, assessment.pk))
            c = certificates.get((membership.account_id, assessment.pk))
            status = effective_status(p, now)
            date = c.issued_at if status == ProgressStatus.PASSED and c else (p.started_at if p else None)
            cells.append(
                SummaryCell(
                    status=status,
                    date=date,
                    expires_at=c.expires_at if c else None,
                    certificate=c,
                    expired=bool(c and c.expires_at <= now),
                    expiring=bool(c and now < c.expires_at <= now + EXPIRING_SOON),
                )
            )
        rows.append(SummaryRow(membership=membership, cells=cells))
    return rows


def training_completion(*, school: School) -> list[tuple[Assessment, dict[str, int]]]:
    """For the dashboard: per active assessment, how many of the people who may take it (User Summary's
    people) are Not Started, Started, Passed or Failed. Two queries."""
    now = timezone.now()
    account_ids = set(summary_people(school=school).values_list("account_id", flat=True))
    progress = AssessmentProgress.objects.filter(school=school, account_id__in=account_ids)
    by_pair = {(p.account_id, p.assessment_id): p for p in progress}
    result = []
    for assessment in summary_assessments(school=school):
        counts = {status.value: 0 for status in ProgressStatus}
        for account_id in account_ids:
            counts[effective_status(by_pair.get((account_id, assessment.pk)), now)] += 1
        result.append((assessment, counts))
    return result


def certificates_expiring(*, school: School, bands=(30, 60, 90)) -> list[tuple[int, int, int]]:
    """Valid certificates expiring in each band of days from now: [(from_day, to_day, count)]."""
    now = timezone.now()
    valid = Certificate.objects.filter(school=school, status=Certificate.Status.VALID, superseded_by__isnull=True)
    result, start = [], 0
    for end in bands:
        window = {"expires_at__gt": now + dt.timedelta(days=start), "expires_at__lte": now + dt.timedelta(days=end)}
        result.append((start, end, valid.filter(**window).count()))
        start = end
    return result


def training_by_school(*, schools) -> dict:
    """The trust console's training column: {school id: (people who passed every active assessment, people
    who may take one or have taken one: User Summary's people)}, for every school in three queries. Run inside
    scope(school=schools)."""
    take_roles = [code for code, perms in _role_perms().items() if Perm.ASSESSMENTS_TAKE in perms]
    takes = RoleAssignment.objects.filter(membership_id=OuterRef("pk"), role_id__in=take_roles)
    taken = AssessmentProgress.objects.filter(
        school=OuterRef("school_id"), account_id=OuterRef("account_id"), run__gt=0
    )
    people = (
        Membership.objects.filter(school__in=schools)
        .exclude(status=Membership.Status.ARCHIVED)
        .filter(Q(Exists(takes)) | Q(Exists(taken)))
        .values_list("school_id", "account_id")
        .distinct()
    )
    active = set(Assessment.objects.filter(active=True).values_list("pk", flat=True))
    passed: dict = {}
    rows = AssessmentProgress.objects.filter(
        school__in=schools, status=ProgressStatus.PASSED, assessment_id__in=active
    ).values_list("school_id", "account_id", "assessment_id")
    for school_id, account_id, assessment_id in rows:
        passed.setdefault((school_id, account_id), set()).add(assessment_id)
    result = {school.pk: (0, 0) for school in schools}
    for school_id, account_id in people:
        done, total = result[school_id]
        complete = bool(active) and passed.get((school_id, account_id), set()) >= active
        result[school_id] = (done + complete, total + 1)
    return result
