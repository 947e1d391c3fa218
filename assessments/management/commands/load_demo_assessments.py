"""The demo's invigilation assessments (called by load_demo; safe to run again), and the Northfield and
Riverside staff's progress with them: passes, a failed attempt, a run that timed out (Failed), and a
certificate expiring within 30 days, so that progress, certificates and the dashboard's training pictures
have something to show."""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from accounts.models import Account
from assessments.management.commands.import_assessment import load_file
from assessments.models import Assessment, AssessmentProgress
from assessments.services import assessment_import
from assessments.services.taking import assessment_start, section_submit
from tenancy.models import School

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Load the demo invigilation assessments (skips any already there) and the demo staff's progress."

    def handle(self, *args, **options):
        for path in sorted(DEMO_DIR.glob("*.json")):
            data = load_file(path)
            if Assessment.objects.filter(code=data["code"]).exists():
                continue
            assessment, _ = assessment_import(data=data)
            self.stdout.write(f"Loaded assessment {assessment.title}.")
        with scopes_disabled():
            schools = {s.slug: s for s in School.objects.filter(slug__in=["northfield", "riverside"])}
        if len(schools) == 2:
            self._progress(schools)

    def _progress(self, schools):
        assessments = list(Assessment.objects.filter(active=True).order_by("sort_order", "title"))
        if not assessments:
            return
        now = timezone.now()
        first, rest = assessments[0], assessments[1:]
        northfield = schools["northfield"]
        with scope(school=northfield):
            if AssessmentProgress.objects.filter(school=northfield).exists():
                return  # loaded before
            for assessment in assessments:
                _pass(northfield, "eo.northfield", assessment, now - dt.timedelta(days=40))
            # Passed so long ago that the certificate expires within 30 days.
            expiring = now - _months(first.validity_months) + dt.timedelta(days=20)
            _pass(northfield, "inv.northfield", first, expiring)
            for assessment in rest:
                _fail_once(northfield, "inv.northfield", assessment, now - dt.timedelta(days=3))
            _fail_once(northfield, "slt.northfield", first, now - dt.timedelta(days=1))
            _pass(northfield, "demo.admin", first, now - _months(first.validity_months) + dt.timedelta(days=50))
        riverside = schools["riverside"]
        with scope(school=riverside):
            _pass(riverside, "inv.riverside", first, now - dt.timedelta(days=10))
        self.stdout.write("Loaded the demo staff's assessment progress.")


def _months(months: int) -> dt.timedelta:
    return dt.timedelta(days=round(months * 30.44))


def _answers(section, *, right: bool) -> dict:
    answers = {}
    for question in section.questions.prefetch_related("choices"):
        choices = list(question.choices.all())
        picked = [c for c in choices if c.is_correct == right] or choices[:1]
        answers[str(question.id)] = [str(c.id) for c in (picked if right else picked[:1])]
    return answers


def _account(username) -> Account | None:
    return Account.objects.filter(username=username).first()


def _pass(school, username, assessment, when) -> None:
    account = _account(username)
    if account is None:
        return
    assessment_start(school=school, account=account, assessment=assessment, now=when)
    for n, section in enumerate(assessment.sections.order_by("order")):
        section_submit(
            school=school,
            account=account,
            assessment=assessment,
            section=section,
            answers=_answers(section, right=True),
            now=when + dt.timedelta(minutes=5 * (n + 1)),
        )


def _fail_once(school, username, assessment, when) -> None:
    """Started, the first section failed once (a Failed Attempt), then left there."""
    account = _account(username)
    if account is None:
        return
    assessment_start(school=school, account=account, assessment=assessment, now=when)
    section = assessment.sections.order_by("order").first()
    if section is not None:
        section_submit(
            school=school,
            account=account,
            assessment=assessment,
            section=section,
            answers=_answers(section, right=False),
            now=when + dt.timedelta(minutes=5),
        )
