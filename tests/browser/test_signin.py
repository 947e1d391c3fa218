"""Sign-in screens in a real browser: refusals in words, the forced password change, the support admin."""

import re

import pytest
from playwright.sync_api import expect

from accounts.credentials import starter_code_issue
from accounts.models import Account
from tests.browser.helpers import LOGIN_PAGE, sign_in
from tests.factories import PASSWORD, member

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh_rate_limits(fresh_cache):
    yield


def try_sign_in(page, username, password=PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_locked_out_person_is_told_why(page, school_a):
    member(school_a, "eo", username="locked.one", locked_out=True)
    try_sign_in(page, "locked.one")
    expect(page).to_have_url(LOGIN_PAGE)
    expect(page.get_by_role("alert")).to_contain_text("Your account is locked out")


def test_a_wrong_password_is_refused_and_the_starter_code_hint_shown(page, school_a):
    member(school_a, "eo", username="eo.typo")
    try_sign_in(page, "eo.typo", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    expect(page.get_by_text("First time? Type the starter code from your slip as the password")).to_be_visible()


def test_a_person_who_must_change_their_password_does_so_then_reaches_the_dashboard(page, school_a):
    account = member(school_a, "centre_admin", username="ca.fresh", must_change_password=True).account
    sign_in(page, account)
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    expect(page.get_by_text("Please choose a new password before you continue.")).to_be_visible()

    page.get_by_label("Current password").fill(PASSWORD)
    page.fill("input[name='password1']", "a-fresh-passphrase-9")
    page.fill("input[name='password2']", "a-fresh-passphrase-9")
    page.get_by_role("button", name="Change password").click()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/s/alder/$"))
    account.refresh_from_db()
    assert account.must_change_password is False


def test_support_staff_open_the_admin_across_schools(page, school_a, school_b, support_user):
    member(school_a, username="pupil.alder", person_type="student")
    member(school_b, username="pupil.birch", person_type="student")
    sign_in(page, support_user)  # support staff start in the support admin (PRODUCT.md, Later decisions)
    page.get_by_role("link", name="Memberships").click()
    expect(page.locator("#result_list")).to_contain_text("pupil.alder")
    expect(page.locator("#result_list")).to_contain_text("pupil.birch")
    assert Account.objects.filter(username="pupil.birch").exists()


def test_a_starter_code_signs_in_beside_the_email_address_and_asks_for_a_password(page, school_a):
    account = member(school_a, person_type="student", email="Pupil.One@alder.sch.uk").account
    code = starter_code_issue(school=school_a, account=account)
    try_sign_in(page, "pupil.one@alder.sch.uk", code.lower())
    expect(page).not_to_have_url(LOGIN_PAGE)
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(page.get_by_text(f"finish signing in as {account.username}")).to_be_visible()


def test_a_school_that_signs_in_with_microsoft_or_google_says_so_right_password_or_wrong(page, school_a, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APPS": [{"client_id": "test-client", "secret": "test-secret"}], "SCOPE": ["profile", "email"]}
    }
    admin = member(school_a, "centre_admin", username="ca.m365", override_network_auth=True).account
    member(school_a, "eo", username="eo.m365")

    # The Centre Admin turns the setting on from Bulk User Synchronise (they keep their password: Override
    # Network Authentication).
    sign_in(page, admin)
    page.goto(f"/s/{school_a.slug}/sync/")
    page.get_by_label("Sign in with Microsoft 365 or Google only").check()
    page.get_by_role("button", name="Save sign-in methods").click()
    expect(page.get_by_text("people at this school now sign in with Microsoft 365 or Google only")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    answers = []
    for password in (PASSWORD, "not-the-password"):
        try_sign_in(page, "eo.m365", password)
        expect(page).to_have_url(LOGIN_PAGE)
        alert = page.get_by_role("alert")
        expect(alert).to_have_text("Your school signs in with Microsoft 365 or Google: use the button below.")
        answers.append(alert.inner_text())
    assert answers[0] == answers[1]
    expect(page.get_by_role("button", name=re.compile("Google"))).to_be_visible()
