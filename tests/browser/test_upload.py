"""+Upload Users in a real browser: Download Template, fill it, upload, preview, consent, Apply, progress."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from accounts.models import Account, Membership
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


def test_exams_officer_uploads_the_template_and_the_users_exist(page, eo_user, school_a, tmp_path):
    sign_in(page, eo_user)
    page.goto(f"/s/{school_a.slug}/users/upload/")
    expect(page.get_by_role("heading", name="Upload Users")).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download Template").click()
    download = download_info.value
    assert download.suggested_filename == "UserUploadTemplate.xlsx"
    workbook = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    sheet = workbook["Users"]
    rows = [  # typed over the sample row, as an admin does in Excel
        ["robin.eo", "Robin", "Exams", "robin@alder.sch.uk", "Staff", "EO", "E100"],
        ["ivy.inv", "Ivy", "Invigilator", "ivy@alder.sch.uk", "Staff", "INV", "E101"],
        ["bad user", "No", "Good", "", "Staff", "INV", ""],
    ]
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            sheet.cell(r, c, value or None)
    filled = tmp_path / "UserUploadTemplate.xlsx"
    workbook.save(filled)

    page.set_input_files("input[name=file]", str(filled))
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/users/upload/[0-9a-f-]{36}/$"))
    expect(page.locator('#upload-counts dd[data-outcome="create"]')).to_have_text("2")
    expect(page.locator('#upload-counts dd[data-outcome="error"]')).to_have_text("1")
    expect(page.get_by_text("row 4, User Name: may contain only letters")).to_be_visible()

    page.get_by_role("button", name="Apply").click()  # the consent box is required: the browser stops here
    expect(page).to_have_url(re.compile(r"/users/upload/[0-9a-f-]{36}/$"))
    page.get_by_label(re.compile("I have each person's permission")).check()
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"/result/$"))
    expect(page.locator(".job-progress")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#upload-outcome")).to_have_attribute("data-state", "applied")
    expect(page.get_by_role("link", name="Download starter codes")).to_be_visible()
    expect(page.get_by_role("link", name="Download report")).to_be_visible()

    assert set(Account.objects.filter(username__in=["robin.eo", "ivy.inv"]).values_list("username", flat=True)) == {
        "robin.eo",
        "ivy.inv",
    }
    assert Membership.objects.filter(school=school_a, mis_code__in=["E100", "E101"]).count() == 2


def test_a_staff_list_without_user_names_is_named_by_the_policy_and_they_sign_in_by_email(
    page, eo_user, school_a, tmp_path, fresh_cache
):
    """Issue 19: a staff list saved as Excel's plain CSV (Windows-1252, semicolons), with no User Name column."""
    from tests.browser.helpers import LOGIN_PAGE, sign_out

    staff = "Family Name;Given Names;Email;Role;Person Type\r\n"
    staff += "O’Brien;Zoë;zoe.obrien@alder.sch.uk;INV;Staff\r\nSmith, Jr;Alex;alex.smith@alder.sch.uk;EO;Staff\r\n"
    filled = tmp_path / "staff.csv"
    filled.write_bytes(staff.encode("cp1252"))

    sign_in(page, eo_user)
    page.goto(f"/s/{school_a.slug}/users/upload/")
    page.set_input_files("input[name=file]", str(filled))
    page.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(re.compile(r"/users/upload/[0-9a-f-]{36}/$"))
    expect(page.locator('#upload-counts dd[data-outcome="create"]')).to_have_text("2")
    to_create = page.locator('details[data-outcome="create"]')
    to_create.get_by_text("To create (2)").click()  # the section opens to show the names the policy made
    expect(to_create.get_by_role("columnheader", name="User Name")).to_be_visible()
    expect(to_create.get_by_role("cell", name="zoe.obrien", exact=True)).to_be_visible()
    expect(to_create.get_by_role("cell", name="Zoë O’Brien")).to_be_visible()
    expect(to_create.get_by_text("User name alex.smith made from the email")).to_be_visible()

    page.get_by_label(re.compile("I have each person's permission")).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#upload-outcome")).to_have_attribute("data-state", "applied")
    zoe = Account.objects.get(username="zoe.obrien")
    assert (zoe.given_name, zoe.family_name) == ("Zoë", "O’Brien")
    assert Account.objects.get(username="alex.smith").family_name == "Smith, Jr"

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download starter codes").click()
    codes = load_workbook(io.BytesIO(open(download_info.value.path(), "rb").read())).active
    code = next(row[4] for row in codes.iter_rows(values_only=True) if row[0] == "zoe.obrien")
    sign_out(page)

    page.get_by_label("Username or email").fill("Zoe.OBrien@alder.sch.uk")  # staff sign in by email too
    page.get_by_label("Password").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(LOGIN_PAGE)
    expect(page.get_by_text("finish signing in as zoe.obrien")).to_be_visible()
