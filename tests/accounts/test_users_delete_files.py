"""Deleting a person removes every file of the school that still names them (uploaded spreadsheets, upload
result reports and credentials sheets, sync starter-code sheets, certificate zips); files that do not name
them stay downloadable."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts import erasure
from accounts.models import Account
from accounts.services import Actor, account_delete
from provisioning.models import SyncRun, UploadBatch
from provisioning.upload import services as upload_services
from tenancy.models import Job
from tenancy.services import REPORT_NAMED_DELETED
from tests.factories import member
from tests.provisioning.upload.helpers import csv_bytes, staff_row

pytestmark = pytest.mark.django_db


def _upload(school, actor, capture, rows) -> UploadBatch:
    batch = upload_services.upload_receive(school=school, actor=actor, file_name="u.csv", data=csv_bytes(rows))
    with capture(execute=True):
        upload_services.upload_apply_start(
            school=school, actor=actor, batch=batch, mode="add_update", password_method="starter_codes",
            add_existing=True, consent=True,
        )  # fmt: skip
    batch.refresh_from_db()
    assert batch.state == "applied" and batch.file and batch.credentials
    return batch


def _zip_job(school, names: list[str]) -> Job:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"%PDF-1.4")
    job = Job.objects.create(school=school, kind=Job.Kind.CERTIFICATE_ZIP, state="succeeded",
                             finished_at=timezone.now(), report_name="certificates.zip")  # fmt: skip
    job.report.save("certificates.zip", ContentFile(out.getvalue()))
    return job


def _sync_sheet(school, rows: list[list[str]]) -> SyncRun:
    run = SyncRun.objects.create(school=school, trigger="manual", state="applied", applied_at=timezone.now())
    text = "\n".join(",".join(row) for row in rows) + "\n"
    run.credentials.save(f"{run.pk}.csv", ContentFile(text.encode()))
    return run


def test_deleting_a_person_removes_the_files_that_name_them_and_keeps_the_rest(
    client, school_a, centre_admin, eo_user, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    named = _upload(school_a, eo_user, capture, [staff_row(1), staff_row(2)])  # creates new.person1 and 2
    other = _upload(school_a, eo_user, capture, [staff_row(3)])
    leaver = Account.objects.get(username="new.person1")
    named_job, other_job = Job.objects.get(pk=named.job_id), Job.objects.get(pk=other.job_id)
    zip_named = _zip_job(school_a, ["Fire safety/Given1 Family1 ABC123.pdf", "Fire safety/Given2 Family2 DEF456.pdf"])
    zip_other = _zip_job(school_a, ["Fire safety/Given3 Family3 GHI789.pdf"])
    sheet_named = _sync_sheet(school_a, [["staff", "", "", "Family1", "Given1", "new.person1", "ABCD-EFGH-2345"]])
    sheet_other = _sync_sheet(school_a, [["staff", "", "", "Family3", "Given3", "new.person3", "ABCD-EFGH-6789"]])
    storage = named.file.storage
    gone = [named.file.name, named.credentials.name, named_job.report.name, zip_named.report.name,
            sheet_named.credentials.name]  # fmt: skip

    client.force_login(centre_admin)
    membership = leaver.memberships.get(school=school_a)
    with capture(execute=True):
        response = client.post(f"/s/{school_a.slug}/users/{membership.pk}/delete/", {"confirm": "DELETE"})
    assert response.status_code == 302

    assert not any(storage.exists(name) for name in gone)
    named.refresh_from_db()
    assert not named.file and not named.credentials
    for job in (named_job, zip_named):
        job.refresh_from_db()
        assert not job.report and job.report_removed == REPORT_NAMED_DELETED
        url = reverse("job_report", kwargs={"school_slug": school_a.slug, "job_id": job.pk})
        assert client.get(url).status_code == 404
    assert not SyncRun.objects.get(pk=sheet_named.pk).credentials
    # Files that never named them stay, and can still be downloaded.
    other.refresh_from_db()
    assert other.file and other.credentials and storage.exists(other.file.name)
    assert Job.objects.get(pk=other_job.pk).report and Job.objects.get(pk=zip_other.pk).report
    assert SyncRun.objects.get(pk=sheet_other.pk).credentials
    url = reverse("job_report", kwargs={"school_slug": school_a.slug, "job_id": other_job.pk})
    assert client.get(url).status_code == 200


def test_a_rolled_back_deletion_keeps_every_file(school_a, centre_admin, eo_user, django_capture_on_commit_callbacks):
    batch = _upload(school_a, eo_user, django_capture_on_commit_callbacks, [staff_row(1)])
    leaver = Account.objects.get(username="new.person1")
    actor = Actor(account=centre_admin, school=school_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account_delete(school=school_a, actor=actor, account=leaver)
    # The deletion's transaction is the test's: the files go only by the callbacks run on commit.
    assert callbacks and batch.file.storage.exists(batch.file.name)


def test_a_person_is_recognised_by_username_email_mis_code_or_both_names(school_a):
    membership = member(school_a, username="pat.gone", email="Pat@Alder.sch.uk", given_name="Pat", family_name="Gone")
    membership.mis_code = "T77"
    membership.save()
    account = membership.account
    person = erasure.person_named(school=school_a, account=account)
    for row in (["PAT.GONE"], ["x", "pat@alder.sch.uk"], ["T77"], ["Gone", "Pat", "7"], ["'pat.gone"]):
        assert person.in_row(row), row
    for row in (["Pat", "Other"], ["pat.gone2"], [None, ""], ["T7"]):
        assert not person.in_row(row), row
    assert person.in_text("Fire safety/Pat Gone ABC123.pdf") and not person.in_text("Fire safety/Pat Other X.pdf")
