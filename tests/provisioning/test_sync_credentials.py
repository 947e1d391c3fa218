"""A sync run's starter codes: one download, a zip of the spreadsheet and the PDF of slips to cut out."""

import io
import os
import re
import zipfile
import zoneinfo
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import AuditEvent, StarterCode
from provisioning.models import SyncRun
from provisioning.sync import credentials, services
from tests.provisioning.sync_helpers import feed_zip, run_sync, staff, student

pytestmark = pytest.mark.django_db

CODE = re.compile(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}")
# Out of order on purpose: the slips come sorted by year group (7 before 10), form, family name.
STUDENTS = [
    student("S1", "Zed", "Adams", year="10", form="10A"),
    student("S2", "Amy", "Brown", year="7", form="7B"),
    student("S3", "Cal", "Clark", year="7", form="7A"),
    student("S4", "Dee", "Abbot", year="7", form="7A"),
    student("S5", "Eve", "Young", year="8", form="8A"),
]
ORDER = ["s4", "s3", "s2", "s5", "s1", "t1"]
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


def _download(client, school, run):
    return client.post(_url("sync_credentials", school, run_id=run.pk))


def _unzip(response) -> tuple[list[tuple], list[str]]:
    """The spreadsheet's rows and the text of each page of the slips."""
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["starter-codes.xlsx", "starter-code-slips.pdf"]
    rows = list(load_workbook(io.BytesIO(archive.read("starter-codes.xlsx"))).active.values)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(archive.read("starter-code-slips.pdf"))).pages]
    return rows, pages


@pytest.fixture
def client_nc(client, nominated_contact):
    client.force_login(nominated_contact)
    return client


def test_it_downloads_one_zip_of_the_spreadsheet_and_the_slips(client_nc, school_a,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    response = _download(client_nc, school_a, run)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    day = timezone.localtime(run.applied_at).strftime("%Y%m%d")
    assert response["Content-Disposition"] == f'attachment; filename="starter-codes-alder-academy-{day}.zip"'
    rows, pages = _unzip(response)
    assert rows[0][5:] == ("User Name", "Starter code")
    assert [r[5] for r in rows[1:]] == ORDER


def test_it_prints_one_slip_per_person_with_their_code(client_nc, school_a, settings,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    settings.ROLLCALL_BASE_URL = "https://rollcall.example.org"
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    rows, pages = _unzip(_download(client_nc, school_a, run))
    code_of = {r[5]: r[6] for r in rows[1:]}
    text = "\n".join(pages)
    printed = CODE.findall(text)
    assert printed == [code_of[u] for u in ORDER]  # every code once, in the sheet's order
    for username in ORDER:
        assert f"User name  {username}" in text
    assert text.count("ALDER ACADEMY") == len(ORDER)
    assert text.count("Sign in at https://rollcall.example.org/accounts/login/") == len(ORDER)
    assert text.count("After signing in with it you choose your own password.") == len(ORDER)
    assert "Dee Abbot" in text and "Year 7 · Form 7A" in text and "Tom Teacher" in text


def test_each_year_group_and_form_starts_its_own_sheet(client_nc, school_a, django_capture_on_commit_callbacks):
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    rows, pages = _unzip(_download(client_nc, school_a, run))
    code_of = {r[5]: r[6] for r in rows[1:]}
    assert [page.splitlines()[0].split(" · Alder Academy")[0] for page in pages] == GROUPS
    assert CODE.findall(pages[0]) == [code_of["s4"], code_of["s3"]]
    assert CODE.findall(pages[4]) == [code_of["t1"]]


def test_a_form_of_more_than_ten_fills_two_sheets(client_nc, school_a, django_capture_on_commit_callbacks):
    students = [student(f"S{i:02d}", "Kit", f"Name{i:02d}", year="9", form="9C") for i in range(12)]
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks, students=students, staff_rows=[])
    _rows, pages = _unzip(_download(client_nc, school_a, run))
    assert len(pages) == 2
    assert "Students · Year 9 · Form 9C · sheet 1 of 2" in pages[0] and "sheet 2 of 2" in pages[1]
    assert [len(CODE.findall(page)) for page in pages] == [10, 2]


def test_the_slip_says_when_the_code_expires_in_the_schools_time(client_nc, school_a,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    school_a.time_zone = "Asia/Tokyo"
    school_a.save(update_fields=["time_zone"])
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    expires = StarterCode.objects.filter(school=school_a, job=run.job).first().expires_at
    assert expires - timezone.now() > timedelta(days=29)
    _rows, pages = _unzip(_download(client_nc, school_a, run))
    local = timezone.localtime(expires, zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert f"This code works once, until {local:%-d %b %Y %H:%M}." in pages[0]


def test_names_in_other_scripts_are_set_in_a_font_that_has_them(client_nc, school_a,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    students = [student("S1", "芳", "王"), student("S2", "محمد", "عبد الله"), student("S3", "प्रिया", "शर्मा")]
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks, students=students, staff_rows=[])
    archive = zipfile.ZipFile(io.BytesIO(_download(client_nc, school_a, run).content))
    pdf = PdfReader(io.BytesIO(archive.read("starter-code-slips.pdf")))
    fonts = {str(f.get_object()["/BaseFont"]) for page in pdf.pages for f in page["/Resources"]["/Font"].values()}
    assert any("CJK" in f for f in fonts) and any("Arabic" in f for f in fonts), fonts
    assert any("Devanagari" in f for f in fonts), fonts
    assert "王" in pdf.pages[0].extract_text()


def test_the_second_download_is_refused(client_nc, school_a, nominated_contact, django_capture_on_commit_callbacks):
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    assert _download(client_nc, school_a, run).status_code == 200
    again = _download(client_nc, school_a, run)
    assert again.status_code == 302 and again["Location"] == _url("sync_run_detail", school_a, run_id=run.pk)
    assert "already been downloaded" in " ".join(m.message for m in get_messages(again.wsgi_request))
    run.refresh_from_db()
    assert not run.credentials and run.credentials_downloaded_at is not None
    events = AuditEvent.objects.filter(school=school_a, action="provisioning.sync_run.credentials_downloaded")
    assert [(e.actor, e.target_id) for e in events] == [(nominated_contact, str(run.pk))]
    page = client_nc.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "Download starter codes" not in page


def test_the_run_page_offers_the_download_until_it_is_taken(client_nc, school_a,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    page = client_nc.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "Download starter codes (spreadsheet and printable slips)" in page


def test_an_expired_sheet_is_refused_and_deleted(client_nc, school_a, django_capture_on_commit_callbacks):
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    path = run.credentials.path
    SyncRun.objects.filter(pk=run.pk).update(credentials_expire_at=timezone.now() - timedelta(minutes=1))
    response = _download(client_nc, school_a, run)
    assert response.status_code == 302
    assert "expired after 24 hours" in " ".join(m.message for m in get_messages(response.wsgi_request))
    run.refresh_from_db()
    assert not run.credentials and run.credentials_downloaded_at is None
    assert not os.path.exists(path)
    assert not AuditEvent.objects.filter(action="provisioning.sync_run.credentials_downloaded").exists()


def test_the_purge_deletes_sheets_left_for_24_hours(school_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        kept = run_sync(school_a, feed_zip([student("S1")]))
    with django_capture_on_commit_callbacks(execute=True):
        old = run_sync(school_a, feed_zip([student("S1"), student("S2")]))
    SyncRun.objects.filter(pk=old.pk).update(credentials_expire_at=timezone.now() - timedelta(seconds=1))
    assert services.credentials_purge() == 1
    kept.refresh_from_db()
    old.refresh_from_db()
    assert kept.credentials and not old.credentials


def test_the_codes_survive_a_failed_render(client_nc, school_a, monkeypatch, django_capture_on_commit_callbacks):
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)

    def broken(**kwargs):
        raise OSError("no fonts")

    monkeypatch.setattr(credentials, "_credentials_pdf", broken)
    with pytest.raises(OSError):
        credentials.credentials_take(school=school_a, actor=None, run=run)
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
    monkeypatch.undo()
    assert _download(client_nc, school_a, run).status_code == 200


def test_all_slips_are_one_html_document(client_nc, school_a, monkeypatch, django_capture_on_commit_callbacks):
    from assessments import certificates

    students = [student(f"S{i:02d}", year=str(7 + i % 5), form=f"{7 + i % 5}{'AB'[i % 2]}") for i in range(30)]
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks, students=students)
    documents = []
    render = certificates.render_pdf
    monkeypatch.setattr(certificates, "render_pdf", lambda html: documents.append(html) or render(html))
    _rows, pages = _unzip(_download(client_nc, school_a, run))
    assert len(documents) == 1 and len(CODE.findall("\n".join(pages))) == 31


def test_another_schools_admin_cannot_take_the_codes(login, other_school_admin, school_a, client_nc,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    run = _applied_run(client_nc, school_a, django_capture_on_commit_callbacks)
    assert login(other_school_admin).post(_url("sync_credentials", school_a, run_id=run.pk)).status_code == 404
    run.refresh_from_db()
    assert run.credentials and run.credentials_downloaded_at is None
