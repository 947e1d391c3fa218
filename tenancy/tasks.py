"""What every background task does first: load the job, enter its school's scope, claim it."""

import logging
from collections.abc import Callable

from celery import shared_task
from django.core.exceptions import ValidationError
from django_scopes import scope
from structlog.contextvars import bound_contextvars

from tenancy.models import Job, School
from tenancy.services import for_each_school, job_claim, job_fail, job_reports_purge

log = logging.getLogger(__name__)


def run_school_job(
    school_id: str, job_id: str, work: Callable[[Job], None], *, fail: Callable[..., None] = job_fail
) -> None:
    """Tasks take ids, then call this with their one service function.

    A re-delivered message finds the job already claimed and does nothing. An error is recorded
    on the job, in words a person can act on, and the worker carries on. `fail` records it: a job
    whose work left files behind passes one that also clears them.
    """
    school = School.objects.get(pk=school_id)
    # Every line the job's work logs carries these, so a worker's lines for one job can be found
    # together (the task's name and id are bound by config/celery.py).
    with bound_contextvars(job_id=str(job_id), school=school.slug), scope(school=school):
        job = Job.objects.filter(school=school, pk=job_id).first()
        if job is not None:
            job.school = school  # loaded above: the claim and the work read it, not the database again
        if job is None or not job_claim(job):
            log.info("job %s already claimed or gone; nothing to do", job_id)
            return
        run_claimed_job(job, work, fail=fail)


def run_school_job_step(
    school_id: str, job_id: str, work: Callable[[Job], None], *, fail: Callable[..., None] = job_fail
) -> None:
    """A task carrying on a job that is already running, one of the tasks its work fanned out over the workers
    (a part of the starter slips): the job's school and scope as run_school_job gives them, but no claim, as
    the job was claimed by its first task. The work itself makes a second delivery harmless. A job no longer
    running (failed meanwhile, given up, finished) is left alone."""
    school = School.objects.get(pk=school_id)
    with bound_contextvars(job_id=str(job_id), school=school.slug), scope(school=school):
        job = Job.objects.filter(school=school, pk=job_id, state=Job.State.RUNNING).first()
        if job is None:
            log.info("job %s no longer running; nothing to do", job_id)
            return
        job.school = school
        run_claimed_job(job, work, fail=fail)


def run_claimed_job(job: Job, work: Callable[[Job], None], *, fail: Callable[..., None] = job_fail) -> None:
    """The work of a job its caller holds (claimed), in its school's scope. An error is recorded on the
    job by `fail`, in words a person can act on, and the caller carries on."""
    try:
        work(job)
    except Exception as exc:  # noqa: BLE001 - recorded for the person who started the job
        log.exception("job %s failed", job.pk)
        # A ValidationError's str() is the repr of its list of messages.
        cause = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        fail(job, message=f"The job stopped with an error and changed nothing: {cause}")


@shared_task(name="tenancy.job_reports_purge")
def job_reports_purge_task() -> None:
    for_each_school(job_reports_purge)
