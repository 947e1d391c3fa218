"""Account Manager jobs. Registered with the worker by config/celery.py (autodiscover of this package)."""

from celery import shared_task

from provisioning.contacts import services
from tenancy.tasks import run_school_job


@shared_task(name="provisioning.contacts_revoke")
def contacts_revoke(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.revoke_run)


@shared_task(name="provisioning.contacts_welcome_email")
def contacts_welcome_email(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.welcome_email_run)
