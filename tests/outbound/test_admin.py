"""Support's screens of the SCIM push: start a push or a plan, read the plan, apply it, read the log."""

import pytest

from outbound.models import ScimExchange, ScimRun
from tests.factories import member


@pytest.fixture
def hub(school_a, service_of, target_for, downstream):
    return target_for(service_of(school_a.organisation), downstream)


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def test_push_now_then_the_log_shows_what_was_sent(
    school_a, hub, downstream, support, django_capture_on_commit_callbacks
):
    member(school_a, "eo", username="eo.kim")
    with django_capture_on_commit_callbacks(execute=True):
        answer = support.post(
            "/admin/outbound/scimtarget/", {"action": "push_now", "_selected_action": [hub.pk]}, follow=True
        )
    assert "A push was started" in answer.content.decode()
    assert set(downstream.users()) == {"eo.kim"}
    runs = support.get("/admin/outbound/scimrun/").content.decode()
    assert "created: 1" in runs
    log = support.get("/admin/outbound/scimexchange/").content.decode()
    assert "/Users" in log and "201" in log
    exchange = ScimExchange.objects.get(method="POST")
    page = support.get(f"/admin/outbound/scimexchange/{exchange.pk}/change/").content.decode()
    assert "eo.kim" in page


def test_a_plan_is_shown_then_applied_from_the_runs_page(
    school_a, hub, downstream, support, django_capture_on_commit_callbacks
):
    member(school_a, "eo", username="eo.kim", family_name="Lee")
    with django_capture_on_commit_callbacks(execute=True):
        support.post("/admin/outbound/scimtarget/", {"action": "reconcile_plan", "_selected_action": [hub.pk]})
    run = ScimRun.objects.get(kind=ScimRun.Kind.RECONCILE)
    assert run.state == ScimRun.State.NEEDS_CONFIRMATION
    page = support.get(f"/admin/outbound/scimrun/{run.pk}/change/").content.decode()
    assert "<td>create</td><td>eo.kim</td>" in page
    assert downstream.users() == {}

    with django_capture_on_commit_callbacks(execute=True):
        support.post("/admin/outbound/scimrun/", {"action": "confirm", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.state == ScimRun.State.SUCCEEDED
    assert downstream.users()["eo.kim"]["name"]["familyName"] == "Lee"


def test_someone_who_is_not_support_staff_sees_none_of_it(login, centre_admin, hub):
    client = login(centre_admin)
    for path in ("/admin/outbound/scimtarget/", "/admin/outbound/scimrun/", "/admin/outbound/scimexchange/"):
        assert client.get(path).status_code in (302, 403, 404)


def test_a_centre_admin_sees_their_organisations_pushes_and_how_many_of_their_people(
    school_a, hub, downstream, login, centre_admin, other_school_admin
):
    from tests.outbound.test_push import push

    member(school_a, "eo", username="eo.kim")
    push(hub)
    page = login(centre_admin).get("/s/alder/services/accounts-pushed/").content.decode()
    assert "Homework Hub" in page
    assert "<td>On</td>\n    <td>1</td>" in page  # Kim (the Centre Admin holds no role of the service)
    assert "Finished" in page

    other = login(other_school_admin).get("/s/birch/services/accounts-pushed/").content.decode()
    assert "Homework Hub" not in other
    assert login(other_school_admin).get("/s/alder/services/accounts-pushed/").status_code == 404


def test_an_eo_cannot_open_the_pushes_page(school_a, hub, login, eo_user):
    assert login(eo_user).get("/s/alder/services/accounts-pushed/").status_code in (403, 404)
