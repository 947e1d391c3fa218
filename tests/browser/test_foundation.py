"""The foundation's main path in a real browser: sign in, dashboard, school switcher, jobs, sign out."""

import re

import pytest
from playwright.sync_api import expect

from accounts.services import census_report_build
from tenancy.models import Job
from tenancy.services import job_start
from tenancy.tasks import run_school_job
from tests.browser.helpers import LOGIN_PAGE, sign_in, sign_out
from tests.factories import MembershipFactory, RoleAssignmentFactory, member

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_of_two_schools(school_a, school_b):
    """A Centre Admin at Alder Academy who is also Centre Admin at Birch High, with one account."""
    account = member(school_a, "centre_admin", username="ca.both", given_name="Robin", family_name="Ash").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=account), role_id="centre_admin")
    return account


def test_centre_admin_signs_in_switches_school_and_signs_out(page, admin_of_two_schools, school_a, school_b):
    sign_in(page, admin_of_two_schools)
    expect(page.get_by_role("heading", name="People at Alder Academy")).to_be_visible()

    page.select_option("select#school-switcher", label="Birch High")
    expect(page).to_have_url(re.compile(r"/s/birch/$"))
    expect(page.get_by_role("heading", name="People at Birch High")).to_be_visible()
    expect(page.locator("select#school-switcher")).to_have_value("birch")

    sign_out(page)
    expect(page).to_have_url(LOGIN_PAGE)
    page.goto("/")  # the session really ended: the start page asks for a sign-in again
    expect(page).to_have_url(LOGIN_PAGE)


def test_census_job_progress_reaches_finished(page, centre_admin, school_a):
    sign_in(page, centre_admin)
    page.get_by_role("button", name="Build census report").click()

    expect(page).to_have_url(re.compile(r"/s/alder/jobs/[0-9a-f-]{36}/$"))
    progress = page.locator(".job-progress")
    expect(progress.locator(".job-state")).to_have_text("Finished")
    expect(progress).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_role("link", name="Download report")).to_be_visible()
    assert Job.objects.get(school=school_a).state == Job.State.SUCCEEDED


def test_progress_bar_polls_until_the_job_finishes(page, centre_admin, school_a):
    """The fragment polls by itself: the page is not reloaded between Queued and Finished."""
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=centre_admin)  # no task: it waits in the queue
    sign_in(page, centre_admin)
    page.goto(f"/s/alder/jobs/{job.pk}/")
    expect(page.locator(".job-progress .job-state")).to_have_text("Queued")
    page.evaluate("window.notReloaded = true")

    run_school_job(str(school_a.pk), str(job.pk), census_report_build)

    expect(page.locator(".job-progress .job-state")).to_have_text("Finished")
    assert page.evaluate("window.notReloaded") is True
    expect(page.get_by_role("link", name="Download report")).to_be_visible()
