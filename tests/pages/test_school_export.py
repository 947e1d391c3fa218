"""The school export: a job with progress, a zip of CSV and JSON with a README, read back here; downloadable
once by a Centre Admin, audited, and removed unclaimed after its retention."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import AuditEvent
from pages import school_export
from tenancy.models import ErasureRecord, Job
from tests.assessments.conftest import make_assessment
from tests.factories import ContactLinkFactory, member
from tests.pages.data_helpers import make_certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(school_a, school_b):
    student = member(
        school_a, "student_portal", person_type="student", username="s.formula", given_name="=cmd|' /C calc'!A0"
    )
    contact = member(school_a, "parent", person_type="contact", username="p.parent")
    ContactLinkFactory(school=school_a, contact=contact, student=student)
    member(school_b, "eo", username="eo.birch")  # another school's: never in A's export
    inv = member(school_a, "inv", username="inv.alder")
    make_certificate(school_a, inv.account, make_assessment())
    return student


def _start_and_download(client, school_a, on_commit):
    with on_commit(execute=True):
        response = client.post(f"/s/{school_a.slug}/data/export/start/")
    job = Job.objects.get(school=school_a, kind=Job.Kind.SCHOOL_EXPORT)
    assert response.status_code == 302 and response["Location"].endswith(f"/jobs/{job.pk}/")
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.progress_done == job.progress_total == len(school_export.TABLES)
    response = client.get(f"/s/{school_a.slug}/jobs/{job.pk}/report/")
    assert response.status_code == 200
    body = response.getvalue()
    # What the server does once the file is sent, without ending the test's database connection as it would.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    return job, zipfile.ZipFile(io.BytesIO(body))


def test_it_exports_everything_the_school_holds_and_reads_back(
    login, centre_admin, school_a, people, django_capture_on_commit_callbacks
):
    client = login(centre_admin)
    job, archive = _start_and_download(client, school_a, django_capture_on_commit_callbacks)
    names = set(archive.namelist())
    for table in school_export.TABLES:
        assert {f"{table.name}.csv", f"{table.name}.json"} <= names
    readme = archive.read("README.txt").decode()
    assert "people.csv / people.json" in readme and "  mis_code: MIS Code" in readme

    people_rows = list(csv.DictReader(io.StringIO(archive.read("people.csv").decode())))
    usernames = {row["username"] for row in people_rows}
    assert {"s.formula", "p.parent", "inv.alder", "ca.alder"} <= usernames
    assert "eo.birch" not in usernames
    formula = next(row for row in people_rows if row["username"] == "s.formula")
    assert formula["given_name"] == "'=cmd|' /C calc'!A0"  # neutralised in CSV
    people_json = json.loads(archive.read("people.json"))
    assert next(p for p in people_json if p["username"] == "s.formula")["given_name"] == "=cmd|' /C calc'!A0"
    assert "password" not in archive.read("people.csv").decode().splitlines()[0]

    links = json.loads(archive.read("contact_links.json"))
    assert len(links) == 1 and links[0]["relationship"] == "Parent"
    roles = {r["role"] for r in json.loads(archive.read("roles.json"))}
    assert {"student_portal", "parent", "inv", "centre_admin"} <= roles and "eo" not in roles
    certificates = json.loads(archive.read("certificates.json"))
    assert [c["assessment"] for c in certificates] == ["Invigilator Core"]
    assert json.loads(archive.read("assessment_progress.json"))[0]["status"] == "passed"
    audit = json.loads(archive.read("audit_events.json"))
    assert any(e["action"] == "data.school_export.started" for e in audit)

    assert AuditEvent.objects.filter(school=school_a, action="data.school_export.downloaded", job=job).exists()


def test_it_is_downloadable_once_then_gone(login, centre_admin, school_a, people, django_capture_on_commit_callbacks):
    client = login(centre_admin)
    job, _archive = _start_and_download(client, school_a, django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert not job.report and job.report_removed.startswith("Removed: downloaded by ca.alder")
    again = client.get(f"/s/{school_a.slug}/jobs/{job.pk}/report/", follow=True)
    assert "already been downloaded" in again.content.decode()
    assert ErasureRecord.objects.filter(school=school_a, kind="school_export", reason="downloaded").exists()


def test_a_nominated_contact_and_another_school_cannot_export(login, nominated_contact, other_school_admin, school_a):
    client = login(nominated_contact)
    assert client.get(f"/s/{school_a.slug}/data/export/").status_code == 403
    assert client.post(f"/s/{school_a.slug}/data/export/start/").status_code == 403
    assert "School export" not in client.get(f"/s/{school_a.slug}/").content.decode()
    job = Job.objects.create(school=school_a, kind=Job.Kind.SCHOOL_EXPORT)
    assert client.get(f"/s/{school_a.slug}/jobs/{job.pk}/report/").status_code == 404
    other = login(other_school_admin)
    assert other.get(f"/s/{school_a.slug}/jobs/{job.pk}/report/").status_code in (403, 404)


def test_an_export_nobody_downloaded_is_purged_after_its_retention(
    login, centre_admin, school_a, settings, django_capture_on_commit_callbacks
):
    client = login(centre_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/s/{school_a.slug}/data/export/start/")
    job = Job.objects.get(school=school_a, kind=Job.Kind.SCHOOL_EXPORT)
    assert job.report
    assert school_export.school_exports_purge(school=school_a) == 0
    later = timezone.now() + timedelta(days=settings.SCHOOL_EXPORT_RETENTION_DAYS, minutes=1)
    assert school_export.school_exports_purge(school=school_a, now=later) == 1
    job.refresh_from_db()
    assert not job.report and "not downloaded" in job.report_removed


def test_the_sync_policy_and_runs_are_exported(school_a):
    from provisioning.models import SyncPolicy, SyncRun

    SyncPolicy.objects.create(school=school_a, staff_grace_days=9, default_password_hash="pbkdf2$secret")
    SyncRun.objects.create(school=school_a, trigger="manual", state="applied", counts={"create": 2})
    out = io.BytesIO()
    counts = school_export.school_export_write(school=school_a, fileobj=out)
    archive = zipfile.ZipFile(out)
    [policy] = json.loads(archive.read("sync_policy.json"))
    assert policy["staff_grace_days"] == 9 and policy["nightly_time"] == "02:00:00"
    assert "default_password_hash" not in policy and b"pbkdf2" not in archive.read("sync_policy.csv")
    assert json.loads(archive.read("sync_runs.json"))[0]["counts"] == {"create": 2}
    assert counts["sync_runs"] == 1
