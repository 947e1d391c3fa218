"""The trust console in a real browser (issue 24): a Trust Viewer starts on it, sees each school with its
counts, opens a school from its row, and finds a teacher who works at two schools once with both; a Trust Admin
gives Trust Viewer from the console."""

import re

import pytest
from playwright.sync_api import expect

from provisioning.models import SyncRun
from tests.browser.helpers import sign_in
from tests.factories import MembershipFactory, SchoolFactory, member, trust_role

pytestmark = pytest.mark.browser


@pytest.fixture
def sister(organisation):
    return SchoolFactory(organisation=organisation, name="Ash Primary", slug="ash")


def test_a_trust_viewer_sees_the_schools_and_opens_one(page, school_a, sister, school_b):
    viewer = trust_role(school_a.organisation, "trust_viewer", username="viewer.trust")
    for _ in range(3):
        MembershipFactory(school=school_a, person_type="student")
    SyncRun.objects.create(school=sister, trigger="manual", state="needs_confirmation")

    sign_in(page, viewer)

    expect(page).to_have_url(re.compile(rf"/t/{school_a.organisation.slug}/$"))  # they start on the console
    expect(page.get_by_role("heading", name=school_a.organisation.name)).to_be_visible()
    table = page.locator("#trust-schools")
    expect(table.get_by_role("link", name="Alder Academy", exact=True)).to_be_visible()
    expect(table.get_by_role("link", name="Ash Primary", exact=True)).to_be_visible()
    expect(table).not_to_contain_text("Birch High")
    expect(page.get_by_role("link", name="3 students at Alder Academy")).to_be_visible()
    expect(page.get_by_role("link", name="1 sync runs waiting at Ash Primary")).to_be_visible()
    expect(page.get_by_role("navigation", name="Trust menu").get_by_role("link", name="Trust Viewers")).to_have_count(0)

    table.get_by_role("link", name="Alder Academy", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    nav = page.get_by_role("navigation", name="School menu")
    expect(nav.get_by_role("link", name="Users")).to_be_visible()
    expect(nav.get_by_role("link", name="Bulk User Synchronise")).to_have_count(0)
    page.get_by_role("link", name="Trust console").click()
    expect(page.locator("#trust-schools")).to_be_visible()


def test_a_trust_viewer_finds_a_teacher_at_two_schools_once(page, school_a, sister):
    viewer = trust_role(school_a.organisation, "trust_viewer", username="viewer.trust")
    teacher = member(school_a, "eo", username="r.sharma", given_name="Ravi", family_name="Sharma")
    MembershipFactory(school=sister, account=teacher.account, person_type="staff", mis_code="ASH-9")
    member(school_a, "inv", username="someone.else", family_name="Else")

    sign_in(page, viewer)
    page.get_by_role("navigation", name="Trust menu").get_by_role("link", name="People search").click()
    page.get_by_role("searchbox", name="Search").fill("ASH-9")
    page.get_by_role("button", name="Search").click()

    rows = page.locator("#trust-people tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("r.sharma")
    expect(rows.first.get_by_role("link", name="Alder Academy", exact=True)).to_be_visible()
    expect(rows.first.get_by_role("link", name="Ash Primary", exact=True)).to_be_visible()
    expect(rows.first).to_contain_text("MIS Code ASH-9")

    rows.first.get_by_role("link", name="Ash Primary", exact=True).click()
    expect(page.locator("table.users tbody tr")).to_have_count(1)
    expect(page.locator("table.users")).to_contain_text("r.sharma")


def test_a_trust_admin_gives_trust_viewer(page, school_a, sister):
    admin = trust_role(school_a.organisation, "trust_admin", username="admin.trust")
    member(sister, "eo", username="new.viewer", given_name="Nia", family_name="Viewer")

    sign_in(page, admin)
    page.get_by_role("navigation", name="Trust menu").get_by_role("link", name="Trust Viewers").click()
    page.get_by_label("User Name").fill("new.viewer")
    page.get_by_role("button", name="Add Trust Viewer").click()

    expect(page.get_by_role("status")).to_contain_text("Nia Viewer is now a Trust Viewer.")
    expect(page.locator("#trust-roles tr[data-account='new.viewer']")).to_contain_text("Trust Viewer")
