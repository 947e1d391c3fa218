"""Feed source on Bulk User Synchronise, in a real browser: a Nominated Contact sets the school's OneRoster
server, presses Pull now, and follows the pull's job to its counts and report."""

import pytest
from playwright.sync_api import expect

from provisioning import tasks
from provisioning.sync import oneroster_rest
from tests.browser.helpers import sign_in
from tests.provisioning.test_sync_oneroster_rest import SERVER, TOKEN, Recorded, recorded_session

pytestmark = pytest.mark.browser


def test_nominated_contact_sets_a_oneroster_server_and_pulls_now(page, nominated_contact, school_a, monkeypatch):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/sync/")
    section = page.locator("section.feed-source")
    expect(section.get_by_role("heading", name="Feed source")).to_be_visible()
    section.get_by_label("Pull the feed from a OneRoster server").check()
    section.get_by_label("Server address").fill(SERVER)
    section.get_by_label("Token address").fill(TOKEN)
    section.get_by_label("Client ID").fill("rollcall")
    section.get_by_label("Client secret").fill("hunter2-secret")
    section.get_by_role("button", name="Save feed source").click()
    expect(page.locator(".messages")).to_contain_text("Feed source saved.")
    expect(page.locator("section.feed-source")).to_contain_text("A client secret is kept.")
    expect(page.get_by_label("Client secret")).to_have_value("")

    # Pull now: the job's message is held, so the page shows it waiting; then the "worker" pulls from the
    # recorded server.
    sent = []
    monkeypatch.setattr(tasks.roster_pull_task, "delay", lambda *args: sent.append(args))
    page.locator("section.feed-source").get_by_role("button", name="Pull now").click()
    expect(page.get_by_role("heading", name="OneRoster pull")).to_be_visible()
    monkeypatch.setattr(oneroster_rest, "_session", recorded_session(Recorded()))
    tasks.roster_pull_task(*sent[0])
    progress = page.locator(".job-progress")
    expect(progress).to_have_attribute("data-state", "succeeded")  # the bar polled until done
    expect(progress).to_contain_text("Users read")
    expect(progress.get_by_role("link", name="Download report")).to_be_visible()
