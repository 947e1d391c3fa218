"""Celery tasks of the MIS sync: each only loads ids and calls one service.

Every task of Rollcall is named "<app>.<task>" (provisioning.sync_scheduled_tick); a rename of a task that
django-celery-beat runs needs a data migration of its PeriodicTask (provisioning migration 0013)."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from provisioning import retention
from provisioning.sync import nightly, oneroster_rest, services, starter_slips
from tenancy.services import for_each_school
from tenancy.tasks import run_school_job


@shared_task(name="provisioning.sync_run_job")
def sync_run_job(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.sync_run_job)


@shared_task(name="provisioning.sync_credentials_prepare")
def sync_credentials_prepare(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, starter_slips.credentials_prepare)


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
