"""The credentials sheet of an MIS sync run: the new accounts' starter codes, downloadable once and
within 24 hours, as one zip of a spreadsheet and PDFs of slips to cut out. Then the codes are gone.

Both kinds of file come in one download because there is only one: a school that took the spreadsheet
could not come back for the slips. A first sync of a big school creates tens of thousands of accounts and
WeasyPrint takes about 10 ms of CPU a slip, so the zip is made by a background job ("Prepare starter
codes") and kept in private storage beside the codes until it is downloaded or expires. The slips come as
one PDF per person type / year group / form, in parts of at most SLIPS_PER_PART slips, so the memory a
render takes stays the same however many people there are. Each PDF is a task of its own, so a big school's
slips render on every worker at once (credentials_prepare), each writing its file to private storage beside
the codes; the task of the last part to finish sends the one that zips them.

Rows arrive as the CSV that services._store_credentials wrote:
person type, year group, form, family name, given name, user name, starter code.
"""

import csv
import functools
import io
import os
import re
import tempfile
import unicodedata
import urllib.parse
import zipfile
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Min, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import slugify
from django_scopes import scope, scopes_disabled

from accounts.audit import audit_record
from accounts.credentials import STARTER_CODE_DAYS
from accounts.labels import value_words
from accounts.models import Account, StarterCode
from provisioning.models import SyncRun
from tenancy import pdf, spreadsheets
from tenancy.models import ErasureRecord, Job, School
from tenancy.public_url import public_url
from tenancy.services import erasure_record, job_fail, job_progress, job_start, job_succeed

XLSX_NAME, SLIPS_DIR = "starter-codes.xlsx", "slips/"
SLIPS_PER_PAGE = 10  # 2 columns x 5 rows on A4
SLIPS_PER_PART = 500  # ~5 s of WeasyPrint and a bounded amount of memory per PDF; a whole number of sheets
PERSON_TYPE_ORDER = {"student": 0, "staff": 1, "contact": 2}
PERSON_TYPE_LABEL = {"student": "Students", "staff": "Staff", "contact": "Contacts"}
# Characters Windows, macOS or a zip tool would refuse or read as a folder in a file name.
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')

TAKEN = "The credentials sheet has already been downloaded; re-issue codes from Account Manager."
EXPIRED = "The credentials sheet expired after 24 hours; re-issue codes from Account Manager."
NOT_READY = "The starter codes are not ready to download yet: press Download starter codes and wait for them."
RUN_GONE = "The sync run of these starter codes no longer exists."


class CredentialsGone(ValidationError):
    """The sheet was downloaded already, or expired: only Account Manager can issue new codes."""


@dataclass(frozen=True)
class CredentialsDownload:
    filename: str
    file: File


@dataclass(frozen=True)
class Person:
    person_type: str
    year_group: str
    form: str
    family_name: str
    given_name: str
    username: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.username

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.person_type, self.year_group, self.form)

    @property
    def name_size(self) -> str:
        """Smaller type for a long name: one line up to about 36 characters, then two (CJK counts double)."""
        width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in self.name)
        return "" if width <= 27 else "long" if width <= 36 else "longer"

    @property
    def where(self) -> str:
        """What the slip says under the name: "Year 7 · Form 7A", "Staff" or "Contact"."""
        if self.person_type != "student":
            return {"staff": "Staff", "contact": "Contact"}.get(self.person_type, "")
        return " · ".join(filter(None, [_year(self.year_group), f"Form {self.form}" if self.form else ""]))


# --- Prepare starter codes (the job) --------------------------------------------------------------


def credentials_job(*, school: School, run: SyncRun) -> Job | None:
    """The run's latest "Prepare starter codes" job: the one its page shows."""
    jobs = Job.objects.filter(school=school, kind=Job.Kind.SYNC_CREDENTIALS, params__run_id=str(run.pk))
    return jobs.order_by("-created_at").first()


def credentials_ready(job: Job | None) -> bool:
    return job is not None and job.state == Job.State.SUCCEEDED and bool(job.params.get("zip"))


def credentials_prepare_start(*, school: School, actor: Account, run: SyncRun, base_url: str = "") -> Job:
    """Start preparing the run's zip, once: while a job is queued or running, or its zip waits to be
    downloaded, a second press gives that job. Only a job that failed is followed by a new one.
    `base_url` is where people sign in when settings.ROLLCALL_BASE_URL is not set."""
    from provisioning.tasks import sync_credentials_prepare  # cycle: the task module imports these services

    _available(school, run.pk)
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(school=school, pk=run.pk)  # two presses: one job
        if not locked.credentials or locked.credentials_downloaded_at is not None:
            raise CredentialsGone(TAKEN)
        job = credentials_job(school=school, run=locked)
        if job is not None and (not job.is_finished or credentials_ready(job)):
            return job
        params = {"run_id": str(run.pk), "base_url": base_url}
        return job_start(
            school=school, kind=Job.Kind.SYNC_CREDENTIALS, actor=actor, params=params, task=sync_credentials_prepare
        )


def credentials_prepare(job: Job) -> None:
    """The job's first task: plans the PDFs (one per group, in parts of at most SLIPS_PER_PART) and sends
    one task per part, so the parts render on every worker at once; the part that completes the set sends
    the task that zips them (credentials_finish). The plan is written to the job, with the attempt it
    belongs to: a job whose worker wrote no progress for JOB_STALE_AFTER may be claimed again while the
    first attempt carries on (one stuck, not dead), and the parts of an attempt that is no longer the job's
    delete what they wrote (_part_record). The codes are never put in a task's message: each part reads
    them from private storage. The codes file is not touched; it goes when the zip is downloaded or expires."""
    from provisioning.tasks import sync_credentials_finish, sync_credentials_part  # cycle, as above

    try:
        run = _available(job.school, job.params.get("run_id"))
    except CredentialsGone as exc:
        job_fail(job, message=exc.messages[0])
        return
    except SyncRun.DoesNotExist:
        job_fail(job, message=RUN_GONE)
        return
    with run.credentials.open("rb") as handle:
        groups = _groups(_people(handle.read()))
    parts = [
        {"name": name, "group": list(group), "chunk": chunk, "slips": sum(page["slips"] for page in pages)}
        for name, group, chunk, pages in _parts(groups)
    ]
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(school=job.school, pk=job.pk)
        earlier = _part_names(locked)  # an earlier attempt's, if this job was taken up again
        job.params = {**locked.params, "attempt": job.attempts, "parts": parts, "parts_done": {}}
        Job.objects.filter(school=job.school, pk=job.pk).update(params=job.params)
    for name in earlier:
        _storage().delete(name)
    job_progress(job, done=0, total=sum(part["slips"] for part in parts))
    # Sent at once, not on commit: this task runs outside any transaction (run_school_job opens none), so
    # the plan above is committed already; and tasks run eagerly (tests, `make run`) finish here in turn.
    # The biggest first (a year's contacts, 500 slips, against forms of 30): the last to start are short, and
    # the workers finish close together instead of one rendering a big part alone at the end.
    ids = (str(job.school_id), str(job.pk), job.attempts)
    for index in sorted(range(len(parts)), key=lambda i: -parts[i]["slips"]):
        sync_credentials_part.delay(*ids, index)
    if not parts:
        sync_credentials_finish.delay(*ids)


def credentials_part(job: Job, *, attempt: int, index: int) -> None:
    """One part's PDF, written to private storage and recorded on the job. A part already recorded (its
    message delivered twice) is not rendered again; one of an attempt no longer the job's is not rendered."""
    from provisioning.tasks import sync_credentials_finish  # cycle, as above

    part = _part_wanted(job, attempt, index)
    if part is not None:
        run = SyncRun.objects.get(school=job.school, pk=job.params["run_id"])
        with run.credentials.open("rb") as handle:
            members = _members(handle.read(), tuple(part["group"]))
        per_part = SLIPS_PER_PART // SLIPS_PER_PAGE
        pages = _pages(tuple(part["group"]), members)[part["chunk"] * per_part : (part["chunk"] + 1) * per_part]
        expires = dateformat.format(_local(job.school, _codes_expire_at(job.school, run)), "j M Y H:i")
        content = _credentials_pdf(
            school=job.school, pages=pages, expires=expires, sign_in_url=sign_in_url(job.params.get("base_url", ""))
        )
        saved = _storage().save(_part_name(job, attempt, index), ContentFile(content))
        if not _part_record(job, attempt, index, saved):
            return
    elif not _parts_complete(job, attempt):
        return
    # The set is complete: this part's task sends the zip's. A part delivered again once all were recorded
    # sends it again, in case the first was lost with its worker; credentials_finish keeps one zip.
    sync_credentials_finish.delay(str(job.school_id), str(job.pk), attempt)


def credentials_finish(job: Job, *, attempt: int) -> None:
    """The spreadsheet and every part's PDF, in order, into one zip written to a temporary file, then stored
    beside the codes (_prepared); the parts' files go."""
    if not _parts_complete(job, attempt):
        return  # an attempt that is no longer the job's, or a message from before the parts were planned
    try:
        run = _available(job.school, job.params.get("run_id"))
    except CredentialsGone as exc:
        credentials_parts_fail(job, message=exc.messages[0])
        return
    except SyncRun.DoesNotExist:
        credentials_parts_fail(job, message=RUN_GONE)
        return
    with run.credentials.open("rb") as handle:
        groups = _groups(_people(handle.read()))
    parts, done = job.params["parts"], job.params["parts_done"]
    name = _zip_names(job)[-1]
    fd, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(fd, "w+b") as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                _write_xlsx(archive, groups)
                for index, part in enumerate(parts):
                    with _storage().open(done[str(index)], "rb") as pdf_file:
                        archive.writestr(f"{SLIPS_DIR}{part['name']}.pdf", pdf_file.read())
            tmp.seek(0)
            saved = _storage().save(name, File(tmp, name=name))
    finally:
        os.unlink(path)
    names = _part_names(job)
    _prepared(job, run, saved, {"slips": sum(part["slips"] for part in parts), "pdfs": len(parts)})
    for part_name in names:
        _storage().delete(part_name)


def credentials_parts_fail(job: Job, *, message: str) -> None:
    """Fail the job with its reason and delete every part written so far; a part still rendering finds the
    job failed when it comes to record its file, and deletes it (_part_record). A job that finished
    meanwhile (a second delivery of its last task failing after the first succeeded) is left as it is."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(school=job.school, pk=job.pk)
        if locked.is_finished:
            return
        names = _part_names(locked)
        job.params = {k: v for k, v in locked.params.items() if k != "parts_done"}
        Job.objects.filter(school=job.school, pk=job.pk).update(params=job.params)
        job_fail(job, message=message)
    for name in names:
        _storage().delete(name)


def _part_wanted(job: Job, attempt: int, index: int) -> dict | None:
    """The part to render, or None when the job's attempt is another or the part is recorded already."""
    params = job.params
    if params.get("attempt") != attempt or str(index) in params.get("parts_done", {}):
        return None
    return params["parts"][index]


def _parts_complete(job: Job, attempt: int) -> bool:
    params = job.params
    return params.get("attempt") == attempt and len(params.get("parts_done", {})) == len(params.get("parts", [1]))


def _part_record(job: Job, attempt: int, index: int, saved: str) -> bool:
    """Record a part's file on the job, under the job's row lock, and move the progress on; True when the set
    is now complete. A file the job no longer wants (failed, another attempt, the part recorded already by a
    second delivery) is deleted here, so none is left behind."""
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(school=job.school, pk=job.pk)
        job.params, wanted = locked.params, locked.state == Job.State.RUNNING
        done = job.params.get("parts_done", {})
        if not wanted or job.params.get("attempt") != attempt or str(index) in done:
            keep = wanted and done.get(str(index)) == saved
        else:
            done[str(index)] = saved
            Job.objects.filter(school=job.school, pk=job.pk).update(params=job.params)
            parts = job.params["parts"]
            job_progress(job, done=sum(parts[int(i)]["slips"] for i in done))
            return len(done) == len(parts)
    if not keep:
        _storage().delete(saved)
    return False


def _part_name(job: Job, attempt: int, index: int) -> str:
    return f"sync-credentials/{job.params['run_id']}-{job.pk}-{attempt}-part{index:04d}.pdf"


def _part_names(job: Job) -> set[str]:
    """Every file the job's parts may have written: those recorded, and each attempt's part of each index
    (one written and lost with its worker before it was recorded)."""
    parts = len(job.params.get("parts", []))
    names = set(job.params.get("parts_done", {}).values())
    if "run_id" in job.params:
        attempts = range(1, max(job.attempts, 1) + 1)
        names |= {_part_name(job, attempt, index) for attempt in attempts for index in range(parts)}
    return names


def _prepared(job: Job, run: SyncRun, saved: str, counts: dict) -> None:
    """Record the zip on the job, unless another attempt of the job got there first, or the codes went
    while it was being made (downloaded, expired). Files of attempts that lost go."""
    storage = _storage()
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(school=run.school, pk=run.pk)  # one attempt at a time
        recorded = Job.objects.get(school=job.school, pk=job.pk)
        if recorded.state == Job.State.SUCCEEDED and recorded.params.get("zip"):
            storage.delete(saved)
            return
        if locked.credentials.name != run.credentials.name or locked.credentials_downloaded_at is not None:
            _zip_delete(recorded)
            storage.delete(saved)
            job_fail(job, message=TAKEN)
            return
        for name in {recorded.params.get("zip"), *_zip_names(recorded)} - {None, saved}:
            storage.delete(name)  # a lost worker's
        params = {k: v for k, v in recorded.params.items() if k != "parts_done"}  # their files go next
        job.params = {**params, "zip": saved}
        job_succeed(job, counts=counts)


# --- Download, expiry, purge ----------------------------------------------------------------------


def credentials_take(*, school: School, actor: Account, run: SyncRun) -> CredentialsDownload:
    """The prepared zip, once, within 24 hours. The codes (the CSV) are deleted now; the zip when it has
    been sent (its file's close), or by the purge 24 hours on if the sending was cut off."""
    run = _available(school, run.pk)
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(school=school, pk=run.pk)
        if not locked.credentials or locked.credentials_downloaded_at is not None:
            raise CredentialsGone(TAKEN)  # someone else took them a moment ago
        job = credentials_job(school=school, run=locked)
        if not credentials_ready(job):
            raise CredentialsGone(NOT_READY)
        handle = _open(job.params["zip"])
        if handle is not None:
            try:
                _taken(locked, actor)
            except BaseException:
                handle.close()
                raise
    if handle is None:  # the file went missing: nothing was taken, and the page offers to prepare it again
        _zip_delete(job)
        raise CredentialsGone(NOT_READY)
    day = _local(school, run.applied_at or run.created_at)
    filename = f"starter-codes-{slugify(school.name) or school.slug}-{day:%Y%m%d}.zip"
    return CredentialsDownload(filename, _ZipOnce(handle, job))


def _open(name: str):
    try:
        return _storage().open(name, "rb")
    except FileNotFoundError:
        return None


def _taken(run: SyncRun, actor: Account) -> None:
    """The codes file goes last, once the rest has been written: if anything before fails, all is as it was."""
    run.credentials_downloaded_at = timezone.now()
    run.save(update_fields=["credentials_downloaded_at"])
    audit_record(
        action="provisioning.sync_run.credentials_downloaded",
        actor=actor,
        school=run.school,
        target_type="sync_run",
        target_id=str(run.pk),
        target_label=f"Sync {run.created_at:%Y-%m-%d %H:%M}",
        changes={"starter_code": ["", "downloaded"]},
    )
    _csv_delete(run)


class _ZipOnce(File):
    """The zip as it is streamed: the response closes it once sent, and then it is deleted."""

    def __init__(self, file, job: Job):
        super().__init__(file)
        self._job = job

    def close(self):
        try:
            super().close()
        finally:
            with scope(school=self._job.school):
                _zip_delete(self._job)


def credentials_purge(*, school: School | None = None) -> int:
    """Sheets not downloaded within 24 hours are deleted with their codes, and so is any prepared zip of
    a run past its 24 hours (one whose sending was cut off, too). Of one school (each school's nightly
    work purges its own), or of every school."""
    purged = 0
    now = timezone.now()
    with scopes_disabled():
        expired, with_files = credentials_purge_candidates(school, now=now)
        for run in expired:
            _credentials_delete(run)
            erasure_record(school=run.school, kind=ErasureRecord.Kind.STARTER_CODES, reason="expired")
            purged += 1
        jobs = list(with_files)
        runs = SyncRun.objects.filter(pk__in={j.params["run_id"] for j in jobs}, credentials_expire_at__gte=now)
        live = {str(pk) for pk in runs.values_list("pk", flat=True)}
        for job in jobs:
            if job.params["run_id"] not in live:
                _zip_delete(job)
    return purged


def credentials_purge_candidates(school: School | None, *, now=None) -> list:
    """What credentials_purge looks at (of one school, or of every school): the runs whose sheet is past its
    24 hours, and the jobs holding a prepared zip or its parts (deleted once their run's 24 hours are over).
    The school's nightly work asks first whether there is any, in one query with the other purges'."""
    now = now or timezone.now()
    of_school = {"school": school} if school is not None else {}
    files = Q(params__has_key="zip") | Q(params__has_key="parts_done")
    return [
        SyncRun.objects.filter(credentials_expire_at__lt=now, **of_school).exclude(credentials=""),
        Job.objects.filter(files, kind=Job.Kind.SYNC_CREDENTIALS, **of_school),
    ]


def sign_in_url(base_url: str = "") -> str:
    return public_url(reverse("account_login"), base_url)


def _available(school: School, run_id) -> SyncRun:
    """The run, fresh, if its codes may still be taken; expired codes are deleted on the way."""
    run = SyncRun.objects.get(school=school, pk=run_id)
    if run.credentials_downloaded_at is not None:
        raise CredentialsGone(TAKEN)
    if run.credentials_expire_at and run.credentials_expire_at < timezone.now() and run.credentials:
        _credentials_delete(run)
        raise CredentialsGone(EXPIRED)
    if not run.credentials:
        raise CredentialsGone(TAKEN)
    return run


def _storage():
    """Where run.credentials lives: private, never served by URL."""
    return SyncRun._meta.get_field("credentials").storage


def _credentials_delete(run: SyncRun) -> None:
    _csv_delete(run)
    for job in Job.objects.filter(school=run.school, kind=Job.Kind.SYNC_CREDENTIALS, params__run_id=str(run.pk)):
        _zip_delete(job)


def _csv_delete(run: SyncRun) -> None:
    if run.credentials:
        run.credentials.delete(save=False)
    SyncRun.objects.filter(school=run.school, pk=run.pk).update(credentials="")


def _zip_names(job: Job) -> list[str]:
    """The file each attempt of the job writes: attempt n writes the nth."""
    run_id = job.params["run_id"]
    return [f"sync-credentials/{run_id}-{job.pk}-{n}.zip" for n in range(1, max(job.attempts, 1) + 1)]


def _zip_delete(job: Job) -> None:
    """The job's zip, and any part of it left (a job stopped part-way through, its run now expired)."""
    for name in {job.params.get("zip"), *_zip_names(job), *_part_names(job)} - {None}:
        _storage().delete(name)
    if "zip" in job.params or "parts_done" in job.params:
        job.params = {k: v for k, v in job.params.items() if k not in ("zip", "parts_done")}
        Job.objects.filter(school=job.school, pk=job.pk).update(params=job.params)


# --- The files ------------------------------------------------------------------------------------


def _people(content: bytes) -> list[Person]:
    return [Person(*row) for row in csv.reader(io.StringIO(content.decode())) if row]


def _members(content: bytes, group: tuple[str, str, str]) -> list[Person]:
    """One group's people, in the order _groups gives them: a part reads only its own."""
    rows = csv.reader(io.StringIO(content.decode()))
    return sorted((Person(*row) for row in rows if row and tuple(row[:3]) == group), key=_name_order)


def _natural(value: str) -> tuple:
    """Year 9 before Year 10, form 7B before 7C, whatever the case."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", value.casefold())
    )


def _group_order(group: tuple[str, str, str]) -> tuple:
    person_type, year_group, form = group
    order = PERSON_TYPE_ORDER.get(person_type, 9)
    return (order, person_type, not year_group, _natural(year_group), not form, _natural(form))


def _name_order(p: Person) -> tuple:
    return (p.family_name.casefold(), p.given_name.casefold(), p.username)


def _groups(people: list[Person]) -> list[tuple[tuple, list[Person]]]:
    """People by person type, year group and form, in that order, each group by name. Sorted a group
    at a time, so the sort keys of only one group are held at once."""
    by_group: dict[tuple, list[Person]] = defaultdict(list)
    for p in people:
        by_group[p.group].append(p)
    for members in by_group.values():
        members.sort(key=_name_order)
    return [(group, by_group[group]) for group in sorted(by_group, key=_group_order)]


def _codes_expire_at(school: School, run: SyncRun) -> datetime:
    """When this run's codes stop working: from the codes themselves where the run's job issued them."""
    expires = None
    if run.job_id:
        expires = StarterCode.objects.filter(school=school, job_id=run.job_id).aggregate(at=Min("expires_at"))["at"]
    return expires or (run.applied_at or run.created_at) + timedelta(days=STARTER_CODE_DAYS)


def _local(school: School, moment: datetime) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(school.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.localtime(moment, zone)


def _write_xlsx(archive: zipfile.ZipFile, groups: list[tuple[tuple, list[Person]]]) -> None:
    """One sheet, whatever the size: write-only openpyxl keeps its rows on disk, not in memory."""
    workbook = spreadsheets.workbook(write_only=True)
    sheet = workbook.create_sheet("Starter codes")
    header = ["Person type", "Year group", "Form", "Family Name", "Given Names", "User Name", "Starter code"]
    sheet.append(spreadsheets.text_cells(sheet, header))
    for _group, members in groups:
        for p in members:
            row = [
                value_words("person_type", p.person_type),
                p.year_group,
                p.form,
                p.family_name,
                p.given_name,
                p.username,
                p.code,
            ]
            sheet.append(spreadsheets.text_cells(sheet, row))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / XLSX_NAME
        spreadsheets.xlsx_save(workbook, path)
        archive.write(path, XLSX_NAME)


def _year(year_group: str) -> str:
    return f"Year {year_group}" if year_group.isdigit() else year_group


def _group_label(group: tuple[str, str, str]) -> str:
    person_type, year_group, form = group
    parts = [PERSON_TYPE_LABEL.get(person_type, person_type.title() or "People"), _year(year_group)]
    return " · ".join(filter(None, [*parts, f"Form {form}" if form else ""]))


def _file_label(group: tuple[str, str, str]) -> str:
    """A group's PDF name: "Year 7 - 7A" for a form of students, "Staff", "Contacts"."""
    person_type, year_group, form = group
    kind = "" if person_type == "student" else PERSON_TYPE_LABEL.get(person_type, person_type.title() or "People")
    label = " - ".join(filter(None, [kind, _year(year_group), form])) or "Students"
    return UNSAFE_IN_NAME.sub("_", label).strip(" .")[:80] or "Students"


def _unique(label: str, taken: set[str]) -> str:
    """Forms "7/A" and "7_A" both read "7_A": the second becomes "7_A (2)" (case-blind, as Windows is)."""
    name, n = label, 1
    while name.casefold() in taken:
        n += 1
        name = f"{label} ({n})"
    taken.add(name.casefold())
    return name


def _parts(groups: list[tuple[tuple, list[Person]]]) -> Iterator[tuple[str, tuple, int, list[dict]]]:
    """Each PDF's name, group, chunk of the group (from 0) and sheets: a group's sheets, SLIPS_PER_PART slips
    at most, numbered "part 01"..."""
    taken: set[str] = set()
    per_part = SLIPS_PER_PART // SLIPS_PER_PAGE
    for group, members in groups:
        pages = _pages(group, members)
        label = _unique(_file_label(group), taken)
        chunks = [pages[i : i + per_part] for i in range(0, len(pages), per_part)]
        width = max(2, len(str(len(chunks))))
        for number, chunk in enumerate(chunks, 1):
            yield (label if len(chunks) == 1 else f"{label} - part {number:0{width}d}"), group, number - 1, chunk


def _pages(group: tuple[str, str, str], members: list[Person]) -> list[dict]:
    """A group's sheets of at most ten slips: each group starts a new sheet, so a form's slips can be cut
    and handed out without sorting. Sheets are numbered through the group, across its parts."""
    chunks = [members[i : i + SLIPS_PER_PAGE] for i in range(0, len(members), SLIPS_PER_PAGE)]
    return [
        {
            "label": _group_label(group),
            "number": number,
            "of": len(chunks),
            "rows": [chunk[i : i + 2] for i in range(0, len(chunk), 2)],
            "slips": len(chunk),
            "cut_lines": _cut_lines(len(chunk)),
        }
        for number, chunk in enumerate(chunks, 1)
    ]


SLIP_W, SLIP_H = 95, 53  # mm, as the template lays them out: two across, five down


@functools.cache
def _cut_lines(slips: int) -> str:
    """The dashed lines to cut a sheet of this many slips along, as one image drawn behind the sheet: an
    image behind each slip made WeasyPrint draw ten a page (about 7% of its time in a profile of 2,000
    slips; now 1%). Edges that two slips share are drawn once."""
    full, half = divmod(slips, 2)
    rows, width = full + half, 2 * SLIP_W
    path = [f"M0 {SLIP_H * i}H{width}" for i in range(full + 1)] if full else [f"M0 0H{SLIP_W}"]
    path += [f"M0 {SLIP_H * rows}H{SLIP_W}"] if half else []
    path += [f"M0 0V{SLIP_H * rows}", f"M{SLIP_W} 0V{SLIP_H * rows}"]
    path += [f"M{width} 0V{SLIP_H * full}"] if full else []
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{SLIP_H * 5}mm" '
        f'viewBox="0 0 {width} {SLIP_H * 5}"><path d="{"".join(path)}" fill="none" stroke="#8a93a5" '
        'stroke-width="0.3" stroke-dasharray="2 1.2"/></svg>'
    )
    return "data:image/svg+xml," + urllib.parse.quote(svg, safe="")


def _credentials_pdf(*, school: School, pages: list[dict], expires: str, sign_in_url: str) -> bytes:
    html = render_to_string(
        "provisioning/sync/starter_code_slips.html",
        {
            "school_name": school.name,
            "school_caps": school.name.upper(),
            "pages": pages,
            # Formatted by the caller: the template's date filter would show it in the server's zone.
            "expires": expires,
            "sign_in_url": sign_in_url,
        },
    )
    return pdf.render_pdf(html)
