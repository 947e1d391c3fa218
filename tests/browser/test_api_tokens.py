"""The API tokens page in a real browser: a Nominated Contact issues the MIS agent's token from the menu,
copies it once, and revokes it."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


def test_a_nominated_contact_issues_and_revokes_the_mis_agent_token(page, nominated_contact, school_a):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("MIS agent on the office server")
    expect(page.get_by_label("Scope")).to_have_value("mis_agent")
    page.get_by_role("button", name="Issue token").click()

    token = page.get_by_label("New API token")
    expect(token).to_contain_text("rc_")
    row = page.locator("table tbody tr", has_text="MIS agent on the office server")
    expect(row).to_contain_text("Never")
    expect(row).to_contain_text("Live")

    page.reload()  # the token is not shown again
    expect(page.get_by_label("New API token")).to_have_count(0)
    page.get_by_role("button", name="Revoke MIS agent on the office server").click()
    expect(page.get_by_text("was revoked")).to_be_visible()
    expect(page.locator("table tbody tr", has_text="MIS agent on the office server")).to_contain_text("Revoked")
