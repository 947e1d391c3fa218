"""Every write in assessments: import content, take (start, submit, mark), certificates, access, zips."""

import datetime as dt
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.audit import audit_record
from accounts.models import Account, Role
from accounts.permissions import AccountAction
from accounts.services import Actor, check_may_act_on_account
from assessments import certificates as rendering
from assessments import selectors
from assessments.models import (
    Assessment,
    AssessmentHidden,
    AssessmentProgress,
    Certificate,
    Choice,
    ProgressStatus,
    Question,
    Section,
    SectionAttempt,
)
from tenancy.models import Job, School
from tenancy.services import job_progress, job_start, job_succeed

log = logging.getLogger(__name__)

HOLDER_DELETED_REASON = "holder account deleted"


class AssessmentClosed(Exception):
    """A submission refused, with a message for the person taking it."""


# --- Content import -------------------------------------------------------------------------------


def assessment_validate(data) -> list[str]:
    """Every problem in an import file, each naming where it is, before anything is written."""
    errors: list[str] = []
    if not isinstance(data, dict):
        return ["The file must hold one assessment (a mapping), not a list or a value."]
    for key in ("code", "title", "sections"):
        if not data.get(key):
            errors.append(f"'{key}' is required.")
    kind = data.get("type", "untimed")
    if kind not in Assessment.Kind.values:
        errors.append(f"'type' must be timed or untimed, not {kind!r}.")
    duration = data.get("duration_minutes")
    if kind == "timed" and not (isinstance(duration, int) and duration > 0):
        errors.append("A timed assessment needs 'duration_minutes' (a whole number above 0).")
    validity = data.get("validity_months", 12)
    if not (isinstance(validity, int) and 0 < validity <= 120):
        errors.append("'validity_months' must be a whole number from 1 to 120.")
    known_roles = set(Role.objects.values_list("code", flat=True))
    for code in data.get("audience", []):
        if code not in known_roles:
            errors.append(f"audience: unknown role {code!r} (known: {', '.join(sorted(known_roles))}).")
    sections = data.get("sections") or []
    if not isinstance(sections, list):
        return errors + ["'sections' must be a list."]
    for s_no, section in enumerate(sections, start=1):
        where = f"section {s_no}"
        if not isinstance(section, dict) or not section.get("title"):
            errors.append(f"{where}: 'title' is required.")
            continue
        questions = section.get("questions") or []
        if not questions:
            errors.append(f"{where}: at least one question is required.")
        pass_mark = section.get("pass_mark", len(questions))
        if not (isinstance(pass_mark, int) and 0 < pass_mark <= len(questions)):
            errors.append(f"{where}: 'pass_mark' must be between 1 and the number of questions ({len(questions)}).")
        for q_no, question in enumerate(questions, start=1):
            q_where = f"{where}, question {q_no}"
            if not isinstance(question, dict) or not question.get("text"):
                errors.append(f"{q_where}: 'text' is required.")
                continue
            q_kind = question.get("type", "single")
            if q_kind not in Question.Kind.values:
                errors.append(f"{q_where}: 'type' must be single or multiple, not {q_kind!r}.")
            choices = question.get("choices") or []
            if len(choices) < 2:
                errors.append(f"{q_where}: at least two choices are required.")
            if any(not isinstance(c, dict) or not c.get("text") for c in choices):
                errors.append(f"{q_where}: every choice needs 'text'.")
                continue
            correct = sum(1 for c in choices if c.get("correct"))
            if correct == 0:
                errors.append(f"{q_where}: mark at least one choice as correct.")
            if q_kind == "single" and correct > 1:
                errors.append(f"{q_where}: a single-choice question has exactly one correct choice.")
    return errors


@transaction.atomic
def assessment_import(*, data: dict) -> tuple[Assessment, bool]:
    """Create an assessment from an import file, or replace one with the same code nobody has taken.

    Content that people have answered is never rewritten (their answers point at it): publish a new
    code instead. Returns (assessment, created).
    """
    errors = assessment_validate(data)
    if errors:
        raise ValidationError(errors)
    assessment = Assessment.objects.filter(code=data["code"]).first()
    created = assessment is None
    if not created:
        with scopes_disabled():  # content is global; attempts at any school count
            taken = AssessmentProgress.objects.filter(assessment=assessment).exclude(run=0).exists()
        if taken:
            raise ValidationError(
                f"{data['code']} has already been taken, so its questions cannot be replaced. "
                "Import it under a new code (e.g. with the year) and make the old one inactive."
            )
        assessment.sections.all().delete()
    else:
        assessment = Assessment(code=data["code"])
    assessment.title = data["title"]
    assessment.description = data.get("description", "")
    assessment.kind = data.get("type", Assessment.Kind.UNTIMED)
    assessment.duration_minutes = data.get("duration_minutes") if assessment.kind == Assessment.Kind.TIMED else None
    assessment.validity_months = data.get("validity_months", 12)
    assessment.active = bool(data.get("active", True))
    assessment.sort_order = data.get("sort_order", 0)
    assessment.save()
    assessment.audience_roles.set(data.get("audience", []))
    for s_no, s in enumerate(data["sections"], start=1):
        section = Section.objects.create(
            assessment=assessment,
            order=s_no,
            title=s["title"],
            introduction=s.get("introduction", ""),
            pass_mark=s.get("pass_mark", len(s["questions"])),
        )
        for q_no, q in enumerate(s["questions"], start=1):
            question = Question.objects.create(
                section=section, order=q_no, text=q["text"], kind=q.get("type", "single")
            )
            Choice.objects.bulk_create(
                Choice(question=question, order=c_no, text=c["text"], is_correct=bool(c.get("correct")))
                for c_no, c in enumerate(q["choices"], start=1)
            )
    return assessment, created


# --- Taking -----------------------------------------------------------------------------------------


def _progress_for(*, school: School, account: Account, assessment: Assessment) -> AssessmentProgress:
    progress, _ = AssessmentProgress.objects.select_for_update().get_or_create(
        school=school, account=account, assessment=assessment
    )
    return progress


@transaction.atomic
def assessment_start(
    *, school: School, account: Account, assessment: Assessment, now: dt.datetime | None = None
) -> AssessmentProgress:
    """Start (or start again) a run. Continuing a run that is still open changes nothing."""
    now = now or timezone.now()
    progress = _progress_for(school=school, account=account, assessment=assessment)
    if progress.status == ProgressStatus.STARTED and not selectors.is_overdue(progress, now):
        return progress
    progress.status = ProgressStatus.STARTED
    progress.run += 1
    progress.started_at = now
    progress.finished_at = None
    progress.sections_passed = 0
    progress.deadline = now + dt.timedelta(minutes=assessment.duration_minutes) if assessment.is_timed else None
    progress.save()
    return progress


def mark_answers(questions, answers: dict) -> tuple[int, dict[str, list[str]]]:
    """One mark per question answered exactly right; the answers cleaned to known choice ids.

    A multiple-choice question counts only when the chosen set equals the correct set, so ticking
    every box never scores.
    """
    mark = 0
    cleaned: dict[str, list[str]] = {}
    for question in questions:
        choice_ids = {str(c.id) for c in question.choices.all()}
        chosen = sorted({str(a) for a in answers.get(str(question.id), []) if str(a) in choice_ids})
        cleaned[str(question.id)] = chosen
        correct = sorted(str(c.id) for c in question.choices.all() if c.is_correct)
        if question.kind == Question.Kind.SINGLE and len(chosen) != 1:
            continue
        if chosen == correct:
            mark += 1
    return mark, cleaned


@dataclass(frozen=True)
class SubmitResult:
    attempt: SectionAttempt
    progress: AssessmentProgress
    certificate: Certificate | None


def section_submit(
    *,
    school: School,
    account: Account,
    assessment: Assessment,
    section: Section,
    answers: dict,
    now: dt.datetime | None = None,
    base_url: str = "",
) -> SubmitResult:
    """Mark a section on the server. A pass of the last section passes the assessment and issues a certificate.

    A timed run past its deadline is closed (Failed, kept) and the answers are not marked.
    """
    now = now or timezone.now()
    deadline = _close_if_overdue(school=school, account=account, assessment=assessment, now=now)
    if deadline is not None:
        raise AssessmentClosed(
            f"Time is up: this timed assessment closed at {timezone.localtime(deadline):%H:%M}. "
            "Your answers to this section were not marked. You can start again."
        )
    return _section_mark(
        school=school,
        account=account,
        assessment=assessment,
        section=section,
        answers=answers,
        now=now,
        base_url=base_url,
    )


@transaction.atomic
def _close_if_overdue(*, school: School, account: Account, assessment: Assessment, now: dt.datetime):
    """Records Failed for a timed run past its deadline (in its own transaction); returns the deadline if so."""
    progress = _progress_for(school=school, account=account, assessment=assessment)
    if progress.status != ProgressStatus.STARTED or not selectors.is_overdue(progress, now):
        return None
    progress.status = ProgressStatus.FAILED
    progress.finished_at = progress.deadline
    progress.save(update_fields=["status", "finished_at"])
    return progress.deadline


@transaction.atomic
def progress_close_if_overdue(*, school: School, account: Account, assessment: Assessment) -> bool:
    return _close_if_overdue(school=school, account=account, assessment=assessment, now=timezone.now()) is not None


@transaction.atomic
def _section_mark(
    *, school: School, account: Account, assessment: Assessment, section: Section, answers: dict, now, base_url: str
) -> SubmitResult:
    progress = _progress_for(school=school, account=account, assessment=assessment)
    if progress.status != ProgressStatus.STARTED:
        raise AssessmentClosed("This assessment is not in progress. Start it first.")
    sections = list(assessment.sections.all())
    current = selectors.current_section(progress=progress, sections=sections)
    if current is None or current.pk != section.pk:
        raise AssessmentClosed("That section is not the one to answer next.")
    questions = list(section.questions.prefetch_related("choices"))
    mark, cleaned = mark_answers(questions, answers)
    passed = mark >= section.pass_mark
    attempt = SectionAttempt.objects.create(
        school=school,
        progress=progress,
        section=section,
        run=progress.run,
        answers=cleaned,
        mark=mark,
        out_of=len(questions),
        passed=passed,
        submitted_at=now,
    )
    certificate = None
    if passed:
        progress.sections_passed += 1
        if progress.sections_passed >= len(sections):
            progress.status = ProgressStatus.PASSED
            progress.finished_at = now
            certificate = certificate_issue(school=school, progress=progress, now=now, base_url=base_url)
        progress.save()
    return SubmitResult(attempt=attempt, progress=progress, certificate=certificate)


# --- Certificates ---------------------------------------------------------------------------------


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError("unreachable")


def certificate_issue(
    *, school: School, progress: AssessmentProgress, now: dt.datetime, base_url: str = ""
) -> Certificate:
    """A new certificate for this pass; earlier valid ones for the same person and assessment are superseded.

    The PDF is rendered once, by a background job sent after this transaction commits.
    """
    assessment = progress.assessment
    account = progress.account
    attempts = {
        a.section_id: a
        for a in SectionAttempt.objects.filter(school=school, progress=progress, run=progress.run, passed=True)
    }
    section_marks = [
        {"title": s.title, "mark": attempts[s.pk].mark, "out_of": attempts[s.pk].out_of}
        for s in assessment.sections.all()
        if s.pk in attempts
    ]
    for _ in range(5):
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    school=school,
                    code=rendering.new_verification_code(),
                    account=account,
                    assessment=assessment,
                    holder_name=account.full_name,
                    assessment_title=assessment.title,
                    score=sum(m["mark"] for m in section_marks),
                    out_of=sum(m["out_of"] for m in section_marks),
                    section_marks=section_marks,
                    issued_at=now,
                    expires_at=_add_months(now, assessment.validity_months),
                )
            break
        except IntegrityError:  # a code collision, astronomically rare: draw again
            continue
    else:
        raise RuntimeError("Could not draw a unique verification code.")
    Certificate.objects.filter(
        school=school, account=account, assessment=assessment, status=Certificate.Status.VALID
    ).exclude(pk=certificate.pk).update(
        status=Certificate.Status.SUPERSEDED,
        status_reason="superseded by a later pass",
        status_changed_at=now,
        superseded_by=certificate,
    )
    audit_record(
        action="assessments.certificate.issued",
        actor=account,
        school=school,
        target=account,
        changes={"assessment": [None, assessment.title], "certificate": [None, certificate.code]},
    )
    certificate_pdf_start(school=school, certificate=certificate, actor=account, base_url=base_url)
    return certificate


def certificate_pdf_start(*, school: School, certificate: Certificate, actor=None, base_url: str = "") -> Job:
    from assessments.tasks import render_certificate_pdf  # cycle: a task calls back into these services

    return job_start(
        school=school,
        kind=Job.Kind.CERTIFICATE_PDF,
        actor=actor,
        params={"certificate_id": str(certificate.pk), "base_url": base_url},
        task=render_certificate_pdf,
        total=1,
    )


def certificate_pdf_render(job: Job) -> None:
    """The certificate_pdf job: render once and store. A certificate that already has its PDF is left alone."""
    certificate = Certificate.objects.select_related("school").get(school=job.school, pk=job.params["certificate_id"])
    if not certificate.pdf:
        pdf = rendering.certificate_pdf_bytes(certificate, base_url=job.params.get("base_url", ""))
        certificate.pdf.save(certificate.pdf_filename, ContentFile(pdf), save=False)
        certificate.pdf_rendered_at = timezone.now()
        Certificate.objects.filter(school=job.school, pk=certificate.pk).update(
            pdf=certificate.pdf.name, pdf_rendered_at=certificate.pdf_rendered_at
        )
    job_succeed(job, counts={"certificates": 1})


@transaction.atomic
def certificate_revoke(*, school: School, certificate: Certificate, actor: Account | None, reason: str) -> None:
    if not reason.strip():
        raise ValidationError("Give the reason for revoking; the verification page shows it.")
    Certificate.objects.filter(school=school, pk=certificate.pk).update(
        status=Certificate.Status.REVOKED, status_reason=reason.strip()[:200], status_changed_at=timezone.now()
    )
    audit_record(
        action="assessments.certificate.revoked",
        actor=actor,
        school=school,
        target_type="certificate",
        target_id=str(certificate.pk),
        target_label=certificate.code,
        changes={"status": [certificate.status, "revoked"], "reason": [None, reason]},
    )


@transaction.atomic
def certificates_revoke_for_deleted_holder(*, account: Account, actor: Account | None = None) -> int:
    """Call when an account is deleted: its certificates stay verifiable, revoked, with the name erased.

    The PDFs carry the name too, so they are removed. Runs across every school holding the person's
    certificates, which is why it steps outside the scope (deletion erases the person everywhere).
    """
    now = timezone.now()
    with scopes_disabled():
        certificates = list(Certificate.objects.filter(account=account))
        for certificate in certificates:
            if certificate.pdf:
                # Only once the erasure commits: a rolled-back deletion keeps its PDFs.
                transaction.on_commit(lambda f=certificate.pdf: f.storage.delete(f.name))
            audit_record(
                action="assessments.certificate.revoked",
                actor=actor,
                school=certificate.school,
                target_type="certificate",
                target_id=str(certificate.pk),
                target_label=certificate.code,
                changes={"status": [certificate.status, "revoked"], "reason": [None, HOLDER_DELETED_REASON]},
            )
        Certificate.objects.filter(pk__in=[c.pk for c in certificates]).update(
            status=Certificate.Status.REVOKED,
            status_reason=HOLDER_DELETED_REASON,
            status_changed_at=now,
            holder_name="",
            pdf="",
        )
    return len(certificates)


# --- Assessment Access ----------------------------------------------------------------------------


@transaction.atomic
def assessment_access_set(
    *, school: School, actor: Account, account: Account, hidden_assessment_ids: set
) -> dict[str, list[str]]:
    """Ticked = hidden. Only assessments that the person could be offered are considered."""
    check_may_act_on_account(
        actor=Actor(account=actor, school=school), account=account, action=AccountAction.ASSESSMENT_ACCESS
    )
    offered = {a.pk: a for a in selectors.assessments_offered(school=school, account=account, include_hidden=True)}
    wanted = {pk for pk in offered if str(pk) in {str(h) for h in hidden_assessment_ids}}
    current = set(
        AssessmentHidden.objects.filter(school=school, account=account, assessment_id__in=offered).values_list(
            "assessment_id", flat=True
        )
    )
    to_hide, to_show = wanted - current, current - wanted
    AssessmentHidden.objects.bulk_create(
        AssessmentHidden(school=school, account=account, assessment_id=pk, hidden_by=actor) for pk in to_hide
    )
    AssessmentHidden.objects.filter(school=school, account=account, assessment_id__in=to_show).delete()
    changes = {
        "hidden": sorted(offered[pk].title for pk in to_hide),
        "unhidden": sorted(offered[pk].title for pk in to_show),
    }
    if to_hide or to_show:
        audit_record(action="assessments.access.changed", actor=actor, school=school, target=account, changes=changes)
    return changes


# --- Bulk certificate download ------------------------------------------------------------------


def certificate_zip_start(*, school: School, actor: Account, assessment_id=None) -> Job:
    from assessments.tasks import build_certificate_zip  # cycle: a task calls back into these services

    params = {"assessment_id": str(assessment_id) if assessment_id else ""}
    total = selectors.certificates_for_zip(school=school, assessment_id=assessment_id).count()
    return job_start(
        school=school,
        kind=Job.Kind.CERTIFICATE_ZIP,
        actor=actor,
        params=params,
        task=build_certificate_zip,
        total=total,
    )


ZIP_PROGRESS_EVERY = 25


def certificate_zip_write(*, certificates, fileobj, on_progress=None) -> dict[str, int]:
    """Copy each stored PDF into a zip, chunk by chunk: memory stays flat however many there are.

    PDFs are already compressed, so entries are stored, not deflated again.
    """
    counts = {"added": 0, "missing_pdf": 0}
    names: set[str] = set()
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for n, certificate in enumerate(certificates, start=1):
            if not certificate.pdf:
                counts["missing_pdf"] += 1
            else:
                name = _zip_name(certificate, names)
                with certificate.pdf.open("rb") as source, archive.open(name, "w", force_zip64=False) as dest:
                    while chunk := source.read(64 * 1024):
                        dest.write(chunk)
                counts["added"] += 1
            if on_progress and n % ZIP_PROGRESS_EVERY == 0:
                on_progress(n)
    return counts


def _zip_name(certificate: Certificate, taken: set[str]) -> str:
    safe = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in certificate.holder_name or "withheld")
    title = "".join(ch if ch.isalnum() or ch in " .-_" else "_" for ch in certificate.assessment_title)
    name = f"{title.strip()[:60]}/{safe.strip()[:60]} {certificate.code}.pdf"
    taken.add(name)
    return name


def certificate_zip_build(job: Job) -> None:
    """The certificate_zip job: the zip is written to a temporary file, then moved to storage."""
    certificates = selectors.certificates_for_zip(school=job.school, assessment_id=job.params.get("assessment_id"))
    total = certificates.count()
    job_progress(job, done=0, total=total)
    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "w+b") as tmp:
            counts = certificate_zip_write(
                certificates=certificates.iterator(chunk_size=200),
                fileobj=tmp,
                on_progress=lambda done: job_progress(job, done=done),
            )
            tmp.seek(0)
            name = f"certificates-{job.school.slug}-{timezone.localdate():%Y%m%d}.zip"
            job.report.save(name, File(tmp, name=name), save=False)
            job.report_name = name
        job_succeed(job, counts=counts)
    finally:
        if os.path.exists(path):
            os.unlink(path)
