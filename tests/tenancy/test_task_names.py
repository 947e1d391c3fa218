"""Every Celery task of Rollcall is named "<app>.<task>": one pattern, so a name in a log line or a
django-celery-beat schedule says where its code is."""

import importlib
import re
from pathlib import Path

from celery import current_app

ROOT = Path(__file__).resolve().parents[2]
APPS = ["tenancy", "accounts", "provisioning", "assessments", "pages"]
PATTERN = re.compile(rf"({'|'.join(APPS)})\.[a-z][a-z0-9_]*")


def test_every_task_is_named_app_dot_task():
    for app in APPS:
        for path in (ROOT / app).rglob("tasks.py"):
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    ours = [name for name in current_app.tasks if not name.startswith("celery.")]
    assert len(ours) >= 14
    assert [name for name in ours if not PATTERN.fullmatch(name)] == []
