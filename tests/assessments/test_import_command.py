import pytest
from django.core.management import CommandError, call_command

from assessments.models import Assessment

YAML = """
code: fire-safety
title: Fire Safety for Invigilators
type: timed
duration_minutes: 10
validity_months: 24
audience: [inv]
sections:
  - title: Evacuation
    pass_mark: 1
    questions:
      - text: The alarm sounds. What do you do first?
        choices:
          - {text: Stop the exam and note the time, correct: true}
          - {text: Let candidates finish the question}
"""


def test_it_imports_an_assessment_from_yaml(tmp_path, db):
    path = tmp_path / "fire.yaml"
    path.write_text(YAML, encoding="utf-8")
    call_command("import_assessment", str(path))
    assessment = Assessment.objects.get(code="fire-safety")
    assert (assessment.kind, assessment.duration_minutes, assessment.validity_months) == ("timed", 10, 24)
    assert list(assessment.audience_roles.values_list("code", flat=True)) == ["inv"]
    assert assessment.sections.get().questions.get().choices.filter(is_correct=True).count() == 1


def test_a_broken_file_is_refused_with_a_clear_message(tmp_path, db):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_assessment", str(path))


def test_the_demo_assessments_load_and_load_again_harmlessly(db):
    call_command("load_demo_assessments")
    call_command("load_demo_assessments")
    titles = set(Assessment.objects.values_list("title", flat=True))
    assert {"Invigilator Training 2026/27: Core", "Access Arrangements for Invigilators"} <= titles
    core = Assessment.objects.get(code="invigilator-core-2026-27")
    assert core.sections.count() == 4
    assert all(3 <= s.questions.count() <= 5 for s in core.sections.all())
