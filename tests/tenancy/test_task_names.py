"""Every Celery task of Rollcall is named "<app>.<task>": one pattern, so a name in a log line or a
django-celery-beat schedule says where its code is."""

import importlib
import re
from pathlib import Path

from celery import current_app
from django.apps import apps as django_apps

ROOT = Path(__file__).resolve().parents[2]
# Rollcall's own apps: those whose code lives in this repository (a new app joins the rule by being installed).
APPS = sorted(a.name for a in django_apps.get_app_configs() if Path(a.path).resolve().is_relative_to(ROOT))
PATTERN = re.compile(rf"({'|'.join(APPS)})\.[a-z][a-z0-9_]*")


def test_every_task_is_named_app_dot_task():
    for app in APPS:
        for path in (ROOT / app).rglob("tasks.py"):
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    ours = [name for name in current_app.tasks if not name.startswith("celery.")]
    assert len(ours) >= 14
    assert [name for name in ours if not PATTERN.fullmatch(name)] == []
