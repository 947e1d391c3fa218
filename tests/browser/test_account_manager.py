"""Seed 001's steps 1-9 in a real browser: revoke the contacts Ready to Revoke Access, then send the
parent's new account a Welcome Email."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Account
from provisioning.contacts.selectors import ContactStatus, contacts_with_state
from tests.browser.helpers import sign_in
from tests.provisioning.contacts.conftest import make_contact, make_student

pytestmark = pytest.mark.browser


@pytest.fixture
def parents(school_a):
    """Kim's contact code changed in the MIS: the old record has no students, the new one is
    Ready to Provision. Lou has no students left at the school."""
    student = make_student(school_a, given_name="Ash", family_name="Park")
    return {
        "old": make_contact(school_a, students=[], username="kim.old", email="kim@example.org", family_name="Park"),
        "new": make_contact(
            school_a,
            students=[student],
            activated=False,
            username="kim.new",
            email="kim@example.org",
            family_name="Park",
        ),
        "gone": make_contact(
            school_a, students=[make_student(school_a, status="left")], username="lou.gone", email="lou@example.org"
        ),
    }


def test_seed_001_revoke_ready_to_revoke_then_welcome_the_new_account(page, nominated_contact, parents, school_a):
    sign_in(page, nominated_contact)
    page.goto("/s/alder/")
    # 1. Administration Workspace > User Management > Account Manager
    page.get_by_role("navigation", name="School menu").get_by_role("link", name="Account Manager").click()
    expect(page.get_by_role("heading", name="Account Manager")).to_be_visible()
    # 2. From the user drop-down select Contacts.
    page.get_by_label("User", exact=True).select_option("contact")
    # 3. Select Ready to Revoke Access from the status drop-down.
    page.get_by_label("Status").select_option("ready_to_revoke")
    expect(page).to_have_url(re.compile(r"status=ready_to_revoke"))
    table = page.locator("table.account-manager")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Replaced by a newer account (code change or family split)")
    expect(table).to_contain_text("Replacement:")
    # 4. Select all parent accounts with the checkbox at the top of the 'Type' column.
    page.get_by_role("columnheader", name="Type").get_by_role("checkbox").check()
    expect(page.locator("#am-banner")).to_contain_text("All 2 on this page are selected.")
    # 5. Actions... > Revoke Access, then Confirm.
    page.get_by_text("Actions...").click()
    page.get_by_role("button", name="Revoke Access").click()
    expect(page.get_by_role("heading", name="Revoke Access")).to_be_visible()
    expect(page.get_by_role("heading", name="No students at the school (1)")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Replaced by a newer account"))).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".job-progress .job-state").first).to_have_text("Finished")
    assert not Account.objects.get(pk=parents["old"].account_id).is_active
    assert not Account.objects.get(pk=parents["gone"].account_id).is_active
    # 6-7. The parent has a new account: select Ready to Provision.
    page.get_by_label("Status").select_option("ready_to_provision")
    row = page.locator("table.account-manager tbody tr", has_text="kim.new")
    expect(row).to_be_visible()
    # 8. Select the parent's record.
    row.get_by_role("checkbox").check()
    # 9. Actions > Send Welcome Email > Confirm.
    page.get_by_text("Actions...").click()
    page.get_by_role("button", name="Send Welcome Email").click()
    expect(page.get_by_role("heading", name="Send Welcome Email")).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".job-progress .job-state").first).to_have_text("Finished")
    assert [m.to for m in mail.outbox] == [["kim@example.org"]]
    assert "/welcome/" in mail.outbox[0].body
    states = {m.pk: m.state for m in contacts_with_state(school=school_a)}
    assert states[parents["old"].pk] == ContactStatus.NO_ACCESS
    assert states[parents["new"].pk] == ContactStatus.READY_TO_PROVISION
