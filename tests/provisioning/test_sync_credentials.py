"""A sync run's starter codes: "Prepare starter codes" builds a zip of the spreadsheet and a PDF of slips per
group in the background; it is downloaded once, within 24 hours, and then the codes are gone."""

import csv
import io
import os
import re
import zipfile
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import AuditEvent, StarterCode
from provisioning import tasks
from provisioning.models import SyncRun
from provisioning.sync import starter_slips as credentials
from tenancy.models import Job
from tests.provisioning.sync_helpers import feed_zip, run_sync, staff, student

pytestmark = pytest.mark.django_db

CODE = re.compile(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}")
CODE_LIKE = re.compile(r"ABCD-EFGH-\d{4}")
# Out of order on purpose: the slips come sorted by year group (7 before 10), form, family name.
STUDENTS = [
    student("S1", "Zed", "Adams", year="10", form="10A"),
    student("S2", "Amy", "Brown", year="7", form="7B"),
    student("S3", "Cal", "Clark", year="7", form="7A"),
    student("S4", "Dee", "Abbot", year="7", form="7A"),
    student("S5", "Eve", "Young", year="8", form="8A"),
]
ORDER = ["s4", "s3", "s2", "s5", "s1", "t1"]
FILES = ["starter-codes.xlsx", "slips/Year 7 - 7A.pdf", "slips/Year 7 - 7B.pdf", "slips/Year 8 - 8A.pdf",
         "slips/Year 10 - 10A.pdf", "slips/Staff.pdf"]  # fmt: skip
GROUPS = ["Students · Year 7 · Form 7A", "Students · Year 7 · Form 7B", "Students · Year 8 · Form 8A",
          "Students · Year 10 · Form 10A", "Staff"]  # fmt: skip


def _url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


def _applied_run(client, school, capture, *, students=STUDENTS, staff_rows=None) -> SyncRun:
    """Upload, preview and apply through the screens, so the codes are issued by the run's job."""
    export = feed_zip(students=students, staff_rows=staff_rows if staff_rows is not None else [staff("T1")])
    client.post(_url("sync_feed_upload", school), {"files": SimpleUploadedFile("export.zip", export)})
    with capture(execute=True):
        client.post(_url("sync_start", school))
    run = SyncRun.objects.get(school=school, state="planned")
    with capture(execute=True):
        client.post(_url("sync_apply", school, run_id=run.pk))
    run.refresh_from_db()
    assert run.state == "applied" and run.credentials
    return run


def _stored_run(school, rows) -> SyncRun:
    """A run whose codes file holds these rows, as services._store_credentials writes them."""
    run = SyncRun.objects.create(school=school, trigger="manual", state="applied", applied_at=timezone.now())
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    run.credentials.save(f"{run.pk}.csv", ContentFile(out.getvalue().encode()), save=False)
    run.credentials_expire_at = timezone.now() + timedelta(hours=24)
    run.save()
    return run


def _prepare(client, school, run, capture):
    """Press the button and let the job run, as the worker would once the request commits."""
    with capture(execute=True):
        response = client.post(_url("sync_credentials", school, run_id=run.pk))
    assert response.status_code == 302
    return credentials.credentials_job(school=school, run=run)


def _download(client, school, run):
    return client.get(_url("sync_credentials_download", school, run_id=run.pk))


def _take(client, school, run, capture) -> bytes:
    _prepare(client, school, run, capture)
    response = _download(client, school, run)
    assert response.status_code == 200, response
    return response.getvalue()


def _unzip(content: bytes) -> tuple[list[tuple], dict[str, list[str]]]:
    """The spreadsheet's rows and, for each PDF of slips, the text of its pages."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    rows = list(load_workbook(io.BytesIO(archive.read(credentials.XLSX_NAME))).active.values)
    pdfs = {
        name: [page.extract_text() for page in PdfReader(io.BytesIO(archive.read(name))).pages]
        for name in archive.namelist()
        if name.endswith(".pdf")
    }
    return rows, pdfs


def _messages(response) -> str:
    return " ".join(m.message for m in get_messages(response.wsgi_request))


def _zip_path(job) -> str:
    return credentials._storage().path(job.params["zip"])


def _files_of(run) -> list[str]:
    """The run's files in storage: its codes, and any zip of them."""
    return sorted(n for n in credentials._storage().listdir("sync-credentials")[1] if n.startswith(str(run.pk)))


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    """Runs what the request sent on commit (the job's task, eager in tests) as the worker would."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def client_nc(client, nominated_contact):
    client.force_login(nominated_contact)
    return client


def test_it_prepares_one_zip_of_the_spreadsheet_and_a_pdf_per_form(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    job = _prepare(client_nc, school_a, run, capture)
    assert (
        job.state == "succeeded"
        and job.kind == "sync_credentials"
        and job.get_kind_display() == "Prepare starter codes"
    )
    assert (job.progress_done, job.progress_total, job.counts) == (6, 6, {"slips": 6, "pdfs": 5})
    response = _download(client_nc, school_a, run)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    day = timezone.localtime(run.applied_at).strftime("%Y%m%d")
    assert response["Content-Disposition"] == f'attachment; filename="starter-codes-alder-academy-{day}.zip"'
    content = response.getvalue()
    assert zipfile.ZipFile(io.BytesIO(content)).namelist() == FILES
    rows, _pdfs = _unzip(content)
    assert rows[0][5:] == ("User Name", "Starter code")
    assert [r[5] for r in rows[1:]] == ORDER
    assert {r[0] for r in rows[1:]} <= {"Student", "Staff", "Contact"}  # in words, not "student"


def test_it_prints_one_slip_per_person_with_their_code(client_nc, school_a, settings, capture):
    settings.ROLLCALL_BASE_URL = "https://rollcall.example.org"
    run = _applied_run(client_nc, school_a, capture)
    rows, pdfs = _unzip(_take(client_nc, school_a, run, capture))
    code_of = {r[5]: r[6] for r in rows[1:]}
    text = "\n".join(page for pages in pdfs.values() for page in pages)
    assert CODE.findall(text) == [code_of[u] for u in ORDER]  # every code once, in the sheet's order
    for username in ORDER:
        assert f"User name  {username}" in text
    assert text.count("ALDER ACADEMY") == len(ORDER)
    assert text.count("Sign in at https://rollcall.example.org/accounts/login/") == len(ORDER)
    assert text.count("After signing in with it you choose your own password.") == len(ORDER)
    assert "Dee Abbot" in text and "Year 7 · Form 7A" in text and "Tom Teacher" in text
    assert CODE.findall("".join(pdfs["slips/Year 7 - 7A.pdf"])) == [code_of["s4"], code_of["s3"]]


def test_the_slips_say_where_to_sign_in_from_the_request_without_a_base_url(client_nc, school_a, settings, capture):
    settings.ROLLCALL_BASE_URL = ""
    run = _applied_run(client_nc, school_a, capture)
    _rows, pdfs = _unzip(_take(client_nc, school_a, run, capture))
    assert "Sign in at http://testserver/accounts/login/" in pdfs["slips/Staff.pdf"][0]


def test_each_year_group_and_form_starts_its_own_sheet(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    _rows, pdfs = _unzip(_take(client_nc, school_a, run, capture))
    assert [len(pages) for pages in pdfs.values()] == [1, 1, 1, 1, 1]
    assert [pages[0].splitlines()[0].split(" · Alder Academy")[0] for pages in pdfs.values()] == GROUPS


def test_a_form_of_more_than_ten_fills_two_sheets(client_nc, school_a, capture):
    students = [student(f"S{i:02d}", "Kit", f"Name{i:02d}", year="9", form="9C") for i in range(12)]
    run = _applied_run(client_nc, school_a, capture, students=students, staff_rows=[])
    _rows, pdfs = _unzip(_take(client_nc, school_a, run, capture))
    pages = pdfs["slips/Year 9 - 9C.pdf"]
    assert list(pdfs) == ["slips/Year 9 - 9C.pdf"] and len(pages) == 2
    assert "Students · Year 9 · Form 9C · sheet 1 of 2" in pages[0] and "sheet 2 of 2" in pages[1]
    assert [len(CODE.findall(page)) for page in pages] == [10, 2]


def test_a_group_of_more_than_500_is_split_into_parts(client_nc, school_a, capture):
    rows = [["contact", "", "", f"Parent{i:04d}", "Pat", f"p{i:04d}", f"ABCD-EFGH-{i:04d}"] for i in range(501)]
    rows += [["student", "7", "7A", "Abbot", "Dee", "s1", "WXYZ-WXYZ-WXYZ"]]
    run = _stored_run(school_a, rows[::-1])
    job = _prepare(client_nc, school_a, run, capture)
    assert job.counts == {"slips": 502, "pdfs": 3} and job.progress_done == job.progress_total == 502
    archive = zipfile.ZipFile(io.BytesIO(_take(client_nc, school_a, run, capture)))
    assert archive.namelist() == ["starter-codes.xlsx", "slips/Year 7 - 7A.pdf", "slips/Contacts - part 01.pdf",
                                  "slips/Contacts - part 02.pdf"]  # fmt: skip
    sheet = [r[6] for r in list(load_workbook(io.BytesIO(archive.read("starter-codes.xlsx"))).active.values)[2:]]
    assert sheet == [f"ABCD-EFGH-{i:04d}" for i in range(501)]
    first = PdfReader(io.BytesIO(archive.read("slips/Contacts - part 01.pdf"))).pages
    second = PdfReader(io.BytesIO(archive.read("slips/Contacts - part 02.pdf"))).pages
    assert (len(first), len(second)) == (50, 1)  # reading every page's text would take longer than the render
    sheets = [first[0].extract_text(), first[49].extract_text(), second[0].extract_text()]
    assert ["sheet 1 of 51" in sheets[0], "sheet 50 of 51" in sheets[1], "sheet 51 of 51" in sheets[2]] == [True] * 3
    assert [CODE_LIKE.findall(text) for text in sheets] == [sheet[:10], sheet[490:500], sheet[500:]]


def test_group_names_that_a_file_system_would_refuse_are_made_safe(client_nc, school_a, capture):
    rows = [["student", "7", "7/A", "A", "Ann", "s1", "AAAA-AAAA-AAAA"],
            ["student", "7", "7_A", "B", "Bob", "s2", "BBBB-BBBB-BBBB"],
            ["student", "", "", "C", "Cat", "s3", "CCCC-CCCC-CCCC"]]  # fmt: skip
    run = _stored_run(school_a, rows)
    archive = zipfile.ZipFile(io.BytesIO(_take(client_nc, school_a, run, capture)))
    assert archive.namelist()[1:] == ["slips/Year 7 - 7_A.pdf", "slips/Year 7 - 7_A (2).pdf", "slips/Students.pdf"]
    assert "Form 7/A" in PdfReader(io.BytesIO(archive.read("slips/Year 7 - 7_A.pdf"))).pages[0].extract_text()


def test_each_part_is_rendered_on_its_own_as_the_progress_moves(client_nc, school_a, monkeypatch, capture):
    from tenancy import pdf

    students = [student(f"S{i:02d}", year=str(7 + i % 5), form=f"{7 + i % 5}{'AB'[i % 2]}") for i in range(30)]
    run = _applied_run(client_nc, school_a, capture, students=students)
    documents, progress = [], []
    render, record = pdf.render_pdf, credentials.job_progress
    monkeypatch.setattr(pdf, "render_pdf", lambda html: documents.append(html) or render(html))
    monkeypatch.setattr(credentials, "job_progress", lambda job, **kw: progress.append(kw) or record(job, **kw))
    job = _prepare(client_nc, school_a, run, capture)
    assert len(documents) == 11 and job.counts == {"slips": 31, "pdfs": 11}
    assert progress[0] == {"done": 0, "total": 31} and progress[-1] == {"done": 31}
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress) and len(progress) == 12


def test_the_slip_says_when_the_code_expires_in_the_schools_time(client_nc, school_a, capture):
    school_a.time_zone = "Asia/Tokyo"
    school_a.save(update_fields=["time_zone"])
    run = _applied_run(client_nc, school_a, capture)
    expires = StarterCode.objects.filter(school=school_a, job=run.job).first().expires_at
    assert expires - timezone.now() > timedelta(days=29)
    _rows, pdfs = _unzip(_take(client_nc, school_a, run, capture))
    local = timezone.localtime(expires, zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"This code works once, until {local:%-d %b %Y %H:%M}." in pdfs["slips/Staff.pdf"][0]


def test_names_in_other_scripts_are_set_in_a_font_that_has_them(client_nc, school_a, capture):
    students = [student("S1", "芳", "王"), student("S2", "محمد", "عبد الله"), student("S3", "प्रिया", "शर्मा")]
    run = _applied_run(client_nc, school_a, capture, students=students, staff_rows=[])
    archive = zipfile.ZipFile(io.BytesIO(_take(client_nc, school_a, run, capture)))
    pdf = PdfReader(io.BytesIO(archive.read("slips/Year 7 - 7A.pdf")))
    fonts = {str(f.get_object()["/BaseFont"]) for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert any("CJK" in f for f in fonts) and any("Arabic" in f for f in fonts), fonts
    assert any("Devanagari" in f for f in fonts), fonts
    assert "王" in pdf.pages[0].extract_text()


def test_the_run_page_shows_the_button_then_the_progress_then_the_download(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    detail = _url("sync_run_detail", school_a, run_id=run.pk)
    assert "Download starter codes (spreadsheet and printable slips)" in client_nc.get(detail).content.decode()
    with capture(execute=False) as sent:
        client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
    page = client_nc.get(detail).content.decode()
    progress = _url("sync_credentials_progress", school_a, run_id=run.pk)
    assert f'hx-get="{progress}"' in page and "Prepare starter codes: queued" in page
    assert "Download starter codes (spreadsheet and printable slips)" not in page
    job = credentials.credentials_job(school=school_a, run=run)
    tasks.sync_credentials_prepare(str(school_a.pk), str(job.pk))
    assert len(sent) == 1
    box = client_nc.get(progress).content.decode()
    assert "hx-get" not in box and f'href="{_url("sync_credentials_download", school_a, run_id=run.pk)}"' in box
    assert ">Download</a>" in box and "6 slips in 5 PDFs" in box


def test_a_second_press_shows_the_job_already_started(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    with capture(execute=False) as sent:
        client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
        client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
    assert len(sent) == 1 and Job.objects.filter(school=school_a, kind="sync_credentials").count() == 1
    job = _prepare(client_nc, school_a, run, capture)  # ready: still the same job
    assert Job.objects.filter(school=school_a, kind="sync_credentials").get() == job
    assert job.state == "queued"  # the worker never got it in this test: its message was not sent


def test_a_redelivered_job_does_nothing_new(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    job = _prepare(client_nc, school_a, run, capture)
    path = _zip_path(job)
    before = (os.stat(path).st_mtime_ns, sorted(os.listdir(os.path.dirname(path))))
    tasks.sync_credentials_prepare(str(school_a.pk), str(job.pk))
    job.refresh_from_db()
    assert job.state == "succeeded" and job.attempts == 1 and _zip_path(job) == path
    assert (os.stat(path).st_mtime_ns, sorted(os.listdir(os.path.dirname(path)))) == before


def test_a_job_taken_up_again_after_its_worker_was_lost_leaves_one_zip(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    with capture(execute=False) as sent:
        client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
    job = credentials.credentials_job(school=school_a, run=run)
    lost = credentials._storage().save(f"sync-credentials/{run.pk}-{job.pk}-1.zip", ContentFile(b"half a zip"))
    Job.objects.filter(pk=job.pk).update(state="running", attempts=1, started_at=timezone.now() - timedelta(hours=1))
    sent[0]()  # the broker delivers the message again; the job is taken up as abandoned
    job.refresh_from_db()
    assert job.state == "succeeded" and job.attempts == 2
    assert _files_of(run) == sorted([f"{run.pk}.csv", f"{run.pk}-{job.pk}-2.zip"]) and lost not in _files_of(run)
    assert zipfile.ZipFile(_zip_path(job)).namelist() == FILES


def test_of_two_attempts_running_at_once_the_first_to_finish_is_kept(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    job = _prepare(client_nc, school_a, run, capture)
    kept = job.params["zip"]
    job.attempts = 2  # a second attempt, claimed while the first still ran, finishes after it
    second = credentials._storage().save(f"sync-credentials/{run.pk}-{job.pk}-2.zip", ContentFile(b"PK"))
    credentials._prepared(job, run, second, {"slips": 6, "pdfs": 5})
    job.refresh_from_db()
    assert job.state == "succeeded" and job.params["zip"] == kept
    assert _files_of(run) == sorted([f"{run.pk}.csv", os.path.basename(kept)])


def test_the_second_download_is_refused(client_nc, school_a, nominated_contact, capture):
    run = _applied_run(client_nc, school_a, capture)
    csv_path = run.credentials.path
    job = _prepare(client_nc, school_a, run, capture)
    zip_path = _zip_path(job)
    assert _download(client_nc, school_a, run).getvalue()[:2] == b"PK"
    assert not os.path.exists(zip_path) and not os.path.exists(csv_path)
    again = _download(client_nc, school_a, run)
    assert again.status_code == 302 and again["Location"] == _url("sync_run_detail", school_a, run_id=run.pk)
    assert "already been downloaded" in _messages(again)
    run.refresh_from_db()
    assert not run.credentials and run.credentials_downloaded_at is not None
    job.refresh_from_db()
    assert "zip" not in job.params
    events = AuditEvent.objects.filter(school=school_a, action="provisioning.sync_run.credentials_downloaded")
    assert [(e.actor, e.target_id) for e in events] == [(nominated_contact, str(run.pk))]
    page = client_nc.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "Download starter codes" not in page
    # The section stays, saying who took the codes and when.
    assert f"Starter codes downloaded by {nominated_contact.full_name} on " in page
    pressed = client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
    assert "already been downloaded" in _messages(pressed)
    assert Job.objects.filter(school=school_a, kind="sync_credentials").count() == 1


def test_the_download_waits_for_the_zip(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    early = _download(client_nc, school_a, run)
    assert early.status_code == 302 and "not ready to download yet" in _messages(early)
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None


def test_a_zip_that_went_missing_can_be_prepared_again(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    os.unlink(_zip_path(_prepare(client_nc, school_a, run, capture)))
    response = _download(client_nc, school_a, run)
    assert response.status_code == 302 and "not ready to download yet" in _messages(response)
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
    page = client_nc.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "Download starter codes (spreadsheet and printable slips)" in page
    again = _prepare(client_nc, school_a, run, capture)
    assert again.state == "succeeded" and _download(client_nc, school_a, run).status_code == 200


def test_a_head_request_does_not_take_the_codes(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    _prepare(client_nc, school_a, run, capture)
    assert client_nc.head(_url("sync_credentials_download", school_a, run_id=run.pk)).status_code == 405
    assert _download(client_nc, school_a, run).status_code == 200


def test_an_expired_sheet_is_refused_and_deleted(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    csv_path = run.credentials.path
    zip_path = _zip_path(_prepare(client_nc, school_a, run, capture))
    SyncRun.objects.filter(pk=run.pk).update(credentials_expire_at=timezone.now() - timedelta(minutes=1))
    response = _download(client_nc, school_a, run)
    assert response.status_code == 302 and "expired after 24 hours" in _messages(response)
    run.refresh_from_db()
    assert not run.credentials and run.credentials_downloaded_at is None
    assert not os.path.exists(csv_path) and not os.path.exists(zip_path)
    assert not AuditEvent.objects.filter(action="provisioning.sync_run.credentials_downloaded").exists()


def test_an_expired_sheet_cannot_be_prepared(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    SyncRun.objects.filter(pk=run.pk).update(credentials_expire_at=timezone.now() - timedelta(minutes=1))
    response = client_nc.post(_url("sync_credentials", school_a, run_id=run.pk))
    assert "expired after 24 hours" in _messages(response)
    assert not Job.objects.filter(school=school_a, kind="sync_credentials").exists()


def test_the_purge_deletes_sheets_and_zips_left_for_24_hours(client_nc, school_a, capture):
    with capture(execute=True):
        kept = run_sync(school_a, feed_zip([student("S1")]))
    with capture(execute=True):
        old = run_sync(school_a, feed_zip([student("S1"), student("S2")]))
    kept_zip = _zip_path(_prepare(client_nc, school_a, kept, capture))
    old_job = _prepare(client_nc, school_a, old, capture)
    old_zip = _zip_path(old_job)
    SyncRun.objects.filter(pk=old.pk).update(credentials_expire_at=timezone.now() - timedelta(seconds=1))
    assert credentials.credentials_purge() == 1
    kept.refresh_from_db()
    old.refresh_from_db()
    assert kept.credentials and not old.credentials
    assert os.path.exists(kept_zip) and not os.path.exists(old_zip)
    old_job.refresh_from_db()
    assert "zip" not in old_job.params and old_job.state == "succeeded"


def test_the_purge_deletes_a_zip_whose_sending_was_cut_off(client_nc, school_a, capture):
    run = _applied_run(client_nc, school_a, capture)
    zip_path = _zip_path(_prepare(client_nc, school_a, run, capture))
    response = _download(client_nc, school_a, run)  # never read to the end: the response is never closed
    assert response.status_code == 200 and os.path.exists(zip_path)
    assert credentials.credentials_purge() == 0 and os.path.exists(zip_path)
    SyncRun.objects.filter(pk=run.pk).update(credentials_expire_at=timezone.now() - timedelta(seconds=1))
    credentials.credentials_purge()
    assert not os.path.exists(zip_path)
    assert response.getvalue()[:2] == b"PK"  # the open file still reads; closing it finds nothing left to delete


def test_the_codes_survive_a_failed_render(client_nc, school_a, monkeypatch, capture):
    run = _applied_run(client_nc, school_a, capture)

    def broken(**kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(credentials, "_credentials_pdf", broken)
    job = _prepare(client_nc, school_a, run, capture)
    assert job.state == "failed" and "no fonts" in job.error and "zip" not in job.params
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
    page = client_nc.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "no fonts" in page and "Download starter codes (spreadsheet and printable slips)" in page
    monkeypatch.undo()
    again = _prepare(client_nc, school_a, run, capture)
    assert again != job and again.state == "succeeded"
    assert _download(client_nc, school_a, run).status_code == 200


def test_codes_taken_while_the_zip_was_made_leave_no_zip(client_nc, school_a, monkeypatch, capture):
    run = _applied_run(client_nc, school_a, capture)
    render = credentials._credentials_pdf

    def taken_meanwhile(**kwargs):
        SyncRun.objects.filter(pk=run.pk).update(credentials_downloaded_at=timezone.now())
        return render(**kwargs)

    monkeypatch.setattr(credentials, "_credentials_pdf", taken_meanwhile)
    job = _prepare(client_nc, school_a, run, capture)
    assert job.state == "failed" and "already been downloaded" in job.error and "zip" not in job.params
    assert _files_of(run) == [f"{run.pk}.csv"]


def test_another_schools_admin_cannot_prepare_watch_or_take_the_codes(
    login, other_school_admin, school_a, client_nc, capture
):
    run = _applied_run(client_nc, school_a, capture)
    _prepare(client_nc, school_a, run, capture)
    other = login(other_school_admin)
    assert other.post(_url("sync_credentials", school_a, run_id=run.pk)).status_code == 404
    assert other.get(_url("sync_credentials_progress", school_a, run_id=run.pk)).status_code == 404
    assert other.get(_url("sync_credentials_download", school_a, run_id=run.pk)).status_code == 404
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
    assert Job.objects.filter(school=school_a, kind="sync_credentials").count() == 1


def test_history_viewers_cannot_prepare_or_take_the_codes(login, school_a, client_nc, capture):
    from tests.factories import member

    run = _applied_run(client_nc, school_a, capture)
    _prepare(client_nc, school_a, run, capture)
    client = login(member(school_a, "access_slt").account)
    assert "starter-codes" not in client.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert client.get(_url("sync_credentials_download", school_a, run_id=run.pk)).status_code == 403
    assert client.post(_url("sync_credentials", school_a, run_id=run.pk)).status_code == 403
