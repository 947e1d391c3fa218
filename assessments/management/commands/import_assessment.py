"""Import one assessment from a JSON or YAML file (see assessments/demo/ for the format)."""

import json
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from assessments.services import assessment_import


def load_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            return yaml.safe_load(text)
        return json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CommandError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from exc


class Command(BaseCommand):
    help = "Create or replace (if nobody has taken it) an assessment from a .json, .yaml or .yml file."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        data = load_file(path)
        try:
            assessment, created = assessment_import(data=data)
        except ValidationError as exc:
            raise CommandError(f"{path} was not imported:\n  " + "\n  ".join(exc.messages)) from exc
        verb = "Created" if created else "Replaced"
        self.stdout.write(self.style.SUCCESS(f"{verb} {assessment.title} ({assessment.sections.count()} sections)."))
