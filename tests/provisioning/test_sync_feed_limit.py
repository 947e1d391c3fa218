"""The feed size limit is one rule (feed_intake.feed_too_large), asked by the API's feed push and the upload
screen alike."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.services.tokens import api_token_issue
from provisioning.models import Feed
from provisioning.sync import feed_intake
from tests.provisioning.sync_helpers import feed_zip, student

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limit(monkeypatch):
    content = feed_zip(students=[student("S1")])
    monkeypatch.setattr(feed_intake, "MAX_FEED_BYTES", len(content) - 1)
    return content


def test_it_refuses_an_export_over_the_limit():
    assert feed_intake.feed_too_large(feed_intake.MAX_FEED_BYTES) is None
    assert feed_intake.feed_too_large(feed_intake.MAX_FEED_BYTES + 1) == "The export is larger than 200 MB."


def test_the_api_refuses_a_feed_over_the_limit(school_a, centre_admin, small_limit):
    _token, raw = api_token_issue(school=school_a, account=centre_admin, name="t", role_codes=["mis_agent"])
    upload = SimpleUploadedFile("feed.zip", small_limit)
    response = Client(HTTP_AUTHORIZATION=f"Token {raw}").post(f"/api/s/{school_a.slug}/sync/feeds/", {"file": upload})

    assert response.status_code == 400
    assert "The export is larger than 0 MB." in response.content.decode()  # whatever the error's JSON shape
    assert not Feed.objects.filter(school=school_a).exists()


def test_the_upload_screen_refuses_a_feed_over_the_limit(login, nominated_contact, school_a, small_limit):
    upload = SimpleUploadedFile("feed.zip", small_limit)
    url = reverse("sync_feed_upload", kwargs={"school_slug": school_a.slug})
    response = login(nominated_contact).post(url, {"files": upload})

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The export is larger than 0 MB. Split it or ask support."
    ]
    assert not Feed.objects.filter(school=school_a).exists()


# --- what a feed unpacks to: found by trying it (a 920 KB zip of blank lines took the web server down) ---
def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def _push(school, account, content: bytes, name="feed.zip"):
    _token, raw = api_token_issue(school=school, account=account, name="t", role_codes=["mis_agent"])
    upload = SimpleUploadedFile(name, content)
    return Client(HTTP_AUTHORIZATION=f"Token {raw}").post(f"/api/s/{school.slug}/sync/feeds/", {"file": upload})


def test_a_zip_of_millions_of_blank_lines_is_refused_before_it_is_read(school_a, centre_admin, monkeypatch):
    monkeypatch.setattr(feed_intake, "MAX_FEED_LINES", 1000)
    bomb = _zip({"contacts.csv": b"mis_code,given_name,family_name\n" + b"\n" * 5000})
    assert len(bomb) < 1000  # it compresses to almost nothing

    response = _push(school_a, centre_admin, bomb)
    assert response.status_code == 422
    assert "contacts.csv has more than 1,000 lines" in response.content.decode()
    feed = Feed.objects.get(school=school_a)
    assert feed.state == Feed.State.REJECTED and feed.file.read() == b""  # the record of the refusal, not the file


def test_a_zip_that_unpacks_past_the_limit_is_refused(school_a, centre_admin, monkeypatch):
    monkeypatch.setattr(feed_intake, "MAX_FEED_UNZIPPED_BYTES", 10_000)
    bomb = _zip({"students.csv": b"mis_code,given_name,family_name\n" + b"S1,Ann,Smith" + b" " * 50_000 + b"\n"})
    response = _push(school_a, centre_admin, bomb)
    assert response.status_code == 422 and "unpacks to more than" in response.content.decode()


def test_a_workbook_the_reader_cannot_parse_is_refused_in_words_and_not_kept(school_a, centre_admin):
    import io

    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "students"
    book.active.append(["mis_code", "given_name", "family_name", "password"])
    book.active.append(["S1", "Ann", "Smith", "Secret-1"])
    out = io.BytesIO()
    book.save(out)
    import zipfile

    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<sheetData>", b"<sheetData>a &amp b <!ENTITY x 'y'>")
            dst.writestr(item, data)

    response = _push(school_a, centre_admin, broken.getvalue(), name="export.xlsx")
    assert response.status_code == 422
    feed = Feed.objects.get(school=school_a)
    assert feed.state == Feed.State.REJECTED and b"Secret-1" not in feed.file.read()


def test_a_cell_past_the_csv_readers_limit_is_said_in_words(school_a, centre_admin):
    huge = _zip({"students.csv": b'mis_code,given_name,family_name\nS1,"' + b"A" * 200_000 + b'",Smith\n'})
    response = _push(school_a, centre_admin, huge)
    assert response.status_code == 422
    text = response.content.decode()
    assert "A cell is longer than 131,072 characters" in text and "field limit" not in text
