from celery import shared_task

from provisioning import retention
from provisioning.upload import services
from tenancy.services import for_each_school
from tenancy.tasks import run_school_job


@shared_task(name="provisioning.upload_apply")
def upload_apply(school_id: str, job_id: str) -> None:
    run_school_job(school_id, job_id, services.upload_apply_run)


@shared_task(name="provisioning.upload_credentials_purge")
def upload_credentials_purge() -> None:
    """Credentials sheets live 24 hours; the views also purge lazily, this sweeps the rest."""
    from django_scopes import scopes_disabled

    with scopes_disabled():
        services.upload_credentials_purge()


@shared_task(name="provisioning.upload_files_purge")
def upload_files_purge() -> None:
    """Uploaded spreadsheets are kept UPLOAD_FILE_RETENTION_DAYS after they were applied."""
    for_each_school(retention.upload_files_purge)
