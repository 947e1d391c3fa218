"""How long provisioning keeps files that name people, and removing those that name a deleted person.

- Uploaded spreadsheets: UPLOAD_FILE_RETENTION_DAYS after they were applied (or, never applied, after they
  were uploaded); the upload's credentials sheet goes after 24 hours (upload/services/apply.py).
- MIS feeds: FEED_RETENTION_DAYS after they arrived, except those the next runs still need: the feed of
  the last applied run (the nightly comparison reads its lines: sync/incremental.py), the newest accepted
  feed (the next night applies it when it is new) and the feeds of runs still open.
- A deleted person (accounts/erasure.py): every uploaded file, upload result report, credentials sheet and
  sync starter-code sheet of the school that names them is removed, whole. Simpler and surer than
  rewriting a file without them; whoever needs one again uploads or re-issues it.
"""

import csv
import io
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scope

from accounts.erasure import PersonNamed
from provisioning.models import Feed, SyncRun, UploadBatch
from provisioning.sync import starter_slips
from provisioning.upload.reader import read_upload
from tenancy.models import ErasureRecord, Job, School
from tenancy.services import REPORT_NAMED_DELETED, erasure_record, job_report_remove

OPEN_RUN_STATES = ("queued", "planning", "planned", "needs_confirmation")


def _delete_on_commit(field) -> None:
    """The file goes once the surrounding transaction commits: a rollback keeps it."""
    if field:
        name, storage = field.name, field.storage
        transaction.on_commit(lambda: storage.delete(name))


# --- Retention ----------------------------------------------------------------------------------------


@transaction.atomic
def upload_files_purge(*, school: School, now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.UPLOAD_FILE_RETENTION_DAYS)
    done = (UploadBatch.State.APPLIED, UploadBatch.State.FAILED)
    due = list(
        UploadBatch.objects.filter(school=school)
        .exclude(file="")
        .filter(
            Q(state=UploadBatch.State.PREVIEWED, created_at__lte=cutoff)
            | Q(state__in=done, job__finished_at__lte=cutoff)
            | Q(state__in=done, job__isnull=True, created_at__lte=cutoff)
        )
    )
    for batch in due:
        _delete_on_commit(batch.file)
    UploadBatch.objects.filter(school=school, pk__in=[b.pk for b in due]).update(file="")
    erasure_record(school=school, kind=ErasureRecord.Kind.UPLOAD_FILE, count=len(due), reason="expired")
    return len(due)


def feeds_needed(*, school: School) -> set:
    """Feeds the next runs read, whatever their age."""
    needed = set(
        SyncRun.objects.filter(school=school, state__in=OPEN_RUN_STATES, feed__isnull=False).values_list(
            "feed_id", flat=True
        )
    )
    last = (
        SyncRun.objects.filter(school=school, state=SyncRun.State.APPLIED, applied_at__isnull=False, feed__isnull=False)
        .order_by("-applied_at")
        .values_list("feed_id", flat=True)
        .first()
    )
    newest = (
        Feed.objects.filter(school=school, state=Feed.State.VALID).order_by("-received_at").values_list("pk", flat=True)
    ).first()
    return needed | {pk for pk in (last, newest) if pk is not None}


@transaction.atomic
def feeds_purge(*, school: School, now=None) -> int:
    """Feeds past FEED_RETENTION_DAYS go, rows and files (their row-level messages quote people's data too);
    runs keep their records, with no feed."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FEED_RETENTION_DAYS)
    due = list(Feed.objects.filter(school=school, received_at__lte=cutoff).exclude(pk__in=feeds_needed(school=school)))
    for feed in due:
        _delete_on_commit(feed.file)
    Feed.objects.filter(school=school, pk__in=[f.pk for f in due]).delete()
    erasure_record(school=school, kind=ErasureRecord.Kind.FEED, count=len(due), reason="expired")
    return len(due)


# --- A deleted person ---------------------------------------------------------------------------------


def _rows(data: bytes, name: str) -> list[list]:
    """Every row of a CSV or of every sheet of a workbook."""
    if name.lower().endswith(".csv"):
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [row for sheet in book.sheet_names for row in book.get_sheet_by_name(sheet).to_python()]


def _names(field, person: PersonNamed, reader=_rows) -> bool:
    """Whether the stored file names the person; a file that cannot be read is taken to (it may)."""
    try:
        with field.open("rb") as handle:
            rows = reader(handle.read(), field.name)
    except Exception:  # noqa: BLE001 - unreadable or missing: removing it is the safe side
        return True
    return any(person.in_row(row) for row in rows)


def _upload_rows(data: bytes, name: str) -> list[list]:
    table = read_upload(data, name)
    return [cells for _number, cells in table.rows]


def files_naming_erase(person: PersonNamed) -> int:
    """accounts.erasure's hook: this school's uploads, upload reports, credentials sheets and sync
    starter-code sheets that name the person are removed."""
    school, removed = person.school, 0
    for batch in UploadBatch.objects.filter(school=school).exclude(file=""):
        if _names(batch.file, person, reader=_upload_rows):
            _delete_on_commit(batch.file)
            UploadBatch.objects.filter(school=school, pk=batch.pk).update(file="")
            removed += 1
    for batch in UploadBatch.objects.filter(school=school).exclude(credentials=""):
        if _names(batch.credentials, person):
            _delete_on_commit(batch.credentials)
            UploadBatch.objects.filter(school=school, pk=batch.pk).update(credentials="")
            removed += 1
    for job in Job.objects.filter(school=school, kind=Job.Kind.UPLOAD).exclude(report=""):
        if _names(job.report, person):
            job_report_remove(job, reason=REPORT_NAMED_DELETED)
            removed += 1
    for run in SyncRun.objects.filter(school=school).exclude(credentials=""):
        if _names(run.credentials, person):

            def discard(run=run):
                with scope(school=school):
                    starter_slips._credentials_delete(run)  # the sheet and any zip prepared from it

            transaction.on_commit(discard)
            removed += 1
    return removed
