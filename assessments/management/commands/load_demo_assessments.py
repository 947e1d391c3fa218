"""The demo's invigilation assessments (called by load_demo; safe to run again)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from assessments.management.commands.import_assessment import load_file
from assessments.models import Assessment
from assessments.services import assessment_import

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Load the demo invigilation assessments (skips any already there)."

    def handle(self, *args, **options):
        for path in sorted(DEMO_DIR.glob("*.json")):
            data = load_file(path)
            if Assessment.objects.filter(code=data["code"]).exists():
                continue
            assessment, _ = assessment_import(data=data)
            self.stdout.write(f"Loaded assessment {assessment.title}.")
