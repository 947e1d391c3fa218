"""The Users list's pages: Previous and Next seek past the person a page starts after (keyset paging), so every
sort walks every person once, in order, with the filters kept; a bad cursor or page number still gives a page."""

import re
import uuid
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import selectors
from accounts.models import Membership
from tests.accounts.users_helpers import person as member
from tests.factories import MembershipFactory

URL = "/s/alder/users/"

# Every sort's order as the screen promises it: case ignored, then the username, then the membership id.
ORDERS = {
    "family_name": lambda m: (m.account.family_name.lower(), m.account.given_name.lower(), m.account.username.lower()),
    "given_name": lambda m: (m.account.given_name.lower(), m.account.family_name.lower(), m.account.username.lower()),
    "email": lambda m: (m.account.email.lower(), m.account.username.lower()),
    "username": lambda m: (m.account.username.lower(),),
    "mis_code": lambda m: (m.mis_code,),
}


@pytest.fixture
def crowd(school_a):
    """57 people with many equal keys: the same names in different cases, no email, no MIS code, and one account
    with two memberships (staff and contact), so ties are broken by the username and then the membership."""
    families, givens = ["Smith", "smith", "", "Jones"], ["Ann", "ann", ""]
    for n in range(56):
        member(
            school_a,
            username=f"u{(n * 37) % 101:03d}",
            family_name=families[n % 4],
            given_name=givens[n % 3],
            email="" if n % 2 else f"same{n % 5}@example.org",
            mis_code="" if n % 3 == 0 else f"M{n % 7}{n:02d}",
        )
    twice = Membership.objects.get(school=school_a, account__username="u000")
    MembershipFactory(school=school_a, account=twice.account, person_type="contact")


def _expected(school, sort: str, descending: bool = False) -> list[str]:
    everyone = Membership.objects.filter(school=school).select_related("account")
    ordered = sorted(everyone, key=lambda m: (*ORDERS[sort](m), m.pk.hex), reverse=descending)
    return [str(m.pk) for m in ordered]


def _ids(response) -> list[str]:
    return [str(m.pk) for m in response.context["rows"]]


def _link(response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', response.content.decode())
    return unescape(found.group(1)) if found else None


def _walk(client, start: str, rel: str) -> tuple[list[list[str]], list[str]]:
    """Follow the Next (or Previous) links from a URL to the end: each page's membership ids, and its URL."""
    pages, urls, url = [], [], start
    while url:
        response = client.get(URL + url)
        assert response.status_code == 200
        pages.append(_ids(response))
        urls.append(url)
        url = _link(response, rel)
        assert len(pages) < 20, "the links go round in circles"
    return pages, urls


@pytest.mark.parametrize("in_memory", [True, False], ids=["sorted-in-memory", "index-order"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("sort", list(ORDERS))
def test_next_and_previous_visit_everyone_once_in_order(
    login, centre_admin, school_a, crowd, monkeypatch, sort, descending, in_memory
):
    monkeypatch.setattr(selectors, "SORT_IN_MEMORY_UP_TO", 10_000 if in_memory else 0)
    client = login(centre_admin)
    desc = "&desc=1" if descending else ""
    forwards, urls = _walk(client, f"?sort={sort}{desc}&per_page=25", "next")
    assert [len(p) for p in forwards] == [25, 25, 8]
    assert sum(forwards, []) == _expected(school_a, sort, descending)
    last = client.get(URL, {"sort": sort, "desc": "1" if descending else "", "per_page": 25, "page": 3})
    assert _ids(last) == forwards[-1]  # the Last link (by number, read backwards) is the page Next reached
    backwards, _ = _walk(client, urls[-1], "prev")
    assert backwards == forwards[::-1]


def test_the_page_links_carry_the_number_and_the_person_they_start_from(login, centre_admin, school_a, crowd):
    client = login(centre_admin)
    first = client.get(URL, {"per_page": 25})
    assert "page 1 of 3" in first.content.decode() and _link(first, "prev") is None
    second = client.get(URL + _link(first, "next"))
    assert second.context["page"].number == 2
    assert f"after={_ids(first)[-1]}" in _link(first, "next") and "page=2" in _link(first, "next")
    assert f"before={_ids(second)[0]}" in _link(second, "prev") and "page=1" in _link(second, "prev")
    assert _ids(client.get(URL + _link(second, "prev"))) == _ids(first)
    html = second.content.decode()
    assert 'aria-label="Pages"' in html and ">First</a>" in html and ">Last</a>" in html


def test_filters_search_and_sort_are_kept_across_pages(login, centre_admin, school_a, crowd):
    client = login(centre_admin)
    start = "?person_type=staff&q=u0&sort=given_name&desc=1&per_page=25"
    pages, _ = _walk(client, start, "next")
    listed = sum(pages, [])
    wanted = Membership.objects.filter(school=school_a, person_type="staff", account__username__contains="u0")
    assert len(pages) == 3 and [len(p) for p in pages[:-1]] == [25, 25]
    assert sorted(listed) == sorted(str(m.pk) for m in wanted)
    assert listed == [pk for pk in _expected(school_a, "given_name", True) if pk in listed]
    nxt = _link(client.get(URL + start), "next")
    for kept in ("person_type=staff", "q=u0", "sort=given_name", "desc=1", "per_page=25"):
        assert kept in nxt


def test_a_deep_page_by_number_is_the_page_next_reaches(login, centre_admin, school_a, crowd, monkeypatch):
    """Pages asked for by number alone: read from the nearer end, or, deep in the middle, by sorting everything."""
    monkeypatch.setattr(selectors, "INDEX_WALK_UP_TO_OFFSET", 0)
    client = login(centre_admin)
    walked, _ = _walk(client, "?per_page=25", "next")
    for number in (1, 2, 3):  # from the start, by sorting everything, backwards from the end
        assert _ids(client.get(URL, {"per_page": 25, "page": number})) == walked[number - 1], number


@pytest.mark.parametrize(
    "params, number",
    [
        ({"after": "not-a-uuid"}, 1),
        ({"after": str(uuid.uuid4()), "page": "2"}, 2),
        ({"before": "'; drop table x; --", "page": "3"}, 3),
        ({"page": "abc"}, 1),
        ({"page": "-4"}, 3),  # out of range either way: the last page, as Django's paginator has it
        ({"page": "99999"}, 3),
        ({"page": "99999", "after": "", "before": ""}, 3),
    ],
)
def test_a_bad_cursor_or_page_number_gives_a_page_by_number(login, centre_admin, school_a, crowd, params, number):
    response = login(centre_admin).get(URL, {"per_page": 25, **params})
    assert response.status_code == 200
    assert response.context["page"].number == number
    assert _ids(response) == _expected(school_a, "family_name")[(number - 1) * 25 : number * 25]


def test_a_cursor_from_another_school_reveals_nothing(login, centre_admin, school_a, school_b, crowd):
    theirs = member(school_b, username="b.only", family_name="Aaron")
    response = login(centre_admin).get(URL, {"per_page": 25, "after": str(theirs.pk)})
    assert response.status_code == 200 and response.context["page"].number == 1
    assert _ids(response) == _expected(school_a, "family_name")[:25]


def test_after_the_last_person_or_before_the_first_gives_the_last_or_first_page(login, centre_admin, school_a, crowd):
    client = login(centre_admin)
    everyone = _expected(school_a, "family_name")
    after_last = client.get(URL, {"per_page": 25, "page": "4", "after": everyone[-1]})
    assert after_last.context["page"].number == 3 and _ids(after_last) == everyone[50:]
    before_first = client.get(URL, {"per_page": 25, "page": "0", "before": everyone[0]})
    assert before_first.context["page"].number == 1 and _ids(before_first) == everyone[:25]
    # Fewer than a page before the person (people were removed since): the first page, called page 1.
    near_start = client.get(URL, {"per_page": 25, "page": "2", "before": everyone[10]})
    assert near_start.context["page"].number == 1 and _ids(near_start) == everyone[:25]
    assert _link(near_start, "prev") is None


def test_a_page_after_someone_who_left_the_filter_still_follows_their_place(login, centre_admin, school_a, crowd):
    """The cursor names a person; their keys give the place even if they no longer match the filters."""
    client = login(centre_admin)
    everyone = _expected(school_a, "family_name")
    Membership.objects.filter(pk=everyone[24]).update(status="left")
    response = client.get(URL, {"per_page": 25, "status": "active", "after": everyone[24], "page": 2})
    active = set(map(str, Membership.objects.filter(school=school_a, status="active").values_list("pk", flat=True)))
    assert _ids(response) == [pk for pk in everyone[25:] if pk in active][:25]


def test_a_page_by_cursor_costs_one_query_more_than_by_number_whatever_its_size(
    login, centre_admin, school_a, crowd, django_assert_max_num_queries
):
    client = login(centre_admin)
    client.get(URL)  # the year-group choices are cached after the first page
    with CaptureQueriesContext(connection) as by_number:
        first = client.get(URL, {"per_page": 25})
    with CaptureQueriesContext(connection) as by_cursor:
        client.get(URL + _link(first, "next"))
    cursor_queries = len(by_cursor.captured_queries)
    assert cursor_queries == len(by_number.captured_queries) + 1
    for n in range(60):
        member(school_a, "eo", "slt", username=f"more{n:02d}")
    nxt = _link(client.get(URL, {"per_page": 100}), "next")
    with django_assert_max_num_queries(cursor_queries):
        client.get(URL + nxt)
