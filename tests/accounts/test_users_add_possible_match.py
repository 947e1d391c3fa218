"""+Add when the organisation already holds someone with the email, not verified (issue 19, "Duplicate people"):
the match is shown and a person chooses; nothing is merged or duplicated without a word, and another
organisation's people are never shown."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, AuditEvent, Membership
from tests.factories import SchoolFactory, member

URL = "/s/alder/users/add/"
EMAIL = "rfranklin@alder.sch.uk"


def _form(**overrides):
    data = {
        "person_type": "staff",
        "username": "new.teacher",
        "mis_code": "T777",
        "family_name": "Franklin",
        "given_name": "Rosalind",
        "email": "RFranklin@Alder.sch.uk",
        "password_method": "starter_code",
        "roles": ["inv"],
        "consent": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def sibling(school_a):
    return SchoolFactory(organisation=school_a.organisation, name="Cedar College", slug="cedar")


@pytest.fixture
def known(sibling):
    """Made at Cedar from its MIS: the email was never verified."""
    return member(sibling, username="rf.cedar", given_name="Rosalind", family_name="Franklin", email=EMAIL).account


def test_a_possible_match_in_the_trust_is_shown_and_nothing_is_created(login, eo_user, known):
    response = login(eo_user).post(URL, _form())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Possible match: Rosalind Franklin, rf.cedar, Cedar College has this email." in html
    assert "Same person: add a membership at this school" in html
    assert "Different person: create a new account" in html
    assert not Account.objects.filter(username="new.teacher").exists()


def test_same_person_adds_the_existing_account_to_the_school(login, eo_user, school_a, sibling, known):
    response = login(eo_user).post(URL, _form(add_existing=str(known.pk)))
    assert response.status_code == 302
    mine = Membership.objects.get(school=school_a, account=known)
    assert list(mine.role_assignments.values_list("role_id", flat=True)) == ["inv"]
    assert Membership.objects.get(school=sibling, account=known).status == "active"
    assert Account.objects.filter(email__iexact=EMAIL).count() == 1


def test_different_person_creates_a_new_account_and_says_so_in_the_audit(login, eo_user, school_a, known):
    response = login(eo_user).post(URL, _form(different_person=str(known.pk)))
    assert response.status_code == 200 and "starter code" in response.content.decode().lower()
    made = Account.objects.get(username="new.teacher")
    assert made.pk != known.pk
    event = AuditEvent.objects.get(action="accounts.account.created", target_id=str(made.pk))
    assert event.changes["different_from"] == [None, "rf.cedar"]


def test_another_organisations_person_is_never_shown(login, eo_user, school_b):
    """The attacker's view: +Add with someone's address must not reveal another trust's people."""
    member(school_b, username="rf.birch", given_name="Rosalind", family_name="Franklin", email=EMAIL)
    response = login(eo_user).post(URL, _form())
    assert response.status_code == 200 and "rf.birch" not in response.content.decode()
    assert Account.objects.filter(username="new.teacher").exists()


def test_another_schools_centre_admin_cannot_be_taken_over(login, eo_user, school_a, sibling):
    boss = member(sibling, "centre_admin", username="cedar.boss", given_name="Rosalind", family_name="Franklin",
                  email=EMAIL).account  # fmt: skip
    client = login(eo_user)
    assert "cedar.boss" in client.post(URL, _form()).content.decode()
    refused = client.post(URL, _form(add_existing=str(boss.pk)))
    assert refused.status_code == 200 and "may not grant" in refused.content.decode()
    assert not Membership.objects.filter(school=school_a, account=boss).exists()


def test_a_different_person_chosen_for_another_account_asks_again(login, eo_user, known):
    other = member(known.home_school, username="x", email="someone@else.org").account
    response = login(eo_user).post(URL, _form(different_person=str(other.pk)))
    assert "Possible match" in response.content.decode()
    assert not Account.objects.filter(username="new.teacher").exists()


def test_the_api_answers_409_with_the_possible_match_then_creates_on_request(eo_user, school_a, known):
    client = APIClient()
    client.force_authenticate(eo_user)
    client.force_login(eo_user)
    body = {"person_type": "staff", "username": "api.made", "given_name": "R", "family_name": "F", "email": EMAIL,
            "roles": ["inv"], "password_method": "starter_code", "consent": True}  # fmt: skip
    conflict = client.post("/api/s/alder/accounts/", body, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["possible_match"] is True and conflict.json()["existing_account"]["id"] == str(known.pk)
    made = client.post("/api/s/alder/accounts/", body | {"different_person": str(known.pk)}, format="json")
    assert made.status_code == 201 and made.json()["added_existing"] is False
