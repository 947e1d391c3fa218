"""Bulk User Synchronise screens: who may open them, upload -> preview -> apply, credentials once."""

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Membership, StarterCode
from provisioning.models import Feed, SyncPolicy, SyncRun
from tests.factories import member
from tests.provisioning.sync_helpers import feed_zip, student

pytestmark = pytest.mark.django_db


def _url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


def test_a_nominated_contact_sees_the_page_with_its_labels(login, nominated_contact, school_a):
    page = login(nominated_contact).get(_url("sync_policy", school_a)).content.decode()
    for label in ("Bulk User Synchronise", "Username method", "Prepend text to username", "Postpend text to username",
                  "Student Year Levels to Sync", "All Years", "Auto generate random password (one-time starter code)",
                  "Enter default password for all users", "None: users sign in with Microsoft 365 or Google",
                  "Overwrite existing account details", "Archive inactive users", "Save", "Synchronise Users",
                  "Apply"):  # fmt: skip
        assert label in page, label


def test_inv_user_cannot_open_bulk_user_synchronise(login, inv_user, school_a):
    assert login(inv_user).get(_url("sync_policy", school_a)).status_code == 403


def test_another_schools_admin_sees_nothing(login, other_school_admin, school_a):
    assert login(other_school_admin).get(_url("sync_policy", school_a)).status_code == 404
    assert login(other_school_admin).get(_url("sync_history", school_a)).status_code == 404


def test_the_username_preview_follows_the_settings_before_saving(login, nominated_contact, school_a):
    response = login(nominated_contact).post(
        _url("sync_username_preview", school_a),
        {"username_method": "initial_surname", "lowercase": "on", "prepend_text": "", "postpend_text": "@x"},
    )
    body = response.content.decode()
    assert "ladachi" in body and "zobrien-best" in body
    assert SyncPolicy.objects.get(school=school_a).username_method == "mis_code"


def test_giving_students_an_administrator_role_asks_for_confirmation(login, centre_admin, school_a):
    client = login(centre_admin)
    data = {"username_method": "mis_code", "password_method": "random", "student_roles": ["admin_level_one"],
            "all_years": "on", "student_grace_days": 0, "student_erase_days": 0, "staff_grace_days": 0,
            "staff_erase_days": 0, "contact_grace_days": 0, "contact_erase_days": 0, "nightly_time": "02:00",
            "overwrite_existing": "on"}  # fmt: skip
    response = client.post(_url("sync_policy", school_a), data)
    assert response.status_code == 200 and "needs your confirmation" in response.content.decode()
    response = client.post(_url("sync_policy", school_a), {**data, "confirm_student_admin_roles": "on"})
    assert response.status_code == 302
    assert SyncPolicy.objects.get(school=school_a).student_roles == ["admin_level_one"]


def test_a_nominated_contact_cannot_make_sync_grant_centre_admin(login, nominated_contact, school_a):
    data = {"username_method": "mis_code", "password_method": "random", "staff_roles": ["centre_admin"],
            "student_grace_days": 0, "student_erase_days": 0, "staff_grace_days": 0, "staff_erase_days": 0,
            "contact_grace_days": 0, "contact_erase_days": 0, "nightly_time": "02:00"}  # fmt: skip
    login(nominated_contact).post(_url("sync_policy", school_a), data)
    assert SyncPolicy.objects.get(school=school_a).staff_roles == []


def test_upload_preview_apply_and_download_codes_once(login, nominated_contact, school_a,
                                                      django_capture_on_commit_callbacks):  # fmt: skip
    client = login(nominated_contact)
    upload = SimpleUploadedFile("export.zip", feed_zip(students=[student("S1"), student("S2", "Bob")]))
    client.post(_url("sync_feed_upload", school_a), {"files": upload})
    assert Feed.objects.get(school=school_a).state == "valid"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("sync_start", school_a))
    run = SyncRun.objects.get(school=school_a)
    assert response["Location"] == _url("sync_run_detail", school_a, run_id=run.pk)
    assert run.state == "planned" and run.dry_run and run.counts == {"create": 2}
    preview = client.get(response["Location"]).content.decode()
    assert "Sync preview" in preview and "s1" in preview
    assert not Membership.objects.filter(school=school_a, person_type="student").exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_apply", school_a, run_id=run.pk))
    run.refresh_from_db()
    assert run.state == "applied"
    assert Membership.objects.filter(school=school_a, person_type="student").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_credentials", school_a, run_id=run.pk))
    sheet = client.get(_url("sync_credentials_download", school_a, run_id=run.pk))
    assert sheet["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(sheet.getvalue())).namelist()
    assert names == ["starter-codes.xlsx", "slips/Year 7 - 7A.pdf"]
    again = client.get(_url("sync_credentials_download", school_a, run_id=run.pk))
    assert again.status_code == 302
    run.refresh_from_db()
    assert not run.credentials and StarterCode.objects.filter(school=school_a).count() == 2


def test_a_starter_code_from_the_sheet_signs_in_once(client, school_a, nominated_contact,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    from openpyxl import load_workbook

    client.force_login(nominated_contact)
    client.post(_url("sync_feed_upload", school_a), {"files": SimpleUploadedFile("e.zip", feed_zip([student("S1")]))})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_start", school_a))
    run = SyncRun.objects.get(school=school_a)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_apply", school_a, run_id=run.pk))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_credentials", school_a, run_id=run.pk))
    response = client.get(_url("sync_credentials_download", school_a, run_id=run.pk))
    download = zipfile.ZipFile(io.BytesIO(response.getvalue()))
    sheet = load_workbook(io.BytesIO(download.read("starter-codes.xlsx")))
    rows = list(sheet.active.values)
    username, code = rows[1][5], rows[1][6]
    client.logout()
    assert client.post("/accounts/login/", {"login": username, "password": code}).status_code == 302
    assert "/accounts/password/change/" in client.get(_url("dashboard", school_a))["Location"]
    client.logout()
    assert client.post("/accounts/login/", {"login": username, "password": code}).status_code == 200


def test_a_guarded_run_waits_for_a_confirmation(login, nominated_contact, school_a,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    from tests.provisioning.sync_helpers import run_sync

    rows = [student(f"S{i}") for i in range(20)]
    run_sync(school_a, feed_zip(rows), student_grace_days=0)
    run = run_sync(school_a, feed_zip(rows[:10]), apply=False)
    assert run.state == "needs_confirmation"
    client = login(nominated_contact)
    assert (
        "I have checked these changes" in client.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    )
    client.post(_url("sync_apply", school_a, run_id=run.pk))
    run.refresh_from_db()
    assert run.state == "needs_confirmation"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_apply", school_a, run_id=run.pk), {"confirm": "yes"})
    run.refresh_from_db()
    assert run.state == "applied" and run.confirmed_by == nominated_contact
    assert Membership.objects.filter(school=school_a, person_type="student", status="archived").count() == 10


def test_history_lists_runs_with_counts_and_a_report(login, school_a):
    from tests.provisioning.sync_helpers import run_sync

    viewer = member(school_a, "access_slt").account
    run = run_sync(school_a, feed_zip([student("S1")]))
    client = login(viewer)
    page = client.get(_url("sync_history", school_a)).content.decode()
    assert "New accounts 1" in page and "Applied" in page and "dry run" not in page
    report = client.get(_url("sync_run_report", school_a, run_id=run.pk)).content.decode("utf-8-sig")
    assert report.splitlines()[0].startswith("Outcome,Person type,MIS Code,User Name,Name,Contact,Student,Reason")
    assert "New account,Student,S1,s1," in report
    assert client.post(_url("sync_start", school_a)).status_code == 403


def test_an_upload_with_a_bad_row_is_accepted_and_lists_the_row(login, nominated_contact, school_a):
    client = login(nominated_contact)
    bad = SimpleUploadedFile("students.csv", b"mis_code,given_name,family_name,leaving_date\nS1,Ann,Smith,31/12/2025\n")
    client.post(_url("sync_feed_upload", school_a), {"files": bad})
    page = client.get(_url("sync_policy", school_a)).content.decode()
    assert "1 row has errors and will be left out" in page and "not a date as YYYY-MM-DD" in page
    assert "left out (those people are kept as they are)" in page and "was rejected" not in page


def test_a_rejected_upload_lists_its_problems(login, nominated_contact, school_a):
    client = login(nominated_contact)
    bad = SimpleUploadedFile("students.csv", b"code_mis,given_name,family_name\nS1,Ann,Smith\n")
    client.post(_url("sync_feed_upload", school_a), {"files": bad})
    page = client.get(_url("sync_policy", school_a)).content.decode()
    assert "was rejected" in page and "The required column mis_code is missing." in page
    garbage = SimpleUploadedFile("export.xlsx", b"not a workbook")
    client.post(_url("sync_feed_upload", school_a), {"files": garbage})
    assert Feed.objects.filter(school=school_a, state="rejected").count() == 2


def test_keep_existing_usernames_is_ticked_for_a_school_with_accounts_and_a_rename_is_asked_for_once(
    login, centre_admin, school_a
):
    client = login(centre_admin)
    page = client.get(_url("sync_policy", school_a)).content.decode()
    assert re.search(r'<input type="checkbox" name="keep_usernames"[^>]* checked>', page)
    assert "Keep existing usernames" in page and "Rename existing accounts to the new pattern" in page
    data = {"username_method": "first_last", "password_method": "random", "all_years": "on", "student_grace_days": 0,
            "student_erase_days": 0, "staff_grace_days": 0, "staff_erase_days": 0, "contact_grace_days": 0,
            "contact_erase_days": 0, "nightly_time": "02:00", "keep_usernames": "on",
            "rename_existing": "on"}  # fmt: skip
    assert client.post(_url("sync_policy", school_a), data).status_code == 302
    policy = SyncPolicy.objects.get(school=school_a)
    assert policy.keep_usernames and policy.rename_existing and policy.username_method == "first_last"
