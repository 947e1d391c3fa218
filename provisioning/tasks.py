"""Celery tasks of the MIS sync: each only loads ids and calls one service.

Every task of Rollcall is named "<app>.<task>" (provisioning.sync_scheduled_tick); a rename of a task that
django-celery-beat runs needs a data migration of its PeriodicTask (provisioning migration 0013)."""

from datetime import datetime
from functools import partial

from celery import shared_task
from django.utils import timezone

from provisioning import retention
from provisioning.sync import nightly, oneroster_rest, services, starter_slips
from tenancy.services import for_each_school
from tenancy.tasks import run_school_job, run_school_job_step


@shared_task(name="provisioning.sync_run_job")
def sync_run_job(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.sync_run_job)


@shared_task(name="provisioning.sync_credentials_prepare")
def sync_credentials_prepare(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, starter_slips.credentials_prepare, fail=starter_slips.credentials_parts_fail)


@shared_task(name="provisioning.sync_credentials_part")
def sync_credentials_part(school_id: str, job_id: str, attempt: int, index: int) -> None:
    """One PDF of the job's slips, on whichever worker is free (starter_slips.credentials_prepare)."""
    work = partial(starter_slips.credentials_part, attempt=attempt, index=index)
    run_school_job_step(school_id, job_id, work, fail=starter_slips.credentials_parts_fail)


@shared_task(name="provisioning.sync_credentials_finish")
def sync_credentials_finish(school_id: str, job_id: str, attempt: int) -> None:
    work = partial(starter_slips.credentials_finish, attempt=attempt)
    run_school_job_step(school_id, job_id, work, fail=starter_slips.credentials_parts_fail)


@shared_task(name="provisioning.roster_pull")
def roster_pull_task(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, oneroster_rest.roster_pull_work)


@shared_task(name="provisioning.sync_scheduled_tick")
def sync_scheduled_tick() -> None:
    nightly.scheduled_tick(now=timezone.now())


@shared_task(name="provisioning.school_nightly")
def school_nightly_task(school_id: str, now: str) -> None:
    """One school's nightly work; its failure is recorded on the school, never raised into the tick."""
    nightly.school_nightly_run(school_id=school_id, now=datetime.fromisoformat(now))


@shared_task(name="provisioning.feeds_purge")
def feeds_purge() -> None:
    """Feeds are kept FEED_RETENTION_DAYS, except those the next runs still read."""
    for_each_school(retention.feeds_purge)
