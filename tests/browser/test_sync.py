"""Bulk User Synchronise in a real browser: upload an MIS export, see the dry run, apply it."""

import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import Membership
from provisioning import tasks
from tests.browser.helpers import sign_in
from tests.provisioning.sync_helpers import contact, feed_zip, student

pytestmark = pytest.mark.browser


def test_nominated_contact_uploads_a_feed_previews_and_applies(page, nominated_contact, school_a, monkeypatch):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/")
    expect(page.get_by_role("heading", name="Bulk User Synchronise")).to_be_visible()

    # The username preview follows the settings before anything is saved.
    page.select_option("#id_username_method", "initial_surname")
    expect(page.locator("#username-preview")).to_contain_text("ladachi")

    export = feed_zip(
        students=[student("S1", "Ann", "Smith"), student("S2", "Bob", "Jones", year="8")],
        contacts=[contact("C1", email="pat@example.org")],
        links=[["C1", "S1", "Mother", "yes"]],
    )
    page.set_input_files("#id_files", files=[{"name": "export.zip", "mimeType": "application/zip", "buffer": export}])
    page.get_by_role("button", name="Upload export").click()
    expect(page.locator(".messages")).to_contain_text("accepted")

    page.get_by_role("button", name="Synchronise Users").click()
    expect(page).to_have_url(re.compile(r"/s/alder/sync/runs/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Sync preview")).to_be_visible()
    expect(page.locator("#sync-counts dd[data-outcome='create']")).to_have_text("3")
    expect(page.locator("#sync-records")).to_contain_text("S1")
    assert not Membership.objects.filter(school=school_a, person_type="student").exists()

    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="Sync report")).to_be_visible()
    expect(page.locator(".run-state")).to_have_text("Applied")
    assert Membership.objects.filter(school=school_a, person_type="student").count() == 2

    # The new people's starter codes: a job prepares the spreadsheet and the slips (a PDF per form) to download
    # once. Its message is held back here, so the page shows the job waiting; then the "worker" runs it.
    sent = []
    monkeypatch.setattr(tasks.sync_credentials_prepare, "delay", lambda *args: sent.append(args))
    page.get_by_role("button", name="Download starter codes (spreadsheet and printable slips)").click()
    box = page.locator("#starter-codes")
    expect(box.locator(".job-progress")).to_have_attribute("data-state", "queued")
    expect(box.get_by_role("progressbar", name="Prepare starter codes progress")).to_be_visible()
    assert len(sent) == 1
    tasks.sync_credentials_prepare(*sent[0])
    expect(box.get_by_role("link", name="Download", exact=True)).to_be_visible()  # the bar polled until done
    expect(box.locator("progress")).to_have_count(0)
    expect(box).to_contain_text("3 slips in 3 PDFs")
    with page.expect_download() as download_info:
        box.get_by_role("link", name="Download", exact=True).click()
    download = download_info.value
    assert re.fullmatch(r"starter-codes-alder-academy-\d{8}\.zip", download.suggested_filename)
    archive = zipfile.ZipFile(download.path())
    assert archive.namelist() == ["starter-codes.xlsx", "slips/Year 7 - 7A.pdf", "slips/Year 8 - 7A.pdf",
                                  "slips/Contacts.pdf"]  # fmt: skip
    rows = list(load_workbook(io.BytesIO(archive.read("starter-codes.xlsx"))).active.values)[1:]
    slips = "\n".join(
        sheet.extract_text()
        for name in archive.namelist()[1:]
        for sheet in PdfReader(io.BytesIO(archive.read(name))).pages
    )
    assert len(rows) == 3
    for row in rows:
        assert f"User name  {row[5]}" in slips and row[6] in slips
    page.goto(page.url)
    expect(page.get_by_role("button", name=re.compile("Download starter codes"))).to_have_count(0)

    page.locator("#main").get_by_role("link", name="Sync history", exact=True).click()
    expect(page.locator("#sync-runs")).to_contain_text("New accounts 3")


def test_a_feed_with_a_bad_row_is_accepted_and_the_preview_lists_the_row_left_out(page, nominated_contact, school_a):
    from tests.provisioning.sync_helpers import staff

    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/")
    export = feed_zip(students=[student("S1", "Ann", "Smith")], staff_rows=[staff("T1"), staff("T2", email="")])
    page.set_input_files("#id_files", files=[{"name": "export.zip", "mimeType": "application/zip", "buffer": export}])
    page.get_by_role("button", name="Upload export").click()
    expect(page.locator(".messages")).to_contain_text("accepted, but 1 row has errors and will be left out")
    expect(page.locator(".feed-rows-left-out")).to_contain_text("Email is required for staff.")

    page.get_by_role("button", name="Synchronise Users").click()
    expect(page.get_by_role("heading", name="Sync preview")).to_be_visible()
    expect(page.locator("#rows-left-out")).to_contain_text("1 row of the feed left out")
    expect(page.locator("#rows-left-out")).to_contain_text("Email is required for staff.")
    expect(page.locator("#sync-counts dd[data-outcome='create']")).to_have_text("2")
    expect(page.locator("#sync-records")).to_contain_text("T2")


def test_a_possible_match_is_held_then_confirmed_as_the_same_person(page, nominated_contact, school_a):
    from tests.factories import SchoolFactory, member
    from tests.provisioning.sync_helpers import receive, staff

    cedar = SchoolFactory(organisation=school_a.organisation, name="Cedar College", slug="cedar")
    ann = member(cedar, username="asmith", given_name="Ann", family_name="Smith", email="ann@trust.org").account
    receive(school_a, feed_zip(staff_rows=[staff("T9", "Ann", "Smith", email="ann@trust.org")]))
    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/")
    page.get_by_role("button", name="Synchronise Users").click()
    records = page.locator("#sync-records")
    expect(records).to_contain_text("possible match Ann Smith, asmith, Cedar College")
    page.get_by_role("button", name="Same person: add a membership at this school").click()
    expect(page.locator(".messages")).to_contain_text("Saved for the next runs")

    page.goto("/s/alder/sync/")
    page.get_by_role("button", name="Synchronise Users").click()
    expect(page.locator("#sync-counts dd[data-outcome='create']")).to_have_text("1")
    expect(records).to_contain_text("Confirmed as the same person")
    expect(records).to_contain_text("Added to this school (existing account)")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("heading", name="Sync report")).to_be_visible()
    assert Membership.objects.get(school=school_a, mis_code="T9").account_id == ann.pk
