"""The starter slips fanned out over the workers: one task per PDF (a form's slips, or a part of a big group),
then one task that zips them. Tasks are eager here, as under `make run`'s embedded broker."""

import csv
import io
import re
import urllib.parse
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from pypdf import PdfReader

from provisioning import tasks
from provisioning.models import SyncRun
from provisioning.sync import starter_slips as credentials
from tenancy.models import Job

pytestmark = pytest.mark.django_db

CODE = re.compile(r"[A-Z]{4}-[A-Z]{4}-[A-Z]{4}")


def _code(n: int) -> str:
    letters = "".join("ABCDEFGHJK"[int(d)] for d in f"{n:04d}")
    return f"{letters}-CODE-{letters}"


# Three forms and the staff, in no order; names so that the slips' order within a form is known.
PEOPLE = [
    ["student", "7", "7B", f"Name{n:02d}", "Kit", f"b{n:02d}", _code(n)] if n % 3 == 0 else
    ["student", "7", "7A", f"Name{n:02d}", "Kit", f"a{n:02d}", _code(n)] if n % 3 == 1 else
    ["student", "8", "8A", f"Name{n:02d}", "Kit", f"c{n:02d}", _code(n)] if n % 5 else
    ["staff", "", "", f"Name{n:02d}", "Sam", f"t{n:02d}", _code(n)]
    for n in reversed(range(40))
]  # fmt: skip
PDFS = ["slips/Year 7 - 7A.pdf", "slips/Year 7 - 7B.pdf", "slips/Year 8 - 8A.pdf", "slips/Staff.pdf"]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def sent(monkeypatch):
    """The parts' and the finish's messages, recorded as they are sent, and still run (eager)."""
    log = []
    for task in (tasks.sync_credentials_part, tasks.sync_credentials_finish):
        monkeypatch.setattr(task, "delay", lambda *args, _task=task: log.append((_task.name, args)) or _task(*args))
    return log


def _stored_run(school, rows=PEOPLE) -> SyncRun:
    """A run whose codes file holds these rows, as services._store_credentials writes them."""
    run = SyncRun.objects.create(school=school, trigger="manual", state="applied", applied_at=timezone.now())
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    run.credentials.save(f"{run.pk}.csv", ContentFile(out.getvalue().encode()), save=False)
    run.credentials_expire_at = timezone.now() + timedelta(hours=24)
    run.save()
    return run


def _prepare(school, actor, run, capture) -> Job:
    with capture(execute=True):
        job = credentials.credentials_prepare_start(school=school, actor=actor, run=run)
    job.refresh_from_db()
    return job


def _zip(job) -> zipfile.ZipFile:
    return zipfile.ZipFile(credentials._storage().path(job.params["zip"]))


def _codes(archive, name) -> list[str]:
    return [c for page in PdfReader(io.BytesIO(archive.read(name))).pages for c in CODE.findall(page.extract_text())]


def _files_of(run) -> list[str]:
    return sorted(n for n in credentials._storage().listdir("sync-credentials")[1] if n.startswith(str(run.pk)))


def test_every_persons_slip_is_in_the_zip_once_in_their_forms_pdf(school_a, nominated_contact, capture):
    run = _stored_run(school_a)
    job = _prepare(school_a, nominated_contact, run, capture)
    assert job.state == "succeeded" and job.counts == {"slips": 40, "pdfs": 4}
    archive = _zip(job)
    assert archive.namelist() == ["starter-codes.xlsx", *PDFS]
    for name, group in zip(PDFS, [("7", "7A"), ("7", "7B"), ("8", "8A"), ("", "")], strict=True):
        members = sorted((r for r in PEOPLE if (r[1], r[2]) == group), key=lambda r: r[3])
        assert _codes(archive, name) == [r[6] for r in members], name
    assert sorted(c for name in PDFS for c in _codes(archive, name)) == sorted(r[6] for r in PEOPLE)


def test_each_pdf_is_its_own_task_then_one_task_zips_them(school_a, nominated_contact, capture, sent):
    run = _stored_run(school_a)
    job = _prepare(school_a, nominated_contact, run, capture)
    ids = (str(school_a.pk), str(job.pk), 1)
    biggest_first = [1, 0, 2, 3]  # 7B has 14 slips, 7A 13, 8A 10, the staff 3
    parts = [("provisioning.sync_credentials_part", (*ids, index)) for index in biggest_first]
    assert sent == [*parts, ("provisioning.sync_credentials_finish", ids)]
    assert [p["name"] for p in job.params["parts"]] == [n[6:-4] for n in PDFS]
    assert (job.progress_done, job.progress_total) == (40, 40) and "parts_done" not in job.params
    assert _files_of(run) == sorted([f"{run.pk}.csv", f"{run.pk}-{job.pk}-1.zip"])  # the parts' files went


def test_a_failed_part_fails_the_job_with_its_reason_and_leaves_no_files(
    school_a, nominated_contact, capture, monkeypatch
):
    run = _stored_run(school_a)
    render, rendered = credentials._credentials_pdf, []

    def fails_on_8a(**kwargs):
        rendered.append(kwargs["pages"][0]["label"])
        if "8A" in kwargs["pages"][0]["label"]:
            raise OSError("out of disk")
        return render(**kwargs)

    monkeypatch.setattr(credentials, "_credentials_pdf", fails_on_8a)
    job = _prepare(school_a, nominated_contact, run, capture)
    assert job.state == "failed" and job.error.endswith("changed nothing: out of disk")
    assert len(rendered) == 3  # the part after the failed one found the job failed and rendered nothing
    assert "zip" not in job.params and "parts_done" not in job.params
    assert _files_of(run) == [f"{run.pk}.csv"]
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
    monkeypatch.undo()
    again = _prepare(school_a, nominated_contact, run, capture)
    assert again != job and again.state == "succeeded" and _zip(again).namelist()[1:] == PDFS


def test_a_part_or_finish_delivered_twice_makes_no_second_file(school_a, nominated_contact, capture, monkeypatch):
    run = _stored_run(school_a)
    finishes = []
    monkeypatch.setattr(tasks.sync_credentials_finish, "delay", lambda *args: finishes.append(args))
    job = _prepare(school_a, nominated_contact, run, capture)
    assert job.state == "running" and len(job.params["parts_done"]) == 4 and len(finishes) == 1
    parts = sorted(job.params["parts_done"].values())
    rendered = []
    render = credentials._credentials_pdf
    monkeypatch.setattr(credentials, "_credentials_pdf", lambda **kw: rendered.append(1) or render(**kw))
    tasks.sync_credentials_part(str(school_a.pk), str(job.pk), 1, 2)  # the broker delivers part 3 again
    job.refresh_from_db()
    assert rendered == [] and sorted(job.params["parts_done"].values()) == parts and len(finishes) == 2
    assert len(_files_of(run)) == 1 + 4  # the codes and the four parts
    tasks.sync_credentials_finish(*finishes[0])
    tasks.sync_credentials_finish(*finishes[1])
    job.refresh_from_db()
    assert job.state == "succeeded" and job.progress_done == 40
    assert _files_of(run) == sorted([f"{run.pk}.csv", f"{run.pk}-{job.pk}-1.zip"])
    assert _zip(job).namelist()[1:] == PDFS


def test_a_job_taken_up_again_drops_the_first_attempts_parts(school_a, nominated_contact, capture, monkeypatch):
    run = _stored_run(school_a)
    held = []
    monkeypatch.setattr(tasks.sync_credentials_part, "delay", lambda *args: held.append(args))
    with capture(execute=False) as first:
        job = credentials.credentials_prepare_start(school=school_a, actor=nominated_contact, run=run)
    first[0]()  # attempt 1 plans its parts; their messages wait behind other work
    first_parts, held[:] = list(held), []
    tasks.sync_credentials_part(*first_parts[0])  # one of them gets done...
    stale = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(started_at=stale, heartbeat_at=stale)  # ...then its worker goes quiet
    first[0]()  # the broker hands the job's message back: attempt 2
    job.refresh_from_db()
    assert job.attempts == 2 and job.params["attempt"] == 2 and job.params["parts_done"] == {}
    assert _files_of(run) == [f"{run.pk}.csv"]  # attempt 1's part went with its plan
    render, rendered = credentials._credentials_pdf, []
    monkeypatch.setattr(credentials, "_credentials_pdf", lambda **kw: rendered.append(1) or render(**kw))
    for args in first_parts[1:]:
        tasks.sync_credentials_part(*args)  # attempt 1's other parts come late: nothing rendered or kept
    job.refresh_from_db()
    assert rendered == [] and job.params["parts_done"] == {} and _files_of(run) == [f"{run.pk}.csv"]
    for args in held:
        tasks.sync_credentials_part(*args)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.counts == {"slips": 40, "pdfs": 4}
    assert _files_of(run) == sorted([f"{run.pk}.csv", f"{run.pk}-{job.pk}-2.zip"])


def test_the_purge_deletes_the_parts_of_a_job_that_stopped_part_way(school_a, nominated_contact, capture, monkeypatch):
    run = _stored_run(school_a)
    monkeypatch.setattr(tasks.sync_credentials_finish, "delay", lambda *args: None)  # lost with its worker
    job = _prepare(school_a, nominated_contact, run, capture)
    assert len(_files_of(run)) == 1 + 4
    assert credentials.credentials_purge() == 0 and len(_files_of(run)) == 1 + 4  # within its 24 hours: kept
    SyncRun.objects.filter(pk=run.pk).update(credentials_expire_at=timezone.now() - timedelta(seconds=1))
    assert credentials.credentials_purge() == 1
    assert _files_of(run) == []
    job.refresh_from_db()
    assert "parts_done" not in job.params


def test_one_schools_failed_slips_leave_another_schools_alone(
    school_a, school_b, nominated_contact, capture, monkeypatch
):
    render = credentials._credentials_pdf

    def fails_for_school_a(**kwargs):
        if kwargs["school"] == school_a:
            raise OSError("no fonts")
        return render(**kwargs)

    monkeypatch.setattr(credentials, "_credentials_pdf", fails_for_school_a)
    run_a, run_b = _stored_run(school_a), _stored_run(school_b)
    job_a = _prepare(school_a, nominated_contact, run_a, capture)
    job_b = _prepare(school_b, None, run_b, capture)
    assert job_a.state == "failed" and "no fonts" in job_a.error and _files_of(run_a) == [f"{run_a.pk}.csv"]
    assert job_b.state == "succeeded" and _zip(job_b).namelist()[1:] == PDFS


def test_a_sheets_cut_lines_go_round_its_slips_only():
    def path(slips):
        svg = urllib.parse.unquote(credentials._cut_lines(slips).split(",", 1)[1])
        return re.search(r' d="([^"]*)"', svg).group(1)

    # Three slips: two rows across the sheet's width, the second row's left half only.
    assert path(3) == "M0 0H190M0 53H190M0 106H95M0 0V106M95 0V106M190 0V53"
    assert path(1) == "M0 0H95M0 53H95M0 0V53M95 0V53"
    assert path(10).count("H190") == 6 and "M190 0V265" in path(10)
