"""The nightly fan-out: the tick sends each school whose night has come one task, once a night (again after a
failure), the task runs the school's sync job itself (no second task), and records how the night went."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_scopes import scope

from provisioning import tasks
from provisioning.models import SchoolNightly, SyncRun
from provisioning.sync import nightly
from provisioning.sync.policy import policy_for
from tenancy.models import Job
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, student

pytestmark = pytest.mark.django_db

DAY = timezone.localdate() + timedelta(days=1)  # runs a tick starts are stamped with the real time: after it


def _at(hour, minute=0, day=DAY):
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _policy(school, **values):
    school.time_zone = "UTC"
    school.save()
    policy = policy_for(school)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()


@pytest.fixture
def sent(monkeypatch):
    """The schools each tick sends, without running their work."""
    schools = []
    monkeypatch.setattr(tasks.school_nightly_task, "delay", lambda school_id, now: schools.append(school_id))
    return schools


def test_it_sends_each_school_once_a_night_when_its_nightly_time_has_come(school_a, school_b, sent):
    _policy(school_a, nightly_time=time(2, 0))
    _policy(school_b, nightly_time=time(4, 0))

    nightly.scheduled_tick(now=_at(1, 45))
    assert sent == []
    nightly.scheduled_tick(now=_at(2, 0))
    assert sent == [str(school_a.pk)]
    nightly.scheduled_tick(now=_at(2, 15))  # already sent tonight
    assert sent == [str(school_a.pk)]
    nightly.scheduled_tick(now=_at(4, 15))
    assert sent == [str(school_a.pk), str(school_b.pk)]
    night = SchoolNightly.objects.get(school=school_b)
    assert (night.state, night.night, night.sent_at) == ("waiting", DAY, _at(4, 15))

    nightly.scheduled_tick(now=_at(2, 0, day=DAY + timedelta(days=1)))  # the next night
    assert sent == [str(school_a.pk), str(school_b.pk), str(school_a.pk)]


def test_an_inactive_school_is_not_sent(school_a, school_b, sent):
    school_b.is_active = False
    school_b.save()
    nightly.scheduled_tick(now=_at(3))
    assert sent == [str(school_a.pk)]


def test_a_failed_school_is_sent_again_at_the_next_tick_and_a_done_one_is_not(school_a, school_b, monkeypatch):
    _policy(school_a)
    _policy(school_b)
    timers = nightly.leaver_timers

    def failing_at_a(*, school, today):
        if school == school_a:
            raise RuntimeError("disk full")
        return timers(school=school, today=today)

    monkeypatch.setattr(nightly, "leaver_timers", failing_at_a)
    nightly.scheduled_tick(now=_at(3))
    assert SchoolNightly.objects.get(school=school_a).state == "failed"
    assert SchoolNightly.objects.get(school=school_b).state == "done"

    resent = []
    monkeypatch.setattr(tasks.school_nightly_task, "delay", lambda school_id, now: resent.append(school_id))
    nightly.scheduled_tick(now=_at(3, 15))
    assert resent == [str(school_a.pk)]


def test_the_schools_task_runs_its_sync_job_itself_and_records_the_night(school_a, monkeypatch):
    _policy(school_a, nightly_enabled=True, nightly_time=time(2, 0))
    run_sync(school_a, feed_zip([student("A1")]))  # applied: past the school's first sync
    receive(school_a, feed_zip([student("A1"), student("A2", "Newcomer")]))

    def no_second_task(*args):
        raise AssertionError("the sync job was sent as a task of its own")

    monkeypatch.setattr(tasks.sync_run_job, "delay", no_second_task)
    nightly.scheduled_tick(now=_at(2, 30))  # eager: the school's task runs here

    (run,) = SyncRun.objects.filter(school=school_a, trigger="scheduled")
    assert run.state == "applied" and run.counts == {"unchanged": 1, "create": 1}
    assert Job.objects.get(pk=run.job_id).state == Job.State.SUCCEEDED
    night = SchoolNightly.objects.get(school=school_a)
    assert night.state == "done" and night.finished_at is not None and night.seconds > 0


def test_a_sync_stopped_by_the_guard_leaves_the_school_guarded(school_a):
    _policy(school_a, nightly_enabled=True, nightly_time=time(2, 0), guard_threshold=0, student_grace_days=0)
    run_sync(school_a, feed_zip([student("A1"), student("A2")]))
    receive(school_a, feed_zip([student("A1")]))  # A2 left: one archive, over a threshold of none

    nightly.scheduled_tick(now=_at(2, 30))

    (run,) = SyncRun.objects.filter(school=school_a, trigger="scheduled")
    assert run.state == "needs_confirmation"
    assert SchoolNightly.objects.get(school=school_a).state == "guarded"


def test_a_failed_sync_fails_the_schools_night(school_a, monkeypatch):
    _policy(school_a, nightly_enabled=True, nightly_time=time(2, 0))
    run_sync(school_a, feed_zip([student("A1")]))
    receive(school_a, feed_zip([student("A1"), student("A2")]))
    monkeypatch.setattr(nightly.services, "sync_plan", lambda **kw: 1 / 0)

    nightly.scheduled_tick(now=_at(2, 30))

    night = SchoolNightly.objects.get(school=school_a)
    assert night.state == "failed" and night.failed_at is not None
    assert night.failure.startswith("MIS sync: Nothing was changed: division by zero")


def test_a_task_delivered_again_runs_tonights_unfinished_job(school_a):
    """Its worker was lost after the run was started, before the job ran: the redelivered task runs it."""
    _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
    run_sync(school_a, feed_zip([student("A1")]))
    receive(school_a, feed_zip([student("A1"), student("A2")]))
    now = timezone.now()  # tonight's run is found by its real creation time
    with scope(school=school_a):
        started = nightly._tick_school(school_a, now)  # the first delivery got this far
    assert Job.objects.get(pk=started.job_id).state == Job.State.QUEUED

    nightly.school_nightly_run(school_id=school_a.pk, now=now)

    started.refresh_from_db()
    assert started.state == "applied"
    assert SyncRun.objects.filter(school=school_a, trigger="scheduled").count() == 1
    assert SchoolNightly.objects.get(school=school_a).state == "done"
