"""Background-job bookkeeping shared by every app: create, claim, progress, finish."""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tenancy.models import Job, School

log = logging.getLogger(__name__)


def job_start(
    *, school: School, kind: str, actor, params: dict | None = None, task: Callable | None = None, total: int = 0
) -> Job:
    """Record a job and send its task once the surrounding transaction commits.

    Sending after commit means the worker never looks for a job row that is not there yet.
    """
    job = Job.objects.create(
        school=school,
        kind=kind,
        params=params or {},
        progress_total=total,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if task is not None:
        transaction.on_commit(lambda: task.delay(str(school.pk), str(job.pk)))
    return job


# A job still "running" this long after it started lost its worker (killed, machine restarted): the
# broker re-delivers its message (acks late), and the job may be taken up again. Every job is either
# all or nothing (its transaction rolled back) or claims its items one by one, so a re-run is safe.
JOB_STALE_AFTER = timedelta(minutes=30)
JOB_MAX_ATTEMPTS = 3


def job_claim(job: Job) -> bool:
    """Move a queued (or abandoned) job to running. A conditional UPDATE, so two deliveries never both run it."""
    now = timezone.now()
    abandoned = Q(state=Job.State.RUNNING, started_at__lt=now - JOB_STALE_AFTER, attempts__lt=JOB_MAX_ATTEMPTS)
    claimed = (
        Job.objects.filter(pk=job.pk, school=job.school)
        .filter(Q(state=Job.State.QUEUED) | abandoned)
        .update(state=Job.State.RUNNING, started_at=now, attempts=F("attempts") + 1)
    )
    if claimed:
        job.refresh_from_db()
    return bool(claimed)


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    fields = {"progress_done": done}
    if total is not None:
        fields["progress_total"] = total
    Job.objects.filter(pk=job.pk, school=job.school).update(**fields)
    job.progress_done = done
    if total is not None:
        job.progress_total = total


def job_succeed(job: Job, *, counts: dict | None = None, report: bytes | None = None, report_name: str = "") -> None:
    job.state = Job.State.SUCCEEDED
    job.finished_at = timezone.now()
    job.counts = counts or job.counts
    job.progress_done = max(job.progress_done, job.progress_total)
    if report is not None:
        job.report_name = report_name
        job.report.save(report_name, ContentFile(report), save=False)
    job.save()


def job_fail(job: Job, *, message: str) -> None:
    Job.objects.filter(pk=job.pk, school=job.school).update(
        state=Job.State.FAILED, error=message, finished_at=timezone.now()
    )
    job.state, job.error = Job.State.FAILED, message
