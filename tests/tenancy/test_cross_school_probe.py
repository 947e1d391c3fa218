"""Every route, requested by the other school with this school's ids, says 404 and shows nothing.

The probe (tests/probe.py) finds routes by walking the resolver; the tests below also prove that it
reports a view which forgets the school, and a route whose kwargs it cannot fill.
"""

import pytest
from django.test import override_settings

from accounts.models import Membership
from tests import probe


@pytest.fixture
def world(db):
    return probe.build_world()


def test_no_route_shows_one_school_to_another(world):
    report = probe.probe(world)

    assert not report.failures, "\n".join(["Cross-school probe findings:", *report.failures])
    # Every route was requested except the commented allow-list, which holds no school page.
    every = {route.template for route in probe.all_routes()}
    skipped = {line.split(": ", 1)[0] for line in report.skipped}
    assert set(report.routes) == every - skipped
    assert not [template for template in skipped if "{school_slug}" in template]
    # It really went through the school routes, with school A's ids, as each persona.
    assert "/s/{school_slug}/jobs/{job_id}/" in report.routes
    assert "/api/s/{school_slug}/jobs/{job_id}/" in report.routes
    assert f"school B Centre Admin GET /s/birch-probe/jobs/{world.job.pk}/" in report.requests
    assert f"school B API token GET /api/s/birch-probe/jobs/{world.job.pk}/" in report.requests
    assert f"signed-out visitor POST /s/zz-alder/jobs/{world.job.pk}/report/" in report.requests
    # The organisation dimension: organisation B's trust roles asked school A's pages and organisation A's console.
    org_a, org_b = world.school_a.organisation.slug, world.school_b.organisation.slug
    assert {"/t/{org_slug}/", "/t/{org_slug}/people/", "/t/{org_slug}/viewers/remove/"} <= set(report.routes)
    for persona in ("organisation B Trust Admin", "organisation B Trust Viewer"):
        assert f"{persona} GET /s/zz-alder/" in report.requests
        assert f"{persona} GET /s/birch-probe/users/{world.student.pk}/edit/" in report.requests
        assert f"{persona} GET /t/{org_a}/people/" in report.requests
    removing = f"organisation B Trust Admin POST /t/{org_b}/viewers/remove/ with school A's ids in the form"
    assert removing in report.requests


@override_settings(ROOT_URLCONF="tests.tenancy.leaky_urls")
def test_it_reports_a_view_that_forgets_the_school(world):
    report = probe.probe(world, urlconf="tests.tenancy.leaky_urls", only=lambda route: "/leaky/" in route.template)

    leaks = [f for f in report.failures if "/leaky/" in f]
    own_slug = f"school B Centre Admin GET /s/birch-probe/leaky/{world.student.pk}/"
    assert any(f.startswith(own_slug) and "answered 200, expected 404" in f for f in leaks), leaks
    assert any(f.startswith(own_slug) and "'zzalder.student'" in f for f in leaks), leaks
    # The middleware still guards school A's own slug: the leak is only through school B's.
    assert not any("/s/zz-alder/leaky/" in f for f in leaks), leaks


@override_settings(ROOT_URLCONF="tests.tenancy.leaky_urls")
def test_it_reports_a_screen_that_changes_another_schools_rows_from_form_ids(world):
    report = probe.probe(
        world, urlconf="tests.tenancy.leaky_urls", only=lambda route: "leaky-archive" in route.template
    )

    assert any(
        f.startswith("school B Centre Admin POST /s/birch-probe/leaky-archive/ with school A's ids in the form")
        and "changed school A's data (accounts.Membership)" in f
        for f in report.failures
    ), report.failures
    assert not Membership.objects.filter(status="archived").exists()  # and the probe rolled it back


@override_settings(ROOT_URLCONF="tests.tenancy.leaky_urls")
def test_it_fails_a_route_whose_kwarg_it_cannot_fill(world):
    report = probe.probe(world, urlconf="tests.tenancy.leaky_urls", only=lambda route: "/widgets/" in route.template)

    assert any(
        "/s/{school_slug}/widgets/{widget_id}/" in f and "cannot fill URL kwarg(s) widget_id" in f and "KWARGS" in f
        for f in report.failures
    ), report.failures


@override_settings(ROOT_URLCONF="tests.tenancy.leaky_urls")
def test_it_reports_a_global_page_that_shows_school_data(world):
    report = probe.probe(
        world, urlconf="tests.tenancy.leaky_urls", only=lambda route: "leaky-everyone" in route.template
    )

    assert any(
        f.startswith("signed-out visitor GET /leaky-everyone/") and "'ZZALDERSECRET Academy'" in f
        for f in report.failures
    ), report.failures


def test_it_builds_urls_from_a_drf_router():
    from rest_framework import routers, viewsets

    class WidgetViewSet(viewsets.ViewSet):
        def list(self, request): ...

        def retrieve(self, request, pk=None): ...

    router = routers.DefaultRouter()
    router.register("widgets", WidgetViewSet, basename="widget")
    templates = {probe.Route([pattern.pattern], pattern).template for pattern in router.urls}

    assert {"/widgets/", "/widgets/{pk}/", "/widgets/{pk}.{format}/", "/"} <= templates


@override_settings(ROOT_URLCONF="tests.tenancy.leaky_urls")
def test_it_reports_a_console_view_that_forgets_the_organisation(world):
    report = probe.probe(world, urlconf="tests.tenancy.leaky_urls", only=lambda route: "/leaky-" in route.template)

    org_b = world.school_b.organisation.slug
    assert any(
        f.startswith(f"organisation B Trust Viewer GET /t/{org_b}/leaky-schools/") and "'ZZALDERSECRET Academy'" in f
        for f in report.failures
    ), report.failures
    assert any(
        f.startswith(f"organisation B Trust Admin POST /t/{org_b}/leaky-take-back/ with school A's ids in the form")
        and "changed school A's data (accounts.OrganisationRole)" in f
        for f in report.failures
    ), report.failures
    # The middleware still guards organisation A's own console.
    assert not any(f"/t/{world.school_a.organisation.slug}/leaky" in f for f in report.failures), report.failures
