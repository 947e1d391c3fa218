"""The Users list: columns, tabs, search, filters, sort, pages, and a fixed number of queries."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from tests.accounts.users_helpers import person as member

URL = "/s/alder/users/"


@pytest.fixture
def people(school_a):
    return {
        "ada": member(
            school_a,
            "student_portal",
            person_type="student",
            username="ada.s",
            given_name="Ada",
            family_name="Lovelace",
            email="ada@home.example",
            mis_code="S001",
            year_group="Year 7",
        ),
        "bob": member(
            school_a,
            "eo",
            username="bob.t",
            given_name="Bob",
            family_name="Turing",
            email="bob@alder.sch.uk",
            mis_code="T042",
        ),
        "cat": member(
            school_a,
            "parent",
            person_type="contact",
            username="cat.c",
            given_name="Cat",
            family_name="Curie",
            email="cat@home.example",
            mis_code="C900",
        ),
        "dan": member(
            school_a,
            "student_portal",
            person_type="student",
            username="dan.h",
            given_name="Dan",
            family_name="Hopper",
            mis_code="S002",
            year_group="Year 8",
            status="left",
        ),
    }


def _usernames(response) -> list[str]:
    return [m.account.username for m in response.context["rows"]]


def _name_order(m):
    """The default sort: family name, given name, username (case ignored), then the membership."""
    return (m.account.family_name.lower(), m.account.given_name.lower(), m.account.username.lower(), m.pk.hex)


def test_it_lists_the_school_people_with_the_product_columns(login, centre_admin, people):
    response = login(centre_admin).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for column in [
        "User Name",
        "MIS Code",
        "Family Name",
        "Given Names",
        "Email",
        "Roles",
        "Status",
        "Action",
    ]:
        assert f">{column}<" in html or f">{column}</a>" in html
    assert {"ada.s", "bob.t", "cat.c", "dan.h", "ca.alder"} <= set(_usernames(response))
    for tab in ["Students", "Staff", "Contacts", "All"]:
        assert f">{tab}</a>" in html


def test_it_never_shows_another_schools_people(login, centre_admin, people, school_b):
    member(school_b, username="birch.only")
    assert "birch.only" not in _usernames(login(centre_admin).get(URL))


def test_the_tabs_filter_by_person_type(login, centre_admin, people):
    client = login(centre_admin)
    assert sorted(_usernames(client.get(URL + "?person_type=student"))) == ["ada.s", "dan.h"]
    assert _usernames(client.get(URL + "?person_type=contact")) == ["cat.c"]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("lovelace", ["ada.s"]),
        ("BOB.T", ["bob.t"]),
        ("home.example", ["ada.s", "cat.c"]),
        ("c900", ["cat.c"]),
        ("ada love", ["ada.s"]),
    ],
)
def test_it_searches_names_usernames_emails_and_mis_codes(login, centre_admin, people, q, expected):
    assert sorted(_usernames(login(centre_admin).get(URL, {"q": q}))) == expected


@pytest.fixture
def zed(school_a):
    """Each column's value found in no other column (nor in the fixture's people)."""
    return member(
        school_a,
        username="zq.user",
        family_name="Quorn",
        given_name="Xavi",
        email="xq@mailbox.example",
        mis_code="M777",
    )


@pytest.mark.parametrize("q", ["ZQ.US", "quor", "xav", "mailbox.exa", "m777"])
def test_each_column_matches_on_its_own(login, centre_admin, people, zed, q):
    assert _usernames(login(centre_admin).get(URL, {"q": q})) == ["zq.user"]


@pytest.mark.parametrize("q", ["userquorn", "r.quorn", "quornxavi", "xavixq"])
def test_a_word_never_matches_across_two_columns(login, centre_admin, people, zed, q):
    """The columns are searched as one text joined by spaces; a word (split on spaces) cannot hold one."""
    assert _usernames(login(centre_admin).get(URL, {"q": q})) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram indexes exist on PostgreSQL only")
def test_the_search_finds_accounts_through_the_trigram_index(db):
    """The index (migration 0011) is on the expression the search compiles to, written out: a change to
    either would leave the search reading every account."""
    from accounts.selectors import _accounts_containing

    sql, params = _accounts_containing("lovelace").query.sql_with_params()
    with connection.cursor() as cursor:
        # A test's few rows are cheaper to read whole: leave the planner the index or nothing.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on account_search_trgm_idx" in plan, plan


def test_it_filters_by_role_status_and_year_group(login, centre_admin, people):
    client = login(centre_admin)
    assert _usernames(client.get(URL, {"role": "eo"})) == ["bob.t"]
    assert _usernames(client.get(URL, {"status": "left"})) == ["dan.h"]
    assert _usernames(client.get(URL, {"year_group": "Year 7"})) == ["ada.s"]


def test_a_bad_filter_value_is_ignored_not_an_error(login, centre_admin, people):
    response = login(centre_admin).get(URL, {"role": "no-such-role", "sort": "password", "per_page": "9999"})
    assert response.status_code == 200
    assert len(_usernames(response)) == 5


def test_it_sorts_by_family_name_by_default_and_by_any_column(login, centre_admin, people):
    client = login(centre_admin)
    families = [m.account.family_name for m in client.get(URL, {"person_type": "student"}).context["rows"]]
    assert families == ["Hopper", "Lovelace"]
    assert _usernames(client.get(URL, {"sort": "username", "desc": "1", "person_type": "student"})) == [
        "dan.h",
        "ada.s",
    ]
    assert _usernames(client.get(URL, {"sort": "mis_code", "person_type": "student"})) == ["ada.s", "dan.h"]


def test_it_pages_through_the_list(login, centre_admin, school_a):
    for n in range(30):
        member(school_a, username=f"p{n:02d}", family_name=f"Page{n:02d}")
    client = login(centre_admin)
    first = client.get(URL, {"per_page": 25})
    second = client.get(URL, {"per_page": 25, "page": 2})
    assert first.context["page"].paginator.count == 31
    assert len(_usernames(first)) == 25 and len(_usernames(second)) == 6
    assert not set(_usernames(first)) & set(_usernames(second))


def test_it_shows_which_people_have_linked_sign_ins(login, centre_admin, people):
    SocialAccount.objects.create(user=people["bob"].account, provider="microsoft", uid="bob-ms")
    rows = {m.account.username: m for m in login(centre_admin).get(URL).context["rows"]}
    assert rows["bob.t"].has_linked_signin and not rows["ada.s"].has_linked_signin


def test_deleted_accounts_are_not_listed(login, centre_admin, people):
    from django.utils import timezone

    people["cat"].account.deleted_at = timezone.now()
    people["cat"].account.save()
    assert "cat.c" not in _usernames(login(centre_admin).get(URL))


def test_the_query_count_does_not_grow_with_the_page(login, centre_admin, school_a, django_assert_max_num_queries):
    client = login(centre_admin)
    for n in range(5):
        member(school_a, "eo", "slt", username=f"few{n}")
    client.get(URL)  # the year-group choices are cached after the first page
    with CaptureQueriesContext(connection) as small:
        client.get(URL, {"per_page": 25})
    for n in range(150):
        m = member(school_a, "eo", "slt", username=f"many{n}")
        SocialAccount.objects.create(user=m.account, provider="google", uid=f"g{n}")
    with CaptureQueriesContext(connection) as large:
        response = client.get(URL, {"per_page": 200})
    assert len(response.context["rows"]) == 156
    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(16):
        client.get(URL, {"per_page": 200, "q": "many", "role": "eo"})


def test_an_eo_sees_add_but_not_delete(login, eo_user, people):
    html = login(eo_user).get(URL).content.decode()
    assert "+Add" in html and ">Edit<" in html and ">Delete<" not in html


@pytest.mark.parametrize("persona", ["inv_user"])
def test_an_invigilator_cannot_open_the_users_list(login, request, persona, people):
    assert login(request.getfixturevalue(persona)).get(URL).status_code == 403


def test_a_parent_or_student_portal_user_cannot_open_the_users_list(login, people):
    assert login(people["cat"].account).get(URL).status_code == 403
    assert login(people["ada"].account).get(URL).status_code == 403


def test_another_schools_admin_finds_no_such_school(login, other_school_admin):
    assert login(other_school_admin).get(URL).status_code == 404


def test_info_marks_people_who_started_an_assessment_and_links_their_progress(login, centre_admin, people, school_a):
    from assessments.models import AssessmentProgress
    from tests.assessments.conftest import make_assessment

    AssessmentProgress.objects.create(
        school=school_a, account=people["bob"].account, assessment=make_assessment(), status="started", run=1
    )
    response = login(centre_admin).get(URL)
    rows = {m.account.username: m for m in response.context["rows"]}
    assert rows["bob.t"].started_assessment and not rows["ada.s"].started_assessment
    html = response.content.decode()
    assert f'href="/s/alder/assessments/progress/{people["bob"].pk}/"' in html
    assert f'href="/s/alder/assessments/progress/{people["ada"].pk}/"' not in html
    assert f'href="/s/alder/assessments/access/{people["bob"].pk}/"' in html  # Assessment Access, on staff
    # Students and contacts take no assessment: nothing to hide from them.
    assert f'href="/s/alder/assessments/access/{people["ada"].pk}/"' not in html
    assert f'href="/s/alder/assessments/access/{people["cat"].pk}/"' not in html


def test_an_eo_has_no_assessment_access_link(login, eo_user, people):
    assert "/assessments/access/" not in login(eo_user).get(URL).content.decode()


@pytest.mark.parametrize("in_memory_up_to, index_walk_up_to", [(0, 10_000), (10_000, 10_000), (0, 0)])
def test_every_plan_gives_the_same_order(login, centre_admin, school_a, monkeypatch, in_memory_up_to, index_walk_up_to):
    """Small results and deep pages are sorted in memory, others follow the index: same rows either way."""
    from accounts import selectors

    for n, family in enumerate(["b", "A", "c", "a", "B"] * 6):
        member(school_a, username=f"o{n:02d}", family_name=family, given_name=f"G{n % 2}")
    monkeypatch.setattr(selectors, "SORT_IN_MEMORY_UP_TO", in_memory_up_to)
    monkeypatch.setattr(selectors, "INDEX_WALK_UP_TO_OFFSET", index_walk_up_to)
    client = login(centre_admin)
    seen = _usernames(client.get(URL, {"per_page": 25})) + _usernames(client.get(URL, {"per_page": 25, "page": 2}))
    everyone = Membership.objects.filter(school=school_a).select_related("account")
    expected = sorted(everyone, key=lambda m: _name_order(m))
    assert seen == [m.account.username for m in expected]  # 31 people: page 2 is the "deep" one
