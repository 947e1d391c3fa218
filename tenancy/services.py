"""Background-job bookkeeping shared by every app: create, claim, progress, finish."""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenancy.models import ErasureRecord, Job, School

log = logging.getLogger(__name__)


def job_start(
    *,
    school: School,
    kind: str,
    actor,
    params: dict | None = None,
    task: Callable | None = None,
    total: int = 0,
    claimed: bool = False,
) -> Job:
    """Record a job and send its task once the surrounding transaction commits.

    Sending after commit means the worker never looks for a job row that is not there yet. claimed=True
    records a job its caller runs itself, at once (a school's nightly task runs its sync job): written as
    claimed (running, first attempt), it saves the claim's two queries, and a re-delivered task finds it
    taken, as it would after job_claim.
    """
    now = timezone.now() if claimed else None
    job = Job.objects.create(
        school=school,
        kind=kind,
        params=params or {},
        progress_total=total,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        **({"state": Job.State.RUNNING, "started_at": now, "heartbeat_at": now, "attempts": 1} if claimed else {}),
    )
    if task is not None:
        transaction.on_commit(lambda: task.delay(str(school.pk), str(job.pk)))
    return job


# A running job whose worker has not reported for settings.JOB_ABANDONED_AFTER lost it (killed, machine
# restarted): the broker re-delivers its message (acks late), and the job may be taken up again. A worker
# reports with every progress write (job_progress), so a long job that is moving is never taken for lost,
# however long ago it started. Every job is either all or nothing (its transaction rolled back) or claims its
# items one by one, so a re-run is safe.
JOB_STALE_AFTER = settings.JOB_ABANDONED_AFTER
JOB_MAX_ATTEMPTS = Job.MAX_ATTEMPTS
# The second connection progress is written through (config/settings.py configures it on PostgreSQL only).
PROGRESS_DB = "jobs_progress"


def job_claim(job: Job) -> bool:
    """Move a queued (or abandoned) job to running. A conditional UPDATE, so two deliveries never both run it."""
    now = timezone.now()
    stale = now - settings.JOB_ABANDONED_AFTER
    abandoned = Q(state=Job.State.RUNNING, last_seen__lt=stale, attempts__lt=JOB_MAX_ATTEMPTS)
    claimed = (
        Job.objects.filter(pk=job.pk, school_id=job.school_id)
        # Rows from before heartbeats (none written yet) count from their start.
        .alias(last_seen=Coalesce("heartbeat_at", "started_at"))
        .filter(Q(state=Job.State.QUEUED) | abandoned)
        .update(state=Job.State.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    )
    if claimed:
        school = job.school if Job.school.is_cached(job) else None
        job.refresh_from_db()
        if school is not None:
            job.school = school  # the same row: refresh_from_db drops it, and every job's work reads it again
    return bool(claimed)


def job_progress(job: Job, *, done: int, total: int | None = None) -> None:
    """Record how far the job is, and that its worker is alive (the heartbeat).

    Other connections see it at once, even when the caller is inside a transaction (see _progress_aside).
    Only progress is written here, never state: a job whose transaction rolls back after reporting all its
    items done still looks unfinished.
    """
    fields = {"progress_done": done, "heartbeat_at": timezone.now()}
    if total is not None:
        fields["progress_total"] = total
    if not _progress_aside(job, fields):
        Job.objects.filter(pk=job.pk, school=job.school).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


def _progress_aside(job: Job, fields: dict) -> bool:
    """Write progress through the second connection, committed at once; False when it was not written.

    Only needed inside a transaction (outside one, the default connection commits each write). It is not
    written when the job's row is not visible to the second connection (created in the caller's own
    transaction, not yet committed) or is locked by the caller's transaction (which would make the second
    connection wait on a transaction that waits on it: SKIP LOCKED finds no row instead); the caller then
    writes through its own connection, and the progress shows when its transaction commits.

    On SQLite there is no second connection: one writer at a time, so it would wait on the caller's write
    lock. Progress written inside a transaction there appears when the transaction commits.
    """
    if PROGRESS_DB not in settings.DATABASES or not transaction.get_connection().in_atomic_block:
        return False
    jobs = Job.objects.using(PROGRESS_DB)
    try:
        with transaction.atomic(using=PROGRESS_DB):
            free = jobs.filter(pk=job.pk, school=job.school).select_for_update(skip_locked=True, no_key=True)
            return bool(jobs.filter(pk__in=free.values("pk")).update(**fields))
    except DatabaseError:  # e.g. no connection to be had: the bar waits for the commit, the job goes on
        log.warning("job %s: progress not written aside", job.pk, exc_info=True)
        return False


def job_succeed(job: Job, *, counts: dict | None = None, report: bytes | None = None, report_name: str = "") -> None:
    job.state = Job.State.SUCCEEDED
    job.finished_at = timezone.now()
    job.counts = counts or job.counts
    job.progress_done = max(job.progress_done, job.progress_total)
    if report is not None:
        job.report_name = report_name
        job.report.save(report_name, ContentFile(report), save=False)
    job.save()


def job_give_up(job: Job, *, message: str) -> bool:
    """Fail a stalled job so that it is started again by hand instead; False when it is not stalled (any more).

    A conditional UPDATE on the heartbeat: a worker that reported meanwhile keeps its job, and a message the
    broker hands back later finds the job failed and does nothing, so the job never runs twice.
    """
    quiet_since = timezone.now() - settings.JOB_STALLED_AFTER
    given_up = (
        Job.objects.filter(pk=job.pk, school=job.school, state=Job.State.RUNNING)
        .alias(last_seen=Coalesce("heartbeat_at", "started_at"))
        .filter(last_seen__lt=quiet_since)
        .update(state=Job.State.FAILED, error=message, finished_at=timezone.now())
    )
    if given_up:
        job.state, job.error = Job.State.FAILED, message
    return bool(given_up)


def job_fail(job: Job, *, message: str) -> None:
    Job.objects.filter(pk=job.pk, school=job.school).update(
        state=Job.State.FAILED, error=message, finished_at=timezone.now()
    )
    job.state, job.error = Job.State.FAILED, message


# --- Report files: kept only so long, and never after they name a deleted person ----------------------

REPORT_EXPIRED = "Removed: job reports are kept for {days} days."
REPORT_NAMED_DELETED = "Removed: it named a person whose account was deleted."


def job_report_remove(job: Job, *, reason: str) -> None:
    """The report file goes once the surrounding transaction commits (a rollback keeps it); the job says why."""
    if job.report:
        name, storage = job.report.name, job.report.storage
        transaction.on_commit(lambda: storage.delete(name))
    Job.objects.filter(school=job.school, pk=job.pk).update(report="", report_removed=reason[:200])
    job.report, job.report_removed = "", reason[:200]


def erasure_record(*, school: School, kind: str, count: int = 1, person_type: str = "", reason: str = "") -> None:
    """Note that `count` things of `kind` were erased, never whose (the retention page's erasure report)."""
    if count:
        ErasureRecord.objects.create(school=school, kind=kind, count=count, person_type=person_type, reason=reason)


def job_reports_purge(*, school: School, now=None) -> int:
    """Reports of jobs finished more than JOB_REPORT_RETENTION_DAYS ago (census, upload results, certificate
    zips) are removed."""
    days = settings.JOB_REPORT_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=days)
    due = Job.objects.filter(school=school, finished_at__lte=cutoff).exclude(report="")
    with transaction.atomic():
        jobs = list(due)
        for job in jobs:
            job_report_remove(job, reason=REPORT_EXPIRED.format(days=days))
        erasure_record(school=school, kind=ErasureRecord.Kind.JOB_REPORT, count=len(jobs), reason="expired")
    return len(jobs)


def for_each_school(service: Callable[..., int]) -> int:
    """A scheduled purge: the service once per school, inside that school's scope, each in its own
    transaction. One school's failure is logged with the school and never stops the next school's purge:
    the purge runs again at its next hour, so nothing is lost by carrying on."""
    from django_scopes import scope

    done = 0
    for school in School.objects.all():
        try:
            with scope(school=school), transaction.atomic():
                done += service(school=school)
        except Exception:
            log.exception("purge failed for one school", extra={"school": school.slug, "purge": service.__name__})
    return done
