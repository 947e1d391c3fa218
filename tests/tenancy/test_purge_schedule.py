"""Every purge is a scheduled task: a purge nothing runs keeps what it was written to delete."""

import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
from celery import current_app
from django.apps import apps
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db
PRODUCT = ["accounts", "assessments", "pages", "provisioning", "signon", "tenancy"]


def _purge_tasks() -> set[str]:
    """Every Celery task of the project whose name says it purges (the convention: "..._purge")."""
    for config in apps.get_app_configs():
        for module in (f"{config.name}.tasks", *(f"{config.name}.{sub}.tasks" for sub in ("upload", "sync"))):
            try:
                found = importlib.util.find_spec(module)
            except ModuleNotFoundError:  # no such sub-package
                found = None
            if found is not None:
                importlib.import_module(module)
    return {name for name in current_app.tasks if name.rsplit(".", 1)[-1].endswith("_purge")}


def test_every_purge_task_is_scheduled_by_the_migrations():
    purges = _purge_tasks()
    assert {
        "tenancy.job_reports_purge",
        "provisioning.upload_credentials_purge",
        "provisioning.upload_files_purge",
        "provisioning.feeds_purge",
    } <= purges
    scheduled = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    assert purges - scheduled == set()


def test_each_scheduled_task_exists():
    """A schedule naming a task nobody defines would fail at every beat."""
    _purge_tasks()
    for task in PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True):
        assert task in current_app.tasks, task


ROOT = Path(__file__).resolve().parents[2]
PURGE_DEF = re.compile(r"^def (\w+_purge)\(", re.MULTILINE)
# Purges run by a scheduled task other than their own: the sync's credentials sheets go with each school's nightly work.
RUN_BY_ANOTHER = {"credentials_purge": "provisioning.sync.nightly.school_nightly"}


def test_every_purge_service_is_run_by_a_task():
    """A purge written as a service but called by no task would never run either."""
    tasks_source = "\n".join(p.read_text() for app in PRODUCT for p in (ROOT / app).rglob("tasks.py"))
    for app in PRODUCT:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "tasks.py":
                continue
            for name in PURGE_DEF.findall(path.read_text()):
                if name in RUN_BY_ANOTHER:
                    module, _, function = RUN_BY_ANOTHER[name].rpartition(".")
                    assert f"{name}(" in inspect.getsource(getattr(importlib.import_module(module), function))
                else:
                    assert re.search(rf"\b{name}\b", tasks_source), (
                        f"{path.relative_to(ROOT)}: {name} runs from no task"
                    )


def test_one_schools_failing_purge_never_stops_the_next_schools(school_a, school_b, caplog):
    from tenancy.services import for_each_school

    purged = []

    def purge(*, school):
        if school == school_a:
            raise RuntimeError("disk full")
        purged.append(school)
        return 1

    assert for_each_school(purge) == 1
    assert purged == [school_b]
    assert "purge failed for one school" in caplog.text
