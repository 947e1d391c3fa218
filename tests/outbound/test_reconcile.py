"""Reconciliation after an outage: the service was changed behind Rollcall's back; the plan names the
difference (like a sync's dry run), changes nothing until confirmed, and applying it leaves the service as it
should be."""

import pytest

from accounts.models import AuditEvent
from outbound import scim, services
from outbound.models import ScimRun, ScimUser
from tests.factories import member
from tests.outbound.test_push import push


@pytest.fixture
def hub(school_a, service_of, target_for, downstream):
    return target_for(service_of(school_a.organisation), downstream)


def plan(target) -> ScimRun:
    run = ScimRun.objects.create(target=target, kind=ScimRun.Kind.RECONCILE)
    services.run_work(run.pk)
    run.refresh_from_db()
    return run


def test_the_plan_names_what_changed_behind_rollcalls_back_and_apply_repairs_it(
    school_a, hub, downstream, support_user, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(scim, "PAGE_SIZE", 3)  # the service's list comes in several pages
    kim = member(school_a, "eo", username="eo.kim", family_name="Lee")
    ana = member(school_a, "eo", username="eo.ana")
    gone = member(school_a, "eo", username="eo.gone")
    member(school_a, "eo", username="eo.same")
    push(hub)
    held = downstream.users()
    # Behind Rollcall's back: one user deleted, one renamed and deactivated, a stranger of the service's own.
    downstream.delete(held["eo.ana"]["id"])
    downstream.patch(held["eo.kim"]["id"], "name.familyName", "Changed")
    downstream.patch(held["eo.kim"]["id"], "active", False)
    downstream.create("service.own.admin")
    # And in Rollcall while the service was down: one person lost the role (their user should go).
    gone.role_assignments.all().delete()
    for n in range(7):
        downstream.create(f"stranger{n}")

    run = plan(hub)

    assert run.state == ScimRun.State.NEEDS_CONFIRMATION
    lists = run.exchanges.filter(method="GET").values_list("path", flat=True)
    assert len(lists) == 4 and all("count=3" in path for path in lists)  # 11 users, 3 a page
    actions = {(item["action"], item["user_name"]) for item in run.plan}
    assert actions == {("create", "eo.ana"), ("change", "eo.kim"), ("delete", "eo.gone")}
    kim_item = next(i for i in run.plan if i["action"] == "change")
    assert kim_item["changes"] == {"familyName": ["Changed", "Lee"], "active": [False, True]}
    assert run.counts["not_rollcall"] == 8 and run.counts["same"] == 1
    assert "eo.ana" not in downstream.users()  # a plan changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        assert services.reconcile_confirm(run=run, actor=support_user)
    run.refresh_from_db()
    assert run.state == ScimRun.State.SUCCEEDED
    assert run.counts["applied"] == {"created": 1, "change": 1, "delete": 1}
    held = downstream.users()
    assert {"eo.ana", "eo.kim", "eo.same", "service.own.admin"} <= set(held)
    assert "eo.gone" not in held
    assert held["eo.kim"]["name"]["familyName"] == "Lee" and held["eo.kim"]["active"] is True
    assert ScimUser.objects.get(target=hub, account_id=ana.account_id).remote_id == held["eo.ana"]["id"]
    assert not ScimUser.objects.filter(target=hub, account_id=gone.account_id).exists()
    assert AuditEvent.objects.filter(action="outbound.scim.reconciliation_confirmed", actor=support_user).exists()

    # Afterwards the service holds what it should: a push sends nothing, a new plan has nothing to do.
    assert push(hub).counts == {"unchanged": 3}
    assert plan(hub).state == ScimRun.State.SUCCEEDED
    assert kim.account_id  # (kept to name the person in the plan above)


def test_a_user_made_at_the_service_before_rollcall_pushed_is_linked_by_username(school_a, hub, downstream):
    eo = member(school_a, "eo", username="eo.kim", given_name="Kim")
    existing = downstream.create("eo.kim")

    run = plan(hub)

    assert [(i["action"], i["remote_id"]) for i in run.plan] == [("link", existing["id"])]
    services.reconcile_confirm(run=run, actor=None)
    services.run_work(run.pk)
    assert ScimUser.objects.get(target=hub).account_id == eo.account_id
    assert downstream.users()["eo.kim"]["name"]["givenName"] == "Kim"


def test_a_cancelled_plan_is_never_applied(school_a, hub, downstream, support_user):
    member(school_a, "eo", username="eo.kim")
    run = plan(hub)
    assert services.reconcile_cancel(run=run, actor=support_user)
    assert not services.reconcile_confirm(run=run, actor=support_user)
    services.run_work(run.pk)
    assert downstream.users() == {}


def test_the_lists_the_service_answered_are_logged_as_counts_only(school_a, hub, downstream):
    member(school_a, "eo", username="eo.kim")
    downstream.create("someone.else")
    run = plan(hub)
    listed = run.exchanges.get(method="GET")
    assert '"totalResults": 1' in listed.answered and "someone.else" not in listed.answered
