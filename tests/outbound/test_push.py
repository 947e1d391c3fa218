"""The push against a real SCIM server (scim2-server): creates, changes, leavers, a replayed push, another
organisation's service, outages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, Membership
from outbound import services
from outbound.models import ScimExchange, ScimRun, ScimUser
from tests.factories import SchoolFactory, member


def push(target) -> ScimRun:
    run = ScimRun.objects.create(target=target)
    services.run_work(run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def hub(school_a, service_of, target_for, downstream):
    return target_for(service_of(school_a.organisation), downstream)


def test_it_creates_the_eligible_people_only(school_a, hub, downstream):
    eo = member(school_a, "eo", username="eo.kim", given_name="Kim", family_name="Lee", email="kim@alder.example")
    member(school_a, "student_portal", person_type="student", username="pupil.ana")
    member(school_a, "inv", username="inv.only")  # holds no role of the service
    locked = member(school_a, "eo", username="eo.locked", locked_out=True)

    run = push(hub)

    held = downstream.users()
    assert set(held) == {"eo.kim", "pupil.ana", "eo.locked"}
    kim = held["eo.kim"]
    assert kim["externalId"] == str(eo.account_id)
    assert kim["name"]["givenName"] == "Kim" and kim["name"]["familyName"] == "Lee"
    assert kim["emails"][0]["value"] == "kim@alder.example"
    assert kim["active"] is True
    assert held["eo.locked"]["active"] is False  # held, but may not sign in
    assert run.state == ScimRun.State.SUCCEEDED and run.counts == {"created": 3}
    assert ScimUser.objects.get(target=hub, account_id=locked.account_id).remote_id == held["eo.locked"]["id"]


def test_it_patches_names_email_username_and_active(school_a, hub, downstream):
    eo = member(school_a, "eo", username="eo.kim", given_name="Kim", family_name="Lee", email="kim@alder.example")
    push(hub)
    remote_id = downstream.users()["eo.kim"]["id"]

    Account.objects.filter(pk=eo.account_id).update(
        username="eo.kimp", family_name="Park", email="kim.park@alder.example", locked_out=True
    )
    run = push(hub)

    held = downstream.users()
    assert set(held) == {"eo.kimp"}
    kim = held["eo.kimp"]
    assert kim["id"] == remote_id  # the same user, changed: not a new one
    assert kim["name"]["familyName"] == "Park"
    assert kim["emails"][0]["value"] == "kim.park@alder.example"
    assert kim["active"] is False
    assert run.counts == {"deactivated": 1}
    patches = ScimExchange.objects.filter(run=run)
    assert [(x.method, x.status) for x in patches] == [("PATCH", 200)] or [x.method for x in patches] == ["PATCH"]


def test_a_replayed_push_changes_nothing(school_a, hub, downstream, django_assert_max_num_queries):
    member(school_a, "eo", username="eo.kim")
    member(school_a, "student_portal", person_type="student", username="pupil.ana")
    first = push(hub)
    before = downstream.users()

    with django_assert_max_num_queries(16):  # the same whatever the number of people (14 for 300 measured)
        second = push(hub)
    assert ScimExchange.objects.filter(run=second).count() == 0  # nothing sent at all
    assert downstream.users() == before  # meta.version and lastModified unchanged too

    # The same run's message delivered again (a worker lost it, the broker hands it back): it does nothing.
    services.run_work(first.pk)
    assert ScimExchange.objects.filter(run=first).count() == 2
    assert downstream.users() == before


def test_a_lost_create_answer_is_linked_not_duplicated(school_a, hub, downstream):
    eo = member(school_a, "eo", username="eo.kim")
    push(hub)
    ScimUser.objects.filter(target=hub).delete()  # as if the service's answer never reached Rollcall

    run = push(hub)

    assert len(downstream.users()) == 1
    assert run.counts == {"linked": 1}
    assert ScimUser.objects.get(target=hub).account_id == eo.account_id


def test_leavers_follow_the_school_timers_grace_then_archive_then_erase(school_a, hub, downstream):
    from provisioning.sync.leavers import leaver_timers
    from provisioning.sync.policy import policy_for

    policy = policy_for(school_a)
    policy.staff_grace_days, policy.staff_erase_days = 7, 30
    policy.save()
    leaver = member(school_a, "eo", username="eo.leaving")
    member(school_a, "eo", username="eo.staying")
    push(hub)

    today = timezone.localdate()
    Membership.objects.filter(pk=leaver.pk).update(status=Membership.Status.LEFT, left_on=today)
    push(hub)
    assert downstream.users()["eo.leaving"]["active"] is True  # in the grace period: can still sign in

    leaver_timers(school=school_a, today=today + timedelta(days=8))  # grace over: archived
    run = push(hub)
    assert downstream.users()["eo.leaving"]["active"] is False
    assert run.counts == {"deactivated": 1}

    assert ScimExchange.objects.filter(account_id=leaver.account_id, sent__contains="eo.leaving").exists()
    leaver_timers(school=school_a, today=today + timedelta(days=8 + 31))  # erase time: the account is erased
    run = push(hub)
    assert set(downstream.users()) == {"eo.staying"}
    assert run.counts == {"deleted": 1}
    assert not ScimUser.objects.filter(target=hub, account_id=leaver.account_id).exists()
    # What was sent about the erased person is blanked in the log.
    assert not ScimExchange.objects.filter(account_id=leaver.account_id).exclude(sent="").exists()
    assert not ScimExchange.objects.filter(answered__contains="eo.leaving").exists()


def test_a_role_removed_deletes_the_user(school_a, hub, downstream):
    eo = member(school_a, "eo", username="eo.kim")
    push(hub)
    eo.role_assignments.all().delete()
    assert push(hub).counts == {"deleted": 1}
    assert downstream.users() == {}


def test_a_service_of_another_organisation_never_receives_these_people(
    school_a, school_b, service_of, target_for, scim_server, hub, downstream
):
    from tests.outbound.conftest import Downstream

    other_downstream = Downstream(scim_server)
    other = target_for(service_of(school_b.organisation, name="Birch Hub"), other_downstream)
    member(school_a, "eo", username="eo.alder")
    member(school_b, "eo", username="eo.birch")
    # A second school of school A's organisation is the same organisation: its people go to hub.
    member(SchoolFactory(organisation=school_a.organisation, slug="aspen"), "eo", username="eo.aspen")

    push(hub)
    push(other)

    assert set(downstream.users()) == {"eo.alder", "eo.aspen"}
    assert set(other_downstream.users()) == {"eo.birch"}


def test_a_school_that_switched_the_service_off_deactivates_its_people(school_a, hub, downstream):
    from signon.services import service_switch

    admin = member(school_a, "centre_admin", username="ca.alder").account
    member(school_a, "eo", username="eo.kim")
    push(hub)
    service_switch(school=school_a, actor=admin, service=hub.service, on=False)
    push(hub)
    assert downstream.users()["eo.kim"]["active"] is False


def test_an_outage_waits_and_retries_then_gives_up(school_a, hub, downstream, settings):
    settings.SCIM_PUSH_RETRIES = 2
    member(school_a, "eo", username="eo.kim")
    hub.endpoint = "http://127.0.0.1:9/v2"  # nothing listens there
    hub.save()
    run = ScimRun.objects.create(target=hub)

    with pytest.raises(services.RetryLater) as wait:
        services.run_work(run.pk)
    run.refresh_from_db()
    assert run.state == ScimRun.State.RETRYING and wait.value.countdown == 30
    assert "could not be reached" in run.error

    services.run_work(run.pk)  # the second attempt, also down: given up
    run.refresh_from_db()
    assert run.state == ScimRun.State.FAILED
    assert "Gave up after 2 attempts" in run.error

    hub.endpoint = downstream.endpoint  # back: the next sweep's push creates them
    hub.save()
    assert push(hub).counts == {"created": 1}


def test_groups_per_school_and_role_when_the_service_wants_them(school_a, service_of, target_for, downstream):
    target = target_for(service_of(school_a.organisation), downstream, push_groups=True)
    kim = member(school_a, "eo", username="eo.kim")
    member(school_a, "student_portal", person_type="student", username="pupil.ana")
    push(target)

    groups = downstream.groups()
    users = downstream.users()
    assert set(groups) == {"Alder Academy: Exams Officer", "Alder Academy: Student Portal"}
    assert [m["value"] for m in groups["Alder Academy: Exams Officer"]["members"]] == [users["eo.kim"]["id"]]

    kim.role_assignments.all().delete()
    run = push(target)
    assert set(downstream.groups()) == {"Alder Academy: Student Portal"}
    assert run.counts["groups_deleted"] == 1


def test_the_sweep_starts_one_push_per_enabled_service(school_a, hub, downstream, django_capture_on_commit_callbacks):
    member(school_a, "eo", username="eo.kim")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep() == 1
    run = ScimRun.objects.get(target=hub)
    assert run.state == ScimRun.State.SUCCEEDED
    assert set(downstream.users()) == {"eo.kim"}


def test_a_refusal_for_one_person_does_not_stop_the_others(school_a, hub, downstream):
    kim = member(school_a, "eo", username="eo.kim")
    push(hub)
    downstream.create("eo.taken")  # the service's own user holds the name Kim is renamed to
    Account.objects.filter(pk=kim.account_id).update(username="eo.taken")
    member(school_a, "eo", username="eo.ana")

    run = push(hub)

    assert run.state == ScimRun.State.SUCCEEDED
    assert run.counts == {"refused": 1, "created": 1}
    assert "eo.ana" in downstream.users()
    assert ScimExchange.objects.filter(run=run, method="PATCH", status=409).exists()


def test_a_run_whose_worker_was_lost_stops_blocking_the_sweep(school_a, hub, downstream, settings):
    member(school_a, "eo", username="eo.kim")
    lost = ScimRun.objects.create(target=hub, state=ScimRun.State.RUNNING, heartbeat_at=timezone.now())
    assert services.sweep() == 0  # a push is running

    ScimRun.objects.filter(pk=lost.pk).update(heartbeat_at=timezone.now() - settings.JOB_ABANDONED_AFTER * 2)
    assert services.sweep() == 1
    lost.refresh_from_db()
    assert lost.state == ScimRun.State.FAILED and "worker stopped" in lost.error


def test_a_plan_waiting_for_confirmation_does_not_stop_the_pushes(school_a, hub, downstream):
    ScimRun.objects.create(target=hub, kind=ScimRun.Kind.RECONCILE, state=ScimRun.State.NEEDS_CONFIRMATION)
    assert services.sweep() == 1


def test_a_person_without_an_email_is_pushed_and_changed(school_a, hub, downstream):
    pupil = member(school_a, "student_portal", person_type="student", username="pupil.ana", email="")
    push(hub)
    assert "emails" not in downstream.users()["pupil.ana"]
    Account.objects.filter(pk=pupil.account_id).update(family_name="Moreau")
    assert push(hub).counts == {"changed": 1}
    assert downstream.users()["pupil.ana"]["name"]["familyName"] == "Moreau"
    Account.objects.filter(pk=pupil.account_id).update(email="ana@alder.example")
    push(hub)
    Account.objects.filter(pk=pupil.account_id).update(email="")
    assert push(hub).counts == {"changed": 1}
    assert "emails" not in downstream.users()["pupil.ana"]


def test_a_person_locked_out_is_deactivated_at_once_not_at_the_next_sweep(
    school_a, hub, downstream, django_capture_on_commit_callbacks
):
    from accounts.services import Actor, account_update

    admin = member(school_a, "centre_admin", username="ca.alder").account
    kim = member(school_a, "eo", username="eo.kim")
    push(hub)
    with django_capture_on_commit_callbacks(execute=True):
        account_update(
            school=school_a, actor=Actor(account=admin, school=school_a), account=kim.account, locked_out=True
        )
    assert downstream.users()["eo.kim"]["active"] is False
