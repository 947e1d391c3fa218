"""Every answer carries the Content-Security-Policy and Cache-Control: no-store, on every route.

Routes are found by walking the resolver (tests/probe.py), so a route added tomorrow is checked too. Each is
requested in school A by its Centre Admin, and each API route also with one of school A's API tokens.
"""

import pytest
from django.test import Client

from accounts.services.tokens import api_token_issue
from tests import probe

# Left out: Django's admin, static and media files, and allauth's pages (its provider pages need a configured
# Microsoft or Google app; its sign-in page is requested below, signed out).
OWN_SKIPS = {"admin/", "static/", "media/", "accounts/"}


def _csp_directives(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.fixture
def answers(db):
    """(label, response) for a GET of every route we can fill, as school A's Centre Admin and API token."""
    world = probe.build_world()
    _token, raw = api_token_issue(
        school=world.school_a, account=world.admin.account, name="headers", role_codes=["mis_agent"]
    )
    signed_in = Client()
    signed_in.force_login(world.admin.account)
    token = Client(HTTP_AUTHORIZATION=f"Token {raw}")
    report = probe.Report()
    out = []
    for route in probe.all_routes():
        raw_route = "".join(str(p) for p in route.parts).lstrip("^")
        if any(raw_route.startswith(prefix) for prefix in OWN_SKIPS) or "{format}" in route.template:
            continue
        values = probe._kwarg_values(world, route, report)
        if values is None:
            continue  # a kwarg only the probe's own tests care about (a set-password token...)
        url = probe._build(route, world, "a", probe._variants(values)[0], None)
        clients = [("Centre Admin", signed_in)] + ([("API token", token)] if route.is_api else [])
        for who, client in clients:
            out.append((f"{who} GET {url} [{route.view}]", client.get(url)))
    out.append(("anonymous GET /accounts/login/", Client().get("/accounts/login/")))
    out.append(("anonymous GET /verify/", Client().get("/verify/")))
    assert len(out) > 60, "the walk found too few routes"
    return out


def test_every_page_carries_a_content_security_policy_without_inline_script(answers):
    pages = [(label, r) for label, r in answers if r.get("Content-Type", "").startswith("text/html")]
    assert len(pages) > 20
    missing = [label for label, r in pages if not r.has_header("Content-Security-Policy")]
    assert missing == []
    unsafe = [
        label
        for label, r in pages
        if {"'unsafe-inline'", "'unsafe-eval'"} & set(_csp_directives(r).get("script-src", ["(none)"]))
        or "script-src" not in _csp_directives(r)
    ]
    assert unsafe == []


def test_every_answer_to_a_signed_in_person_or_a_token_is_no_store(answers):
    cached = [
        f"{label}: {r.get('Cache-Control')!r}" for label, r in answers if "no-store" not in r.get("Cache-Control", "")
    ]
    assert cached == []
    # Among them, the files: job reports, certificates, starter codes, templates...
    downloads = [label for label, r in answers if r.has_header("Content-Disposition")]
    assert downloads


def test_a_file_download_is_no_store_even_when_its_view_set_a_cache_control(rf):
    from django.http import FileResponse, HttpResponse

    from config.middleware import NoStoreMiddleware

    def view(request):
        response = FileResponse(iter([b"x"]), as_attachment=True, filename="r.csv")
        response["Cache-Control"] = "public, max-age=3600"
        return response

    request = rf.get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = NoStoreMiddleware(view)(request)
    assert "no-store" in response["Cache-Control"]
    assert "public" not in response["Cache-Control"]

    chosen = NoStoreMiddleware(lambda r: HttpResponse(headers={"Cache-Control": "max-age=60"}))(request)
    assert chosen["Cache-Control"] == "max-age=60"  # an anonymous page's own choice stands


def test_static_files_keep_their_own_caching(settings):
    """WhiteNoise answers static files before the no-store middleware sees them (they hold nobody's data)."""
    order = settings.MIDDLEWARE
    assert order.index("whitenoise.middleware.WhiteNoiseMiddleware") < order.index(
        "config.middleware.NoStoreMiddleware"
    )


def test_no_page_holds_inline_script_and_each_inline_style_carries_the_nonce_its_header_names(answers):
    import re

    pages = [(label, r) for label, r in answers if r.get("Content-Type", "").startswith("text/html")]
    problems = []
    for label, response in pages:
        body = response.content.decode(errors="replace")
        for tag in re.findall(r"<script\b[^>]*>", body):
            if "src=" not in tag and 'type="application/json"' not in tag:
                problems.append(f"{label}: inline {tag}")
        handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", body)
        problems += [f"{label}: event handler in {h[:60]}" for h in handlers]
        policy = response.get("Content-Security-Policy", "")
        for tag in re.findall(r"<style\b[^>]*>", body):
            nonce = re.search(r'nonce="([^"]+)"', tag)
            if not nonce or f"'nonce-{nonce.group(1)}'" not in policy:
                problems.append(f"{label}: {tag} without this response's nonce")
    assert problems == []
    assert any("<style nonce=" in r.content.decode(errors="replace") for _, r in pages)  # the certificate page
