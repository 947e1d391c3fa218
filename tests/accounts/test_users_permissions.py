"""Permissions behind the roles, enforced on every school URL: INV reaches only Assessments; Parent
and Student Portal users reach only their own profile; EO and Centre Admin manage users."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.accounts.users_helpers import person


def _school_urls() -> list[str]:
    """Every screen under /s/<school_slug>/, with made-up ids (permission is checked before any lookup)."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route.startswith("s/<slug:school_slug>/"):
                found.append(route)

    walk(get_resolver().url_patterns, "")
    paths = []
    for route in found:
        path = "/" + route.replace("<slug:school_slug>", "alder")
        while "<" in path:
            start, end = path.index("<"), path.index(">")
            converter = path[start + 1 : end].split(":")[0]
            value = str(uuid.uuid4()) if converter == "uuid" else ("1" if converter == "int" else "x")
            path = path[:start] + value + path[end + 1 :]
        paths.append(path)
    return sorted(set(paths))


SCHOOL_URLS = _school_urls()


def test_the_users_screens_are_among_the_school_urls():
    assert "/s/alder/users/" in SCHOOL_URLS and "/s/alder/users/add/" in SCHOOL_URLS


@pytest.mark.parametrize("path", [p for p in SCHOOL_URLS if not p.startswith("/s/alder/assessments/")])
def test_an_invigilator_is_refused_everywhere_but_assessments(login, inv_user, path):
    # 405: a POST-only action refuses a GET before anything else; it still shows nothing.
    assert login(inv_user).get(path).status_code in (403, 405)


def test_an_invigilator_reaches_assessments(login, inv_user):
    assert login(inv_user).get("/s/alder/assessments/").status_code == 200


@pytest.mark.parametrize("role, person_type", [("parent", "contact"), ("student_portal", "student")])
def test_parents_and_students_reach_only_their_own_profile(login, school_a, role, person_type):
    account = person(school_a, role, person_type=person_type, username=f"{role}.user").account
    client = login(account)
    assert client.get("/me/profile/").status_code == 200
    for path in ["/s/alder/", "/s/alder/users/", "/s/alder/users/add/"]:
        assert client.get(path).status_code == 403


@pytest.mark.parametrize("persona", ["centre_admin", "eo_user", "nominated_contact"])
def test_user_managers_open_the_users_screens(db, login, request, persona):
    client = login(request.getfixturevalue(persona))
    assert client.get("/s/alder/users/").status_code == 200
    assert client.get("/s/alder/users/add/").status_code == 200


def test_the_left_menu_shows_users_under_user_management(login, eo_user, inv_user):
    html = login(eo_user).get("/s/alder/users/").content.decode()
    assert "User Management" in html and 'href="/s/alder/users/"' in html
    assert 'href="/s/alder/users/"' not in login(inv_user).get("/s/alder/assessments/").content.decode()
