"""Feeds from other systems may carry plaintext passwords: the column is dropped when the feed arrives, so the
stored file never holds it, and the sync still plans from what is left."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.services.tokens import api_token_issue
from provisioning.models import Feed, SyncRun
from provisioning.sync import services
from provisioning.sync.feed_secrets import is_secret_header
from tenancy import spreadsheets
from tests.provisioning.sync_helpers import STUDENT_HEADER, csv_text, feed_zip, receive, staff, student
from tests.provisioning.test_sync_oneroster import ORGS, bundle

pytestmark = pytest.mark.django_db

SECRETS = ["Hunter2!secret", "Tr0ub4dor&3", "c0rrect-horse"]


def _stored_text(feed: Feed) -> str:
    """Every byte the stored feed holds, as text: each member of a zip (sheets of an xlsx included)."""
    with feed.file.open("rb") as handle:
        data = handle.read()
    if data[:2] != b"PK":
        return data.decode("utf-8", errors="replace")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(archive.read(n).decode("utf-8", errors="replace") for n in archive.namelist())


def _assert_no_secrets(feed: Feed) -> None:
    text = _stored_text(feed)
    for secret in SECRETS:
        assert secret not in text
    assert "password" not in text.lower() and "pwd" not in text.lower()


def _rollcall_feed_with_passwords() -> bytes:
    students = [[*student("S1", "Ann", "Adams"), SECRETS[0]], [*student("S2", "Bob", "Brown"), SECRETS[1]]]
    staff_rows = [[SECRETS[2], *staff("T1")]]
    return feed_zip(
        extra={
            "students.csv": csv_text([*STUDENT_HEADER, "Password"], students),
            "staff.csv": csv_text(["Initial Password", "mis_code", "given_name", "family_name", "email", "staff_roles"],
                                  staff_rows),
        }
    )  # fmt: skip


def _planned(school, feed: Feed) -> SyncRun:
    run = SyncRun.objects.create(school=school, feed=feed, trigger="manual", dry_run=True)
    services.sync_plan(run=run)
    assert run.state == "planned", run.message
    return run


@pytest.mark.parametrize(
    "header",
    ["Password", "password", "PASSWD", "pwd", "Initial Password", "initial_password", "User-Password", "Temp PWD",
     "\ufeffPassword", "StudentPassword", "pass"],
)  # fmt: skip
def test_every_spelling_of_a_password_header_is_a_secret(header):
    assert is_secret_header(header)


@pytest.mark.parametrize("header", ["mis_code", "given_name", "email", "passport_number", "compass_id", ""])
def test_ordinary_headers_are_not(header):
    assert not is_secret_header(header)


def test_a_feed_pushed_through_the_api_is_stored_without_its_password_columns(client, school_a, nominated_contact):
    _token, raw = api_token_issue(school=school_a, account=nominated_contact, name="AutoUpdate",
                                  role_codes=["mis_agent"])  # fmt: skip
    upload = SimpleUploadedFile("export.zip", _rollcall_feed_with_passwords())
    response = client.post(f"/api/s/{school_a.slug}/sync/feeds/", {"file": upload}, HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 201, response.json()
    assert response.json()["row_counts"] == {"student": 2, "staff": 1, "link": 0}
    feed = Feed.objects.get(school=school_a)
    _assert_no_secrets(feed)
    assert any("students.csv: Password" in w for w in feed.warnings)
    run = _planned(school_a, feed)
    assert run.counts["create"] == 3


def test_a_feed_uploaded_on_the_screen_is_stored_without_its_password_columns(client, school_a, nominated_contact):
    client.force_login(nominated_contact)
    users = (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,givenName,familyName,identifier,email,"
        "password\n"
        f"u1,active,2025-01-01T00:00:00Z,true,o1,student,Zoe,Adams,S1,,{SECRETS[0]}\n"
        f"u2,active,2025-01-01T00:00:00Z,true,o1,teacher,Ann,Smith,T1,ann@alder.sch.uk,{SECRETS[1]}\n"
    )
    content = bundle({"orgs.csv": ORGS, "users.csv": users})
    url = reverse("sync_feed_upload", kwargs={"school_slug": school_a.slug})
    client.post(url, {"files": SimpleUploadedFile("oneroster.zip", content)})
    feed = Feed.objects.get(school=school_a)
    assert feed.state == "valid", feed.errors
    _assert_no_secrets(feed)
    assert _planned(school_a, feed).counts["create"] == 2


def test_separate_csv_files_uploaded_on_the_screen_lose_their_password_columns(client, school_a, nominated_contact):
    client.force_login(nominated_contact)
    students = csv_text(["Password", *STUDENT_HEADER], [[SECRETS[0], *student("S1")]])
    url = reverse("sync_feed_upload", kwargs={"school_slug": school_a.slug})
    client.post(url, {"files": [SimpleUploadedFile("students.csv", students.encode())]})
    feed = Feed.objects.get(school=school_a)
    _assert_no_secrets(feed)
    assert feed.state == "valid" and feed.row_counts["student"] == 1


def test_an_xlsx_feed_is_stored_without_its_password_column(school_a):
    book = spreadsheets.workbook()
    sheet = book.active
    sheet.title = "students"
    sheet.append([*STUDENT_HEADER, "pwd"])
    sheet.append([*student("S1", "Ann", "Adams"), SECRETS[0]])
    feed = receive(school_a, spreadsheets.xlsx_bytes(book), name="export.xlsx")
    assert feed.file_format == "rollcall_xlsx" and feed.state == "valid", feed.errors
    _assert_no_secrets(feed)
    assert _planned(school_a, feed).counts["create"] == 1


def test_a_feed_in_a_format_we_do_not_read_is_refused_and_stored_without_passwords(school_a):
    """A School Data Sync export is not a feed Rollcall reads: it is kept as refused, its passwords not at all."""
    sds = f"SIS ID,School SIS ID,First Name,Last Name,Username,Password\n1,100001,Ann,Adams,ann,{SECRETS[0]}\n"
    feed = receive(school_a, sds.encode(), name="Student.csv")
    assert feed.state == "rejected"
    _assert_no_secrets(feed)
    zipped = receive(school_a, feed_zip(extra={"Student.csv": sds}), name="sds.zip")
    _assert_no_secrets(zipped)


def _xlsx_feed() -> bytes:
    book = spreadsheets.workbook()
    book.active.title = "students"
    book.active.append([*STUDENT_HEADER])
    book.active.append(student("S1"))
    return spreadsheets.xlsx_bytes(book)


@pytest.mark.parametrize("build, name", [(lambda: feed_zip(students=[student("S1")]), "feed.zip"),
                                         (_xlsx_feed, "feed.xlsx")])  # fmt: skip
def test_a_feed_without_a_password_column_is_stored_as_sent(school_a, build, name):
    content = build()
    feed = receive(school_a, content, name=name)
    assert feed.state == "valid", feed.errors
    with feed.file.open("rb") as handle:
        assert handle.read() == content
