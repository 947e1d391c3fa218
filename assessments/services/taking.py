"""Taking an assessment: start, submit a section, mark it, close it when time is up."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from assessments import selectors
from assessments.models import (
    Assessment,
    AssessmentProgress,
    Certificate,
    ProgressStatus,
    Question,
    Section,
    SectionAttempt,
)
from assessments.services.certificate_records import certificate_issue
from tenancy.models import School


class AssessmentClosed(Exception):
    """A submission refused, with a message for the person taking it."""


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
