from celery import shared_task

from accounts import services
from tenancy.tasks import run_school_job


@shared_task(name="accounts.census_report")
def census_report(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.census_report_build)
