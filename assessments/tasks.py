from celery import shared_task

from assessments import services
from assessments.services import reminders
from tenancy.tasks import run_school_job


@shared_task(name="assessments.render_certificate_pdf")
def render_certificate_pdf(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.certificate_pdf_render)


@shared_task(name="assessments.build_certificate_zip")
def build_certificate_zip(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.certificate_zip_build)


@shared_task(name="assessments.certificate_reminders")
def certificate_reminders() -> None:
    """Daily: 30 days before a certificate expires, and on expiry (assessments/services/reminders.py)."""
    reminders.certificate_reminders_all()
