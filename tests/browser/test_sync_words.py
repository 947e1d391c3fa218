"""Issue 20 in a real browser: the sync preview and report in words, the sync history's chart (its columns link
to their runs, with a table as its text alternative), the Bulk User Synchronise page's disabled buttons and
downloads, and the dashboard's pictures linking to the lists they count."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.provisioning.sync_helpers import contact, feed_zip, run_sync, student

pytestmark = pytest.mark.browser
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


@pytest.fixture
def two_runs(school_a):
    run_sync(school_a, feed_zip([student("S1")], contacts=[contact("C1")], links=[["C1", "S1", "Parent", "yes"]]))
    return run_sync(
        school_a,
        feed_zip([student("S1", family="Smith-Jones")], contacts=[contact("C1")], links=[["C1", "S1", "Parent", "no"]]),
        apply=False,
    )


def test_the_preview_speaks_in_words_and_names_both_people(page, nominated_contact, school_a, two_runs):
    sign_in(page, nominated_contact)
    page.goto(f"/s/alder/sync/runs/{two_runs.pk}/")
    expect(page.get_by_role("heading", name="Sync preview")).to_be_visible()
    records = page.locator("#sync-records")
    expect(records).to_contain_text("Family Name: Smith → Smith-Jones")
    expect(records).to_contain_text("Contact link changed")
    expect(records).to_contain_text("Contact: Pat Parent (C1)")
    expect(records).to_contain_text("Parent portal access: Yes → No")
    assert not SNAKE.findall(page.locator("#main").inner_text())


def test_the_history_chart_links_each_run_and_has_a_table(page, nominated_contact, school_a, two_runs):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/runs/")
    expect(page.get_by_role("heading", name="Sync history")).to_be_visible()
    chart = page.locator("#sync-chart")
    expect(chart.locator("svg a")).to_have_count(2)
    expect(chart.locator("table th[scope=col]")).to_contain_text(["Run", "Joiners", "Leavers", "Changes"])
    chart.locator("svg a").last.click()
    expect(page).to_have_url(re.compile(rf"/s/alder/sync/runs/{two_runs.pk}/$"))
    expect(page.get_by_role("heading", name="Sync preview")).to_be_visible()


def test_the_bulk_sync_page_disables_its_buttons_and_offers_downloads(page, nominated_contact, school_a):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/")
    actions = page.locator("#sync-actions")
    for name in ("Synchronise Users", "Apply"):
        button = actions.get_by_role("button", name=name)
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("aria-disabled", "true")
    assert actions.bounding_box()["y"] < 400  # the actions are near the top, not after the settings
    with page.expect_download() as sample:
        page.get_by_role("link", name="Download a sample MIS export (.zip)").click()
    assert sample.value.suggested_filename.endswith(".zip")
    with page.expect_download() as doc:
        page.get_by_role("link", name="Download the export format (text)").click()
    assert doc.value.suggested_filename.endswith(".txt")


def test_the_dashboard_pictures_link_to_their_lists(page, nominated_contact, school_a):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/")
    chart = page.locator("#activation-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("table")).to_be_visible()
    chart.locator("svg a").first.click()
    expect(page).to_have_url(re.compile(r"/s/alder/account-manager/\?type=(student|staff)&status="))
