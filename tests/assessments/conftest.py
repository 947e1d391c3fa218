"""Assessment fixtures: small content made through the same import service support staff use."""

import pytest

from assessments.services import assessment_import

AUDIENCE = ["inv", "eo", "slt", "centre_admin"]


def make_assessment(code="core", *, title="Invigilator Core", sections=2, questions=2, pass_mark=2, **extra):
    data = {
        "code": code,
        "title": title,
        "audience": AUDIENCE,
        "validity_months": 12,
        "sections": [
            {
                "title": f"Section {s}",
                "pass_mark": pass_mark,
                "questions": [
                    {
                        "text": f"S{s} question {q}",
                        "type": "multiple" if q == questions else "single",
                        "choices": [
                            {"text": "Right", "correct": True},
                            {"text": "Also right", "correct": q == questions},
                            {"text": "Wrong", "correct": False},
                        ],
                    }
                    for q in range(1, questions + 1)
                ],
            }
            for s in range(1, sections + 1)
        ],
        **extra,
    }
    assessment, _ = assessment_import(data=data)
    return assessment


def answers_for(section, *, right: bool = True) -> dict:
    """Every question of `section` answered right (or every one wrong)."""
    answers = {}
    for question in section.questions.prefetch_related("choices"):
        if right:
            answers[str(question.id)] = [str(c.id) for c in question.choices.all() if c.is_correct]
        else:
            answers[str(question.id)] = [str(c.id) for c in question.choices.all() if not c.is_correct]
    return answers


@pytest.fixture
def assessment(db):
    return make_assessment()


@pytest.fixture
def timed_assessment(db):
    return make_assessment("timed", title="Access Arrangements", type="timed", duration_minutes=20, sections=1)
