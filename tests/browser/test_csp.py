"""The Content-Security-Policy refuses nothing Rollcall's own pages need: no violation in the console."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.provisioning.contacts.conftest import make_contact, make_student

pytestmark = pytest.mark.browser


def test_pages_htmx_and_swagger_ui_run_under_the_csp_without_a_violation(page, centre_admin, school_a):
    make_contact(school_a, students=[make_student(school_a)], username="kim.park", email="kim@example.org")
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    sign_in(page, centre_admin)
    page.goto("/s/alder/account-manager/")
    # Behaviour from static/js/rollcall.js: a filter submits itself; the page's box ticks every row.
    page.get_by_label("User", exact=True).select_option("contact")
    expect(page).to_have_url(re.compile(r"type=contact"))
    page.locator("#am-check-page").check()
    expect(page.locator("#am-banner")).to_be_visible()
    page.goto("/s/alder/")
    page.get_by_role("button", name="Build census report").click()
    expect(page.locator(".job-progress").first).to_be_visible()
    page.goto("/s/alder/users/")
    page.goto("/me/profile/")
    assert page.evaluate("window.htmx.config.includeIndicatorStyles") is False
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible()

    violations = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert violations == []
