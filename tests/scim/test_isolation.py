"""Organisation A's SCIM token sees and touches nothing of organisation B; no token, no answer."""

import pytest

from accounts.models import Account, Membership
from scim import services
from scim.resources import CORE_URN, EXTENSION_URN
from tests.factories import member

pytestmark = pytest.mark.django_db
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def body(username, email, school):
    return {
        "schemas": [CORE_URN, EXTENSION_URN],
        "userName": username,
        "emails": [{"value": email}],
        "active": True,
        EXTENSION_URN: {"school": school},
    }


@pytest.fixture
def b_user(scim, other_token):
    response, created = scim(other_token[1])("post", "Users", body("b.person", "b.person@elm.sch.uk", "elm-school"))
    assert response.status_code == 201
    return created


def test_organisation_a_sees_nothing_of_organisation_b(scim, trust_token, b_user, other_trust):
    member(other_trust.schools.get(), username="b.staff")  # staff the MIS sync made: no one's SCIM resource
    call = scim(trust_token[1])

    _, listed = call("get", "Users")
    assert listed["totalResults"] == 0 and "b.person" not in str(listed)
    for query in ('userName eq "b.person"', 'emails.value eq "b.person@elm.sch.uk"', 'userName eq "b.staff"'):
        assert call("get", "Users", filter=query)[1]["totalResults"] == 0
    _, searched = call("post", "Users/.search", {"filter": 'userName eq "b.person"'})
    assert searched["totalResults"] == 0
    _, schemas = call("get", "Schemas")
    assert "elm-school" not in str(schemas) and "oak-primary" in str(schemas)


@pytest.mark.parametrize(
    ("method", "payload"),
    [
        ("get", None),
        ("put", body("hijacked", "x@oakwood.sch.uk", "elm-school")),
        ("patch", {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}),
        ("delete", None),
    ],
)
def test_organisation_a_touches_nothing_of_organisation_b(scim, trust_token, b_user, method, payload):
    account = Account.objects.get(username="b.person")
    before = (account.username, account.locked_out, list(Membership.objects.filter(account=account).values()))

    response, answer = scim(trust_token[1])(method, f"Users/{b_user['id']}", payload)

    assert response.status_code == 404 and answer["status"] == "404"
    account.refresh_from_db()
    assert (account.username, account.locked_out, list(Membership.objects.filter(account=account).values())) == before


def test_organisation_a_cannot_place_anyone_in_organisation_b(scim, trust_token):
    response, answer = scim(trust_token[1])("post", "Users", body("sneaky", "s@elm.sch.uk", "elm-school"))

    assert response.status_code == 400 and "not a school of this organisation" in answer["detail"]
    assert not Account.objects.filter(username="sneaky").exists()


def test_without_a_live_scim_token_nothing_answers(client, trust_token, support_user):
    token, raw = trust_token
    school_api_token = "rc_" + "x" * 40  # a school's API token is not an organisation's SCIM token
    for header in ({}, {"HTTP_AUTHORIZATION": f"Token {raw}"}, {"HTTP_AUTHORIZATION": f"Bearer {school_api_token}"},
                   {"HTTP_AUTHORIZATION": "Bearer rc_scim_guess"}):  # fmt: skip
        response = client.get("/scim/v2/Users", **header)
        assert response.status_code == 401 and response.json()["status"] == "401"
        assert response["WWW-Authenticate"].startswith("Bearer")
    client.force_login(support_user)  # a session is not a token either
    assert client.get("/scim/v2/Users").status_code == 401

    services.scim_token_revoke(token=token, actor=support_user)
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
