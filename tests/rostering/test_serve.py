"""OneRoster 1.2 rostering REST, served: who may read, what they read, and the collection parameters."""

import pytest
from django_scopes import scopes_disabled

from accounts.models import Membership
from signon.models import ServiceSwitchedOff
from tests.factories import MembershipFactory, OrganisationFactory, SchoolFactory, member
from tests.rostering.conftest import register_reader, token_for

BASE = "/ims/oneroster/rostering/v1p2"
pytestmark = pytest.mark.django_db


def minor(answer) -> str:
    return answer.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


def test_it_lists_the_organisations_people_as_users(api, roster, school_a):
    answer = api("users")
    assert answer.status_code == 200
    users = {u["sourcedId"]: u for u in answer.json()["users"]}
    teacher = users[str(roster["teacher"].account_id)]
    assert teacher["identifier"] == "T1042"
    assert teacher["email"] == "vboyce@a.example"
    assert teacher["roles"] == [
        {
            "roleType": "primary",
            "role": "teacher",
            "org": {
                "href": f"http://testserver{BASE}/orgs/{school_a.pk}",
                "sourcedId": str(school_a.pk),
                "type": "org",
            },
        }
    ]
    student = users[str(roster["student"].account_id)]
    parent = users[str(roster["parent"].account_id)]
    assert student["grades"] == ["7"] and student["roles"][0]["role"] == "student"
    assert parent["roles"][0]["role"] == "parent"
    assert [a["sourcedId"] for a in student["agents"]] == [parent["sourcedId"]]
    assert [a["sourcedId"] for a in parent["agents"]] == [student["sourcedId"]]
    assert answer["X-Total-Count"] == "3"
    assert "role" not in teacher  # the helper key is never served


def test_it_gives_one_user_with_a_role_per_place(api, roster, school_a):
    teacher = roster["teacher"]
    MembershipFactory(school=school_a, person_type="contact", account=teacher.account)
    answer = api(f"users/{teacher.account_id}")
    roles = answer.json()["user"]["roles"]
    assert [(r["roleType"], r["role"]) for r in roles] == [("primary", "teacher"), ("secondary", "parent")]


def test_it_leaves_out_leavers(api, roster):
    with scopes_disabled():
        Membership.objects.filter(pk=roster["student"].pk).update(status=Membership.Status.LEFT)
    ids = [u["sourcedId"] for u in api("users").json()["users"]]
    assert str(roster["student"].account_id) not in ids


def test_students_and_teachers_are_users_of_that_role(api, roster):
    assert [u["sourcedId"] for u in api("students").json()["users"]] == [str(roster["student"].account_id)]
    assert [u["sourcedId"] for u in api("teachers").json()["users"]] == [str(roster["teacher"].account_id)]
    assert api(f"students/{roster['teacher'].account_id}").status_code == 404


def test_orgs_are_the_organisation_and_its_schools(api, school_a, organisation):
    orgs = api("orgs").json()["orgs"]
    assert [(o["type"], o["name"]) for o in orgs] == [("district", organisation.name), ("school", school_a.name)]
    assert orgs[1]["identifier"] == school_a.urn
    assert api(f"orgs/{school_a.pk}").json()["org"]["parent"]["sourcedId"] == str(organisation.pk)
    assert [u["sourcedId"] for u in api(f"schools/{school_a.pk}/students").json()["users"]] == []


def test_it_pages_with_total_and_links(api, school_a):
    for _ in range(5):
        member(school_a, "eo")
    answer = api("users", limit=2, offset=2, sort="username")
    assert len(answer.json()["users"]) == 2
    assert answer["X-Total-Count"] == "5"
    links = answer["Link"]
    assert "offset=4" in links and 'rel="next"' in links and 'rel="prev"' in links and 'rel="last"' in links
    last = api("users", limit=2, offset=4)
    assert len(last.json()["users"]) == 1 and 'rel="next"' not in last["Link"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("familyName='Boyce'", {"Boyce"}),
        ("familyName!='Boyce'", {"Adams", "Cole"}),
        ("familyName>'Boyce'", {"Cole"}),
        ("familyName>='Boyce'", {"Boyce", "Cole"}),
        ("familyName<'Boyce'", {"Adams"}),
        ("familyName<='Boyce'", {"Adams", "Boyce"}),
        ("familyName~'oy'", {"Boyce"}),
        ("familyName='Adams' OR familyName='Cole'", {"Adams", "Cole"}),
        ("givenName='Ann' AND familyName='Cole'", {"Cole"}),
        ("givenName='Ann' AND familyName='Adams'", set()),
        ("role='teacher'", {"Adams", "Boyce", "Cole"}),
        ("enabledUser='true'", {"Adams", "Boyce", "Cole"}),
    ],
)
def test_it_filters_with_the_specs_grammar(api, school_a, expression, expected):
    member(school_a, "eo", given_name="Bob", family_name="Adams")
    member(school_a, "eo", given_name="Violet", family_name="Boyce")
    member(school_a, "eo", given_name="Ann", family_name="Cole")
    answer = api("users", filter=expression)
    assert answer.status_code == 200
    assert {u["familyName"] for u in answer.json()["users"]} == expected


def test_it_sorts_both_ways_and_selects_fields(api, school_a):
    for name in ("Cole", "Adams", "Boyce"):
        member(school_a, "eo", family_name=name)
    down = api("users", sort="familyName", orderBy="desc", fields="sourcedId,familyName").json()["users"]
    assert [u["familyName"] for u in down] == ["Cole", "Boyce", "Adams"]
    assert set(down[0]) == {"sourcedId", "familyName"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"filter": "shoeSize='9'"}, "invalid_filter_field"),
        ({"filter": "familyName = Boyce"}, "invalid_filter_field"),
        ({"filter": "familyName='Boyce' XOR x='1'"}, "invalid_filter_field"),
        ({"sort": "roles"}, "invalid_sort_field"),
        ({"fields": "sourcedId,shoeSize"}, "invalid_selection_field"),
        ({"limit": "many"}, "invaliddata"),
        ({"limit": "0"}, "invaliddata"),
        ({"offset": "-1"}, "invaliddata"),
        ({"orderBy": "sideways"}, "invaliddata"),
    ],
)
def test_bad_parameters_get_the_specs_status_info(api, roster, params, code):
    answer = api("users", **params)
    assert answer.status_code == 400
    assert answer.json()["imsx_codeMajor"] == "failure"
    assert minor(answer) == code


def test_an_unknown_user_is_unknownobject(api):
    answer = api("users/not-a-user")
    assert answer.status_code == 404 and minor(answer) == "unknownobject"


def test_without_a_token_it_is_401(client, roster):
    answer = client.get(f"{BASE}/users")
    assert answer.status_code == 401 and minor(answer) == "unauthorisedrequest"
    answer = client.get(f"{BASE}/users", HTTP_AUTHORIZATION="Bearer nonsense")
    assert answer.status_code == 401


def test_a_token_without_the_roster_scope_is_403(client, reader, roster):
    service, secret = reader
    token = token_for(client, service, secret, scope="openid")
    answer = client.get(f"{BASE}/users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 403 and minor(answer) == "forbidden"


def test_another_organisations_service_sees_nothing(client, roster, school_a):
    other = OrganisationFactory()
    SchoolFactory(organisation=other)
    service, secret = register_reader(other, name="Elsewhere")
    token = token_for(client, service, secret)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(f"{BASE}/users", **headers).json()["users"] == []
    assert client.get(f"{BASE}/users/{roster['teacher'].account_id}", **headers).status_code == 404
    assert client.get(f"{BASE}/orgs/{school_a.pk}", **headers).status_code == 404


def test_a_shared_service_reads_no_rosters(client, roster):
    service, secret = register_reader(None, name="Shared")
    token = token_for(client, service, secret)
    assert client.get(f"{BASE}/users", HTTP_AUTHORIZATION=f"Bearer {token}").json()["users"] == []


def test_a_school_that_switched_the_service_off_is_not_served(api, reader, roster, school_a):
    ServiceSwitchedOff.objects.create(school=school_a, service=reader[0])
    assert api("users").json()["users"] == []


def test_empty_collections_answer_empty(api):
    for path, key in (("classes", "classes"), ("enrollments", "enrollments"), ("academicSessions", "academicSessions")):
        answer = api(path)
        assert answer.status_code == 200 and answer.json() == {key: []} and answer["X-Total-Count"] == "0"


def test_a_leavers_links_are_not_served_as_agents(api, roster):
    with scopes_disabled():
        Membership.objects.filter(pk=roster["student"].pk).update(status=Membership.Status.LEFT)
    parent = api(f"users/{roster['parent'].account_id}").json()["user"]
    assert parent["agents"] == []


def test_a_persons_token_is_not_a_roster_readers(client, reader, roster, school_a):
    """Only client credentials read rosters: a token given to a person is about that person."""
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    from signon.models import ROSTER_SCOPE

    reader[0].roles.set(["eo"])  # the teacher may use the service: only the kind of token is wrong
    AccessToken.objects.create(
        user=roster["teacher"].account,
        application=reader[0].application,
        token="a-persons-token",
        scope=ROSTER_SCOPE,
        expires=timezone.now() + timedelta(minutes=5),
    )
    answer = client.get(f"{BASE}/users", HTTP_AUTHORIZATION="Bearer a-persons-token")
    assert answer.status_code == 403 and minor(answer) == "forbidden"


def test_the_users_list_costs_the_same_queries_however_many_people(api, school_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member(school_a, "eo")
    with CaptureQueriesContext(connection) as few:
        api("users")
    for _ in range(10):
        member(school_a, "eo")
    with CaptureQueriesContext(connection) as many:
        assert len(api("users").json()["users"]) == 11
    assert len(many) == len(few)
