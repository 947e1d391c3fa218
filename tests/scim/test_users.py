"""/scim/v2/Users: what an identity provider's create, change, deactivate and delete do to Rollcall's people."""

import pytest

from accounts.models import Account, AuditEvent, Membership, UsernameHold
from scim.resources import CORE_URN, EXTENSION_URN
from tests.factories import member

pytestmark = pytest.mark.django_db


def user(username="j.smith", email="j.smith@oakwood.sch.uk", school="oak-secondary", roles=(), **extra):
    body = {
        "schemas": [CORE_URN, EXTENSION_URN],
        "userName": username,
        "name": {"givenName": "Jo", "familyName": "Smith"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
        EXTENSION_URN: {"school": school, "roles": list(roles)},
    }
    return body | extra


@pytest.fixture
def call(scim, trust_token):
    return scim(trust_token[1])


def staff(account, slug="oak-secondary"):
    return Membership.objects.get(account=account, school__slug=slug, person_type="staff")


def test_it_creates_staff_at_the_school_with_the_roles_asked_for(call):
    response, body = call("post", "Users", user(roles=["eo", "inv"], externalId="entra-42"))

    assert response.status_code == 201, body
    assert response["Location"] == body["meta"]["location"]
    account = Account.objects.get(username="j.smith")
    membership = staff(account)
    assert {ra.role_id for ra in membership.role_assignments.all()} == {"eo", "inv"}
    assert not account.has_usable_password()  # they sign in with the organisation's Microsoft 365 or Google
    assert body["userName"] == "j.smith" and body["externalId"] == "entra-42" and body["active"] is True
    assert body[EXTENSION_URN] == {"school": "oak-secondary", "roles": ["eo", "inv"]}
    created = AuditEvent.objects.get(action="accounts.account.created", target_id=str(account.pk))
    assert created.actor is None and created.actor_label.startswith("SCIM token Entra ID (rc_scim_")


def test_it_refuses_a_role_the_token_may_not_give_and_never_centre_admin(call, trust, issue):
    response, body = call("post", "Users", user(roles=["nominated_contact"]))

    assert response.status_code == 403
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "403"
    assert not Account.objects.filter(username="j.smith").exists()
    with pytest.raises(Exception, match="cannot give"):
        issue(trust, roles=["centre_admin"])


def test_it_asks_which_school_when_the_organisation_has_several(call):
    without = user()
    del without[EXTENSION_URN]
    response, body = call("post", "Users", without)
    assert response.status_code == 400 and body["scimType"] == "invalidValue"
    assert "oak-primary" in body["detail"]
    response, body = call("post", "Users", user(school=None))
    assert response.status_code == 400 and "school" in body["detail"]

    response, body = call("post", "Users", user(school="elm-school"))
    assert response.status_code == 400 and "not a school of this organisation" in body["detail"]


def test_a_single_school_organisation_needs_no_extension(scim, other_token):
    without = user(email="a@elm.sch.uk")
    del without[EXTENSION_URN]

    response, body = scim(other_token[1])("post", "Users", without)

    assert response.status_code == 201, body
    assert body[EXTENSION_URN] == {"school": "elm-school"}


def test_usernames_stay_unique_and_held_names_are_refused(call, trust):
    member(trust.schools.first(), username="taken.name")
    UsernameHold.objects.create(username_lower="held.name", held_until="2099-01-01T00:00Z")

    for name in ("taken.name", "TAKEN.NAME", "held.name"):
        response, body = call("post", "Users", user(username=name))
        assert response.status_code == 409 and body["scimType"] == "uniqueness", name


@pytest.mark.parametrize(
    ("change", "status", "scim_type"),
    [
        ({"userName": "has space"}, 400, "invalidValue"),
        ({"name": {"givenName": "Jo\u202eevil", "familyName": "Smith"}}, 400, "invalidValue"),
        ({"emails": []}, 400, "invalidValue"),
        ({"emails": [{"value": "not an email"}]}, 400, "invalidValue"),
        ({"userName": "x" * 151}, 400, "invalidValue"),
        ({"active": "perhaps"}, 400, "invalidValue"),
    ],
)
def test_bad_input_is_a_scim_error_never_a_500(call, change, status, scim_type):
    response, body = call("post", "Users", user() | change)

    assert response.status_code == status, body
    assert body["scimType"] == scim_type and body["detail"]


def test_malformed_bodies_and_filters_are_scim_errors(call, client, trust_token):
    response = client.post(
        "/scim/v2/Users", "{not json", content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {trust_token[1]}",
    )  # fmt: skip
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"
    response, body = call("get", "Users", filter='displayName co "x"')
    assert response.status_code == 400 and body["scimType"] == "invalidFilter"
    response, body = call("patch", "Users/not-a-uuid", {"Operations": []})
    assert response.status_code == 404


def test_filters_find_by_username_email_and_external_id(call):
    for n in range(3):
        call("post", "Users", user(username=f"t{n}", email=f"t{n}@oakwood.sch.uk", externalId=f"ext-{n}"))

    for query in ('userName eq "T1"', 'emails.value eq "t1@OAKWOOD.sch.uk"', 'externalId eq "ext-1"'):
        response, body = call("get", "Users", filter=query)
        assert response.status_code == 200, body
        assert [u["userName"] for u in body["Resources"]] == ["t1"], query
    _, body = call("get", "Users", filter='userName eq "nobody"')
    assert body["totalResults"] == 0 and body["Resources"] == []


def test_it_pages_with_start_index_and_count(call):
    for n in range(5):
        call("post", "Users", user(username=f"p{n}", email=f"p{n}@oakwood.sch.uk"))

    _, body = call("get", "Users", startIndex=2, count=2)

    assert body["totalResults"] == 5 and body["startIndex"] == 2 and body["itemsPerPage"] == 2
    assert [u["userName"] for u in body["Resources"]] == ["p1", "p2"]
    _, body = call("get", "Users", count=0)
    assert body["totalResults"] == 5 and body["Resources"] == []


def test_patch_replaces_adds_and_removes(call):
    _, created = call("post", "Users", user(roles=["eo"]))
    ops = [
        {"op": "replace", "path": "name.givenName", "value": "Joanna"},
        {"op": "add", "path": f"{EXTENSION_URN}:roles", "value": ["slt"]},
        {"op": "replace", "path": "userName", "value": "joanna.smith"},
        {"op": "remove", "path": "externalId"},
    ]

    response, body = call("patch", f"Users/{created['id']}", {"schemas": [PATCH], "Operations": ops})

    assert response.status_code == 200, body
    account = Account.objects.get(pk=Account.objects.get(username="joanna.smith").pk)
    assert account.given_name == "Joanna"
    assert body[EXTENSION_URN]["roles"] == ["eo", "slt"]
    assert UsernameHold.objects.filter(username_lower="j.smith", account=account).exists()  # the old name is held
    actions = set(AuditEvent.objects.filter(target_id=str(account.pk)).values_list("action", flat=True))
    assert {"accounts.account.renamed", "accounts.account.updated", "accounts.role.assigned"} <= actions


PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_active_false_deactivates_without_deleting(call):
    _, created = call("post", "Users", user())
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}

    response, body = call("patch", f"Users/{created['id']}", deactivate)

    assert response.status_code == 200 and body["active"] is False
    account = Account.objects.get(username="j.smith")
    assert account.locked_out and account.deleted_at is None
    membership = staff(account)
    assert membership.status == "left" and membership.left_on is not None  # the school's leaver timers run
    _, body = call("get", f"Users/{created['id']}")
    assert body["active"] is False

    reactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    _, body = call("patch", f"Users/{created['id']}", reactivate)
    account.refresh_from_db()
    assert body["active"] is True and not account.locked_out and staff(account).status == "active"


def test_put_replaces_and_the_school_is_set_once(call):
    _, created = call("post", "Users", user(roles=["eo"]))

    response, body = call("put", f"Users/{created['id']}", user(email="jo@oakwood.sch.uk", roles=["inv"]))
    assert response.status_code == 200, body
    assert body["emails"] == [{"value": "jo@oakwood.sch.uk"}] and body[EXTENSION_URN]["roles"] == ["inv"]

    response, body = call("put", f"Users/{created['id']}", user(school="oak-primary"))
    assert response.status_code == 400 and body["scimType"] == "mutability"


def test_roles_the_token_may_not_give_stay_as_they_are(call):
    _, created = call("post", "Users", user(roles=["eo"]))
    account = Account.objects.get(username="j.smith")
    membership = staff(account)
    membership.role_assignments.create(school=membership.school, role_id="parent")  # given by the school

    call("put", f"Users/{created['id']}", user(roles=[]))

    assert {ra.role_id for ra in membership.role_assignments.all()} == {"parent"}


def test_delete_leaves_the_schools_and_keeps_the_account(call, trust):
    _, created = call("post", "Users", user())
    account = Account.objects.get(username="j.smith")

    response = call("delete", f"Users/{created['id']}")[0]

    assert response.status_code == 204
    account.refresh_from_db()
    assert account.deleted_at is None and staff(account).status == "left"
    assert call("get", f"Users/{created['id']}")[0].status_code == 404
    assert call("delete", f"Users/{created['id']}")[0].status_code == 404
    assert AuditEvent.objects.filter(action="scim.user.removed", target_id=str(account.pk)).exists()


def test_a_person_also_at_another_organisation_is_out_of_reach_for_account_wide_changes(call, other_trust):
    _, created = call("post", "Users", user())
    account = Account.objects.get(username="j.smith")
    Membership.objects.create(school=other_trust.schools.get(), account=account, person_type="staff")

    response, body = call("put", f"Users/{created['id']}", user(username="renamed"))
    assert response.status_code == 403 and "outside your organisation" in body["detail"]

    # Deactivating them here still lets them go here, but their sign-in is the other organisation's too.
    response, body = call("patch", f"Users/{created['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "active", "value": False}]})  # fmt: skip
    account.refresh_from_db()
    assert response.status_code == 200 and not account.locked_out
    assert staff(account).status == "left"
    # And delete never touches the other organisation's membership.
    call("delete", f"Users/{created['id']}")
    assert Membership.objects.get(account=account, school__organisation=other_trust).status == "active"


def test_a_page_of_users_costs_the_same_queries_whatever_its_size(call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def listed():
        with CaptureQueriesContext(connection) as queries:
            response, body = call("get", "Users")
        assert response.status_code == 200
        return len(queries), body["totalResults"]

    for n in range(2):
        call("post", "Users", user(username=f"q{n}", email=f"q{n}@oakwood.sch.uk", roles=["eo"]))
    few, total = listed()
    for n in range(2, 8):
        call("post", "Users", user(username=f"q{n}", email=f"q{n}@oakwood.sch.uk", roles=["eo"]))
    many, total_after = listed()

    assert (total, total_after) == (2, 8)
    assert many == few


def test_attributes_and_excluded_attributes_shape_the_answer(call):
    _, created = call("post", "Users", user(roles=["eo"]))

    _, only = call("get", f"Users/{created['id']}", attributes=f"userName,{EXTENSION_URN}:roles")
    assert set(only) == {"schemas", "id", "userName", EXTENSION_URN} and only[EXTENSION_URN] == {"roles": ["eo"]}
    _, without = call("get", "Users", excludedAttributes="name,emails")
    assert "name" not in without["Resources"][0] and "emails" not in without["Resources"][0]
    assert without["Resources"][0]["userName"] == "j.smith"


def test_someone_removed_and_created_again_gets_their_account_back(call):
    _, created = call("post", "Users", user(roles=["eo"]))
    account = Account.objects.get(username="j.smith")
    call("delete", f"Users/{created['id']}")

    response, again = call("post", "Users", user(roles=["inv"]))

    assert response.status_code == 201, again
    assert again["id"] != created["id"] and again["active"] is True
    assert Account.objects.filter(username__iexact="j.smith").count() == 1
    membership = staff(account)
    assert membership.status == "active" and membership.left_on is None
    assert {ra.role_id for ra in membership.role_assignments.all()} == {"inv"}
    # Anyone else's username is still taken.
    assert call("post", "Users", user(username="j.smith"))[0].status_code == 409


def test_a_race_for_one_username_is_a_409_not_a_500(call, monkeypatch):
    from django.db import IntegrityError

    from scim import services

    def lost_the_race(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint account_username_ci_unique")

    monkeypatch.setattr(services, "scim_user_create", lost_the_race)

    response, body = call("post", "Users", user())

    assert response.status_code == 409 and body["scimType"] == "uniqueness"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"schemas": [PATCH]},
        {"schemas": [PATCH], "Operations": "replace"},
        {"schemas": [PATCH], "Operations": [{"op": "move", "path": "userName", "value": "x"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "no.such[attr", "value": "x"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "nickName", "value": 42}]},
        {"schemas": [PATCH], "Operations": [{"op": "remove"}]},
        {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "userName"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "emails", "value": "x"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": 'emails[type eq "work"].value', "value": 7}]},
        {"schemas": [PATCH], "Operations": [{"op": "add", "path": f"{EXTENSION_URN}:school", "value": "oak-primary"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": ["not", "an", "object"]}]},
    ],
)
def test_a_patch_that_makes_no_sense_is_a_scim_error(call, payload):
    _, created = call("post", "Users", user())

    response, body = call("patch", f"Users/{created['id']}", payload)

    assert 400 <= response.status_code < 500, body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["detail"]
    assert Account.objects.get(pk=Account.objects.get(email="j.smith@oakwood.sch.uk").pk).username == "j.smith"


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"userName": 42, "emails": [{"value": "a@b.org"}]},
        {"userName": "a", "emails": "a@b.org"},
        {"userName": "a", "emails": [{"value": "a@b.org"}], EXTENSION_URN: {"school": "oak-primary", "roles": "eo"}},
        {"userName": "a", "emails": [{"value": "a@b.org"}], EXTENSION_URN: {"school": ["oak-primary"]}},
        {"userName": "a", "emails": [{"value": "a@b.org"}], EXTENSION_URN: "oak-primary"},
        {"userName": "a", "emails": [{"value": "a@b.org"}], EXTENSION_URN: {"school": "oak-primary", "roles": ["no"]}},
        {"userName": "a", "emails": [{"value": "a@b.org"}], "name": "Jo Smith"},
        {"userName": "a", "emails": [{"value": "a@b.org"}], "id": "chosen-by-client", "meta": 5},
        {"userName": "\x00a", "emails": [{"value": "a@b.org"}]},
    ],
)
def test_a_body_that_makes_no_sense_is_a_scim_error(call, payload):
    response, body = call("post", "Users", payload)

    assert 400 <= response.status_code < 500, body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["detail"]


def test_deactivating_again_leaves_the_leaver_timers_where_they_are(call):
    _, created = call("post", "Users", user(active=False))
    account = Account.objects.get(username="j.smith")
    Membership.objects.filter(account=account).update(status="archived", left_on="2026-01-05")

    call("put", f"Users/{created['id']}", user(active=False))

    membership = staff(account)
    assert membership.status == "archived" and str(membership.left_on) == "2026-01-05"
