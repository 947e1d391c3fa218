from celery import shared_task

from provisioning.upload import services
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
