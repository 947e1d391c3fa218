"""The accounts API: the same rules as the screens, through the same services, errors as JSON."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, AuditEvent, Membership
from accounts.services.tokens import api_token_issue
from tests.accounts.users_helpers import person
from tests.factories import AccountFactory, MembershipFactory

BASE = "/api/s/alder/accounts/"


@pytest.fixture
def api():
    def _as(account):
        client = APIClient()
        client.force_authenticate(account)
        client.force_login(account)
        return client

    return _as


@pytest.fixture
def teacher(school_a):
    return person(
        school_a,
        "slt",
        username="t.teacher",
        given_name="Tess",
        family_name="Teacher",
        email="tess@alder.sch.uk",
        mis_code="T100",
    )


def _new(**overrides):
    data = {
        "person_type": "staff",
        "username": "api.made",
        "given_name": "Api",
        "family_name": "Made",
        "email": "api.made@alder.sch.uk",
        "roles": ["inv"],
        "password_method": "starter_code",
        "consent": True,
    }
    return data | overrides


def test_it_lists_with_the_screens_filters(api, centre_admin, teacher):
    body = api(centre_admin).get(BASE, {"q": "teacher"}).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == str(teacher.pk) and row["roles"] == ["slt"] and row["linked_signins"] is False


def test_it_pages_with_the_cursor_it_hands_out(api, centre_admin, school_a):
    for n in range(30):
        person(school_a, username=f"p{n:02d}", family_name=f"Page{n:02d}")
    client = api(centre_admin)
    first = client.get(BASE, {"per_page": 25}).json()
    second = client.get(BASE, {"per_page": 25, "page": 2, "after": first["next_after"]}).json()
    assert second["page"] == 2 and second["next_after"] == "" and len(second["results"]) == 6
    assert second["results"] == client.get(BASE, {"per_page": 25, "page": 2}).json()["results"]
    back = client.get(BASE, {"per_page": 25, "page": 1, "before": second["previous_before"]}).json()
    assert back["results"] == first["results"] and back["previous_before"] == ""


def test_it_retrieves_one_person(api, eo_user, teacher):
    body = api(eo_user).get(f"{BASE}{teacher.pk}/").json()
    assert body["username"] == "t.teacher" and body["mis_code"] == "T100"


def test_it_creates_a_person_with_a_starter_code(api, eo_user, school_a):
    response = api(eo_user).post(BASE, _new(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["username"] == "api.made" and body["roles"] == ["inv"] and len(body["starter_code"]) == 14
    assert Membership.objects.filter(school=school_a, account__username="api.made").exists()
    event = AuditEvent.objects.get(action="accounts.account.created", target_label="api.made")
    assert event.changes["consent"] == [None, "acknowledged"]


def test_create_without_consent_is_a_400_with_the_field(api, eo_user):
    response = api(eo_user).post(BASE, _new(consent=False), format="json")
    assert response.status_code == 400
    assert "consent" in response.json()["errors"]


def test_create_reports_field_messages(api, eo_user):
    response = api(eo_user).post(BASE, _new(email="", person_type="staff"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["email"] == ["Email is required for staff."]
    bad = api(eo_user).post(BASE, {"person_type": "wizard"}, format="json")
    assert bad.status_code == 400 and "person_type" in bad.json()["errors"]


def test_create_refuses_a_role_the_caller_may_not_grant(api, eo_user):
    response = api(eo_user).post(BASE, _new(roles=["centre_admin"]), format="json")
    assert response.status_code == 403
    assert "may not grant" in response.json()["detail"]
    assert not Account.objects.filter(username="api.made").exists()


def test_an_existing_account_is_a_409_then_added_with_add_existing(api, eo_user, school_a, school_b):
    known = AccountFactory(username="known", email="api.made@alder.sch.uk", email_verified=True)
    MembershipFactory(school=school_b, account=known)
    client = api(eo_user)
    conflict = client.post(BASE, _new(), format="json")
    assert conflict.status_code == 409
    assert conflict.json()["existing_account"]["id"] == str(known.pk)
    added = client.post(BASE, _new(add_existing=str(known.pk)), format="json")
    assert added.status_code == 201 and added.json()["added_existing"] is True
    assert Membership.objects.filter(school=school_a, account=known).exists()


def test_an_eo_cannot_change_an_email_through_the_api_either(api, eo_user, teacher):
    response = api(eo_user).patch(f"{BASE}{teacher.pk}/", {"email": "x@alder.sch.uk"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only a Centre Admin can change an email address."


def test_a_centre_admin_changes_another_email_but_not_their_own(api, centre_admin, teacher, school_a):
    client = api(centre_admin)
    ok = client.patch(f"{BASE}{teacher.pk}/", {"email": "new@alder.sch.uk", "locked_out": True}, format="json")
    assert ok.status_code == 200 and ok.json()["email"] == "new@alder.sch.uk" and ok.json()["locked_out"]
    own = centre_admin.memberships.get(school=school_a)
    refused = client.patch(f"{BASE}{own.pk}/", {"email": "me@alder.sch.uk"}, format="json")
    assert refused.status_code == 403 and "their own email" in refused.json()["detail"]


def test_update_warns_about_an_off_domain_staff_email(api, centre_admin, teacher):
    body = api(centre_admin).patch(f"{BASE}{teacher.pk}/", {"email": "t@gmail.com"}, format="json").json()
    assert body["warnings"] and "email domains" in body["warnings"][0]


def test_roles_are_assigned_and_removed_within_what_the_caller_may_grant(api, eo_user, teacher):
    client = api(eo_user)
    assert client.post(f"{BASE}{teacher.pk}/roles/", {"role": "inv"}, format="json").json()["roles"] == ["inv", "slt"]
    refused = client.post(f"{BASE}{teacher.pk}/roles/", {"role": "centre_admin"}, format="json")
    assert refused.status_code == 403
    assert client.delete(f"{BASE}{teacher.pk}/roles/slt/").json()["roles"] == ["inv"]
    unknown = client.post(f"{BASE}{teacher.pk}/roles/", {"role": "wizard"}, format="json")
    assert unknown.status_code == 400 and "role" in unknown.json()["errors"]


def test_removing_the_last_centre_admin_role_is_a_400(api, centre_admin, school_a):
    own = centre_admin.memberships.get(school=school_a)
    response = api(centre_admin).delete(f"{BASE}{own.pk}/roles/centre_admin/")
    assert response.status_code == 400 and "last Centre Admin" in response.json()["detail"]


def test_a_centre_admin_deletes_and_an_eo_may_not(api, centre_admin, eo_user, teacher):
    refused = api(eo_user).delete(f"{BASE}{teacher.pk}/")
    assert refused.status_code == 403
    response = api(centre_admin).delete(f"{BASE}{teacher.pk}/")
    assert response.status_code == 200 and response.json() == {"erased": True}
    assert not Account.objects.get(pk=teacher.account.pk).is_active
    assert api(centre_admin).get(f"{BASE}{teacher.pk}/").status_code == 404


def test_an_invigilator_gets_403_everywhere(api, inv_user, teacher):
    client = api(inv_user)
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}{teacher.pk}/").status_code == 403
    assert client.post(BASE, _new(), format="json").status_code == 403


def test_another_schools_admin_finds_nothing(api, other_school_admin, teacher, school_b):
    client = api(other_school_admin)
    assert client.get(BASE).status_code == 404
    theirs = person(school_b, username="birch.person")
    assert client.get(f"/api/s/birch/accounts/{teacher.pk}/").status_code == 404
    assert client.get(f"/api/s/birch/accounts/{theirs.pk}/").status_code == 200


def test_a_school_token_works_within_its_roles(school_a, centre_admin, teacher):
    _token, raw = api_token_issue(school=school_a, account=centre_admin, name="script", role_codes=["eo"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert client.get(BASE).status_code == 200
    assert client.delete(f"{BASE}{teacher.pk}/").status_code == 403  # the token's EO role may not delete
    _token, mis_raw = api_token_issue(school=school_a, account=centre_admin, name="mis", role_codes=["mis_agent"])
    mis_agent = APIClient()
    mis_agent.credentials(HTTP_AUTHORIZATION=f"Token {mis_raw}")
    assert mis_agent.get(BASE).status_code == 403


def test_the_openapi_schema_describes_the_accounts_api(login, centre_admin):
    schema = login(centre_admin).get("/api/schema/?format=json").json()
    assert {"/api/s/{school_slug}/accounts/", "/api/s/{school_slug}/accounts/{membership_id}/"} <= set(schema["paths"])
    operations = schema["paths"]["/api/s/{school_slug}/accounts/{membership_id}/"]
    assert {"get", "patch", "delete"} <= set(operations)
