"""Data protection in a real browser: a Centre Admin finds the Data protection menu, makes and downloads the
school export once, filters and exports the audit log, reads the retention page, and downloads a person's
subject access file from their Edit page."""

import io
import json
import zipfile

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.audit import audit_record
from tests.browser.helpers import sign_in
from tests.factories import member

pytestmark = pytest.mark.browser


def test_a_centre_admin_exports_the_school_once(page, centre_admin, school_a):
    member(school_a, "inv", username="inv.export", given_name="Ida")
    sign_in(page, centre_admin)
    page.goto(f"/s/{school_a.slug}/")
    page.get_by_role("link", name="School export").click()
    page.get_by_role("button", name="Start a school export").click()
    expect(page.locator(".job-state")).to_have_text("Finished", timeout=30_000)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download report").click()
    archive = zipfile.ZipFile(download_info.value.path())
    assert "README.txt" in archive.namelist()
    assert "inv.export" in {p["username"] for p in json.loads(archive.read("people.json"))}
    page.goto(f"/s/{school_a.slug}/data/export/")
    expect(page.locator("table tbody tr").first).to_contain_text("Removed: downloaded by ca.alder")


def test_a_centre_admin_filters_and_exports_the_audit_log(page, centre_admin, nominated_contact, school_a):
    audit_record(action="accounts.role.assigned", actor=centre_admin, school=school_a, target=nominated_contact,
                 changes={"role": [None, "nominated_contact"]})  # fmt: skip
    audit_record(action="accounts.account.updated", actor=centre_admin, school=school_a, target=centre_admin)
    sign_in(page, centre_admin)
    page.goto(f"/s/{school_a.slug}/")
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    page.get_by_label("What").select_option(label="Role given")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Role given")
    expect(rows.first).to_contain_text("Nominated Contact")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export to Excel").click()
    assert download_info.value.suggested_filename.endswith(".xlsx")
    with open(download_info.value.path(), "rb") as handle:
        sheet = load_workbook(io.BytesIO(handle.read())).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Role given"]


def test_a_nominated_contact_reads_the_retention_page(page, nominated_contact, school_a):
    sign_in(page, nominated_contact)
    page.goto(f"/s/{school_a.slug}/")
    expect(page.get_by_role("link", name="School export")).to_have_count(0)
    page.get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", name="The schedule")).to_be_visible()
    expect(page.locator("#retention-schedule")).to_contain_text("Staff who left")
    expect(page.locator("#retention-due")).to_contain_text("Job reports")
    expect(page.get_by_text("Nothing was erased.")).to_be_visible()


def test_a_centre_admin_downloads_a_subject_access_file(page, centre_admin, school_a):
    person = member(school_a, "inv", username="zoe.sar", given_name="Zoë", family_name="Ó'Brien")
    sign_in(page, centre_admin)
    page.goto(f"/s/{school_a.slug}/users/{person.pk}/edit/")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as JSON").click()
    data = json.loads(open(download_info.value.path(), encoding="utf-8").read())
    assert data["account"]["given_names"] == "Zoë" and data["schools"][0]["school"] == "Alder Academy"
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as PDF").click()
    assert download_info.value.suggested_filename.endswith(".pdf")


def test_an_exams_officer_opens_an_expiring_certificates_assessment(page, eo_user, school_a):
    from tests.assessments.conftest import make_assessment
    from tests.pages.data_helpers import make_certificate

    holder = member(school_a, "inv", username="inv.expiring", given_name="Ada", family_name="Expiring")
    make_certificate(school_a, holder.account, make_assessment(), expires_in_days=12)
    sign_in(page, eo_user)
    page.goto(f"/s/{school_a.slug}/")
    page.get_by_role("link", name="Expiring certificates").click()
    row = page.locator("#expiring-certificates tbody tr", has_text="Ada Expiring")
    expect(row).to_contain_text("None yet")
    row.get_by_role("link", name="Invigilator Core").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invigilator Core")
