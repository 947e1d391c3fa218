"""Import assessment content (from JSON): validate it, then write it as one assessment."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.models import Role
from assessments.models import (
    Assessment,
    AssessmentProgress,
    Choice,
    Question,
    Section,
)

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
