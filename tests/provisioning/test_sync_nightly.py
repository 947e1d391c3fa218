"""Each school's nightly work (its sync when due, leaver timers, purges): run for every school, one school's
failure recorded on it and never holding up the others."""

import logging
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Account, Membership
from provisioning.models import SchoolNightly, SyncRun
from provisioning.sync import nightly
from provisioning.sync.policy import policy_for
from tests.factories import MembershipFactory
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, student

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
# Nights after today: the runs a tick starts are stamped with the real time, which must come before them.
TONIGHT = datetime.combine(TODAY + timedelta(days=1), time(2, 30), tzinfo=UTC)


def _policy(school, **values):
    school.time_zone = "Europe/London"
    school.save()
    policy = policy_for(school)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()


def _leaver(school):
    """A student who left a month ago, past a grace period of 5 days."""
    return MembershipFactory(
        school=school, person_type="student", status=Membership.Status.LEFT, left_on=TODAY - timedelta(days=30)
    )


def _erasable(school):
    """A student archived 100 days ago, past "erase after 30 days"."""
    return MembershipFactory(
        school=school, person_type="student", status=Membership.Status.ARCHIVED,
        archived_on=TODAY - timedelta(days=100),
    )  # fmt: skip


def test_a_school_without_nightly_sync_still_gets_its_leavers_archived_and_erased(school_a):
    _policy(school_a, nightly_enabled=False, student_grace_days=5, student_erase_days=30)
    left, archived = _leaver(school_a), _erasable(school_a)

    nightly.scheduled_tick(now=TONIGHT)

    left.refresh_from_db()
    assert left.status == Membership.Status.ARCHIVED and not left.account.is_active
    assert Account.objects.get(pk=archived.account_id).deleted_at is not None
    assert not SyncRun.objects.filter(school=school_a).exists()  # and no sync: it is off


def _nightly_school(school, code):
    _policy(school, nightly_enabled=True, nightly_time=time(2, 0), student_grace_days=5)
    run_sync(school, feed_zip([student(code)]))  # applied: the school is past its first sync
    receive(school, feed_zip([student(code), student(f"{code}N", "Newcomer")]))
    return _leaver(school)


def test_one_schools_failing_timers_are_recorded_on_it_and_the_next_school_carries_on(
    school_a,
    school_b,
    monkeypatch,
    django_capture_on_commit_callbacks,
    client,
    centre_admin,
    other_school_admin,
    caplog,
):
    leaver_a, leaver_b = _nightly_school(school_a, "A1"), _nightly_school(school_b, "B1")
    timers = nightly.leaver_timers

    def refusing(*, school, today=None, policy=None, due=None):
        if school == school_a:  # Alder Academy: the tick's first school, by name
            raise ValidationError("This is the school's last Centre Admin; give the role to someone else first.")
        return timers(school=school, today=today, policy=policy, due=due)

    monkeypatch.setattr(nightly, "leaver_timers", refusing)

    with django_capture_on_commit_callbacks(execute=True), caplog.at_level(logging.ERROR):
        nightly.scheduled_tick(now=TONIGHT)  # raises nothing, though tasks run eagerly in tests

    leaver_b.refresh_from_db()
    assert leaver_b.status == Membership.Status.ARCHIVED
    (run_b,) = SyncRun.objects.filter(school=school_b, trigger="scheduled")
    assert run_b.state == "applied" and run_b.counts == {"unchanged": 1, "create": 1}
    leaver_a.refresh_from_db()
    assert leaver_a.status == Membership.Status.LEFT  # its timers rolled back, nothing half done
    failure = SchoolNightly.objects.get(school=school_a)
    assert "last Centre Admin" in failure.failure and failure.failed_at is not None
    night_b = SchoolNightly.objects.get(school=school_b)
    assert night_b.state == "done" and night_b.failed_at is None and not night_b.failure
    assert failure.state == "failed"
    assert any("nightly_work_failed" in str(r.msg) and "alder" in str(r.msg) for r in caplog.records)

    client.force_login(centre_admin)
    page = client.get(f"/s/{school_a.slug}/").content.decode()
    assert "Nightly work failed at" in page and "last Centre Admin" in page
    client.force_login(other_school_admin)
    assert "Nightly work failed" not in client.get(f"/s/{school_b.slug}/").content.decode()


def test_a_schools_failure_is_cleared_when_its_nightly_work_next_succeeds(school_a, monkeypatch):
    _policy(school_a, student_grace_days=5)
    _leaver(school_a)
    timers = nightly.leaver_timers
    monkeypatch.setattr(nightly, "leaver_timers", lambda **kw: 1 / 0)
    nightly.scheduled_tick(now=TONIGHT)
    assert SchoolNightly.objects.get(school=school_a).failure == "Leaver timers: division by zero"

    monkeypatch.setattr(nightly, "leaver_timers", timers)
    nightly.scheduled_tick(now=TONIGHT + timedelta(minutes=15))

    assert SchoolNightly.objects.get(school=school_a).failed_at is None
    assert not Membership.objects.filter(school=school_a, status=Membership.Status.LEFT).exists()


def test_a_schools_failing_sync_still_lets_its_leaver_timers_run(school_a, monkeypatch):
    _policy(school_a, nightly_enabled=True, nightly_time=time(2, 0), student_grace_days=5)
    leaver = _leaver(school_a)
    monkeypatch.setattr(nightly, "_tick_school", lambda school, now: 1 / 0)

    nightly.scheduled_tick(now=TONIGHT)

    leaver.refresh_from_db()
    assert leaver.status == Membership.Status.ARCHIVED
    assert SchoolNightly.objects.get(school=school_a).failure == "MIS sync: division by zero"
