"""Celery tasks of the pages that compose several apps: each only loads ids and calls one service."""

from celery import shared_task

from pages import school_export
from tenancy.services import for_each_school
from tenancy.tasks import run_school_job


@shared_task(name="pages.school_export")
def school_export_task(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, school_export.school_export_make)


@shared_task(name="pages.school_exports_purge")
def school_exports_purge() -> None:
    """An export nobody downloaded goes after SCHOOL_EXPORT_RETENTION_DAYS."""
    for_each_school(school_export.school_exports_purge)
