"""Signing in to a school's service with a Rollcall account, in Chromium: the service (an Authlib relying party
on a local port) sends the browser to Rollcall's sign-in, Rollcall sends it back with a code, and the service
validates the ID token, reads userinfo and refreshes. A student, a parent and an invigilator get in; a Locked
Out account and an account without the service's roles are refused on Rollcall's pages."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Account, AuditEvent, RoleAssignment
from signon import services
from tests.browser.relying_party import RelyingParty
from tests.factories import PASSWORD, ContactLinkFactory, OrganisationFactory, SchoolFactory, member


@pytest.fixture
def school(db):
    return SchoolFactory(
        organisation=OrganisationFactory(name="Northfield Learning Trust"), name="Alder Academy", slug="alder"
    )


@pytest.fixture
def relying_party(live_server, school):
    rp = RelyingParty(issuer_url=live_server.url, scope="openid profile email schools linked_students")
    support = Account.objects.create_user("support.browser", is_staff=True)
    service, secret = services.service_register(
        actor=support,
        name="Exams Office Hub",
        organisation=school.organisation,
        redirect_uris=[rp.redirect_uri],
        role_codes=["student_portal", "parent", "inv"],
        scopes=["profile", "email", "schools", "linked_students"],
    )
    rp.start(client_id=service.application.client_id, secret=secret)
    yield rp
    rp.stop()


def _sign_in_through_the_service(page, rp, username):
    page.goto(f"{rp.url}/login")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.fill("input[name='login']", username)
    page.fill("input[name='password']", PASSWORD)
    page.locator("form:has(input[name='login']) [type='submit']").click()


def test_a_student_signs_in_to_the_service(page, relying_party, school):
    student = member(school, "student_portal", person_type="student", username="amy.student")
    student.year_group = "Year 9"
    student.save()
    _sign_in_through_the_service(page, relying_party, "amy.student")
    expect(page.get_by_role("heading", name="Signed in as amy.student")).to_be_visible()
    result = relying_party.results[-1]
    assert result["id_token"]["sub"] == str(student.account_id) and result["refreshed"]
    assert result["userinfo"]["schools"][0] | {"roles": None} == {
        "school": "alder",
        "school_name": "Alder Academy",
        "person_type": "student",
        "year_group": "Year 9",
        "roles": None,
    }


def test_a_parent_signs_in_and_the_service_learns_their_linked_students(page, relying_party, school):
    link = ContactLinkFactory(school=school, contact__portal_access=True, contact__account__username="pat.parent")
    RoleAssignment.objects.create(school=school, membership=link.contact, role_id="parent")
    _sign_in_through_the_service(page, relying_party, "pat.parent")
    expect(page.get_by_role("heading", name="Signed in as pat.parent")).to_be_visible()
    entry = relying_party.results[-1]["userinfo"]["schools"][0]
    assert entry["person_type"] == "contact" and entry["roles"] == ["parent"]
    assert [s["sub"] for s in entry["students"]] == [str(link.student.account_id)]


def test_an_invigilator_signs_in_and_the_profile_lists_the_service(page, relying_party, school):
    member(school, "inv", username="ian.invigilator")
    _sign_in_through_the_service(page, relying_party, "ian.invigilator")
    expect(page.get_by_role("heading", name="Signed in as ian.invigilator")).to_be_visible()
    assert relying_party.results[-1]["userinfo"]["schools"][0]["roles"] == ["inv"]
    page.goto(relying_party.issuer_url + "/me/profile/")
    page.get_by_role("button", name="Sign out of Exams Office Hub").click()
    expect(page.get_by_text("You are signed out of Exams Office Hub.")).to_be_visible()


def test_a_locked_out_account_is_refused_on_rollcalls_sign_in(page, relying_party, school):
    member(school, "inv", username="lee.locked", locked_out=True)
    _sign_in_through_the_service(page, relying_party, "lee.locked")
    expect(page.get_by_text("Your account is locked out")).to_be_visible()
    assert relying_party.results == []


def test_an_account_without_the_services_roles_is_told_why(page, relying_party, school):
    member(school, "teacher_security", username="tom.teacher")
    _sign_in_through_the_service(page, relying_party, "tom.teacher")
    expect(page.get_by_role("heading", name="You cannot sign in to Exams Office Hub")).to_be_visible()
    expect(page.locator("#refusal")).to_contain_text("only for people with one of these roles")
    assert relying_party.results == []
    assert AuditEvent.objects.filter(action="signon.authorization.refused").exists()
