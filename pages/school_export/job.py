"""The school export as a job: started (audited), made with progress, downloaded once (audited, then
deleted), and purged unclaimed after settings.SCHOOL_EXPORT_RETENTION_DAYS."""

import os
import tempfile
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_scopes import scope

from accounts.audit import audit_record
from accounts.models import Account
from pages.school_export.archive import school_export_write
from pages.school_export.tables import TABLES
from tenancy.models import ErasureRecord, Job, School
from tenancy.services import erasure_record, job_progress, job_report_remove, job_start, job_succeed

TAKEN = "This school export has already been downloaded; start a new one."
NOT_READY = "This school export is not ready yet."
EXPIRED = "Removed: a school export not downloaded is kept for {days} days."


# --- The job ------------------------------------------------------------------------------------------


def school_export_start(*, school: School, actor: Account) -> Job:
    from pages.tasks import school_export_task  # cycle: the task module imports this one

    with transaction.atomic():
        job = job_start(school=school, kind=Job.Kind.SCHOOL_EXPORT, actor=actor, task=school_export_task,
                        total=len(TABLES))  # fmt: skip
        audit_record(
            action="data.school_export.started", actor=actor, school=school, target_type="school",
            target_id=str(school.pk), target_label=school.name, job=job,
        )  # fmt: skip
    return job


def school_export_make(job: Job) -> None:
    """The job's work: the zip in a temporary file, then kept as the job's report."""
    school = job.school
    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "w+b") as tmp:
            counts = school_export_write(school=school, fileobj=tmp, on_progress=lambda n: job_progress(job, done=n))
            tmp.seek(0)
            name = f"school-export-{slugify(school.name) or school.slug}-{timezone.now():%Y%m%d-%H%M}.zip"
            job.report_name = name
            job.report.save(name, File(tmp, name=name), save=False)
    finally:
        os.unlink(path)
    job_succeed(job, counts={f"{key}_rows": n for key, n in counts.items()})


# --- Downloading it, once -----------------------------------------------------------------------------


class ExportGone(ValidationError):
    pass


def school_export_take(*, school: School, actor: Account, job: Job) -> tuple[str, File]:
    """The zip, once: marked taken and audited in one transaction; the file goes once it has been sent."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(school=school, pk=job.pk, kind=Job.Kind.SCHOOL_EXPORT)
        if locked.params.get("downloaded_at"):
            raise ExportGone(TAKEN)
        if locked.state != Job.State.SUCCEEDED or not locked.report:
            raise ExportGone(locked.report_removed or NOT_READY)
        handle = locked.report.open("rb")
        locked.params = {**locked.params, "downloaded_at": timezone.now().isoformat(), "downloaded_by": actor.username}
        locked.save(update_fields=["params"])
        audit_record(
            action="data.school_export.downloaded", actor=actor, school=school, target_type="school",
            target_id=str(school.pk), target_label=school.name, job=locked,
        )  # fmt: skip
    return locked.report_name, _SentOnce(handle, locked, actor)


class _SentOnce(File):
    """The zip as it is streamed: once the response closes it, it is deleted."""

    def __init__(self, file, job: Job, actor: Account):
        super().__init__(file)
        self._job, self._actor = job, actor

    def close(self):
        try:
            super().close()
        finally:
            with scope(school=self._job.school), transaction.atomic():
                when = timezone.localtime().strftime("%-d %b %Y %H:%M")
                job_report_remove(self._job, reason=f"Removed: downloaded by {self._actor.username} on {when}.")
                erasure_record(school=self._job.school, kind=ErasureRecord.Kind.SCHOOL_EXPORT, reason="downloaded")


def school_exports_purge(*, school: School, now=None) -> int:
    """Exports nobody downloaded go after SCHOOL_EXPORT_RETENTION_DAYS: the whole school in one file should
    not wait about."""
    days = settings.SCHOOL_EXPORT_RETENTION_DAYS
    cutoff = (now or timezone.now()) - timedelta(days=days)
    due = list(
        Job.objects.filter(school=school, kind=Job.Kind.SCHOOL_EXPORT, finished_at__lte=cutoff).exclude(report="")
    )
    for job in due:
        job_report_remove(job, reason=EXPIRED.format(days=days))
    erasure_record(school=school, kind=ErasureRecord.Kind.SCHOOL_EXPORT, count=len(due), reason="expired")
    return len(due)


def latest_exports(*, school: School, limit: int = 5) -> list[Job]:
    return list(Job.objects.filter(school=school, kind=Job.Kind.SCHOOL_EXPORT).order_by("-created_at")[:limit])
