"""The nightly fan-out: the tick sends each school whose night has come one task, once a night (again after a
failure), the task runs the school's sync job itself (no second task), and records how the night went."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from provisioning import tasks
from provisioning.models import SchoolNightly, SyncRun
from provisioning.sync import nightly, services
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

    def failing_at_a(*, school, today, policy=None, due=None):
        if school == school_a:
            raise RuntimeError("disk full")
        return timers(school=school, today=today, policy=policy, due=due)

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
    """Its worker was lost after the run was started (its job claimed as it was started), before the job ran.
    The broker hands the message back after the job counts as abandoned (settings: the visibility timeout is
    JOB_ABANDONED_AFTER + JOB_STALLED_AFTER): the redelivered task claims the job again and runs it."""
    _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
    run_sync(school_a, feed_zip([student("A1")]))
    receive(school_a, feed_zip([student("A1"), student("A2")]))
    now = timezone.now()  # tonight's run is found by its real creation time
    with scope(school=school_a):
        started = nightly._tick_school(school_a, now)  # the first delivery got this far
    job = Job.objects.get(pk=started.job_id)
    assert (job.state, job.attempts) == (Job.State.RUNNING, 1)  # claimed as it was started: no claim queries
    lost_at = now - settings.JOB_ABANDONED_AFTER - timedelta(minutes=1)
    Job.objects.filter(pk=job.pk).update(started_at=lost_at, heartbeat_at=lost_at)

    nightly.school_nightly_run(school_id=school_a.pk, now=now)

    started.refresh_from_db()
    assert started.state == "applied"
    assert Job.objects.get(pk=job.pk).attempts == 2
    assert SyncRun.objects.filter(school=school_a, trigger="scheduled").count() == 1
    assert SchoolNightly.objects.get(school=school_a).state == "done"


def test_a_task_delivered_twice_while_its_job_runs_does_nothing_more(school_a):
    """A second delivery while the first worker still holds tonight's job (its heartbeat fresh) leaves the job to
    it: no second run, no second apply."""
    _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
    run_sync(school_a, feed_zip([student("A1")]))
    receive(school_a, feed_zip([student("A1"), student("A2")]))
    now = timezone.now()
    with scope(school=school_a):
        started = nightly._tick_school(school_a, now)

    nightly.school_nightly_run(school_id=school_a.pk, now=now)

    started.refresh_from_db()
    assert started.state == SyncRun.State.PLANNING  # still the first worker's
    assert Job.objects.get(pk=started.job_id).attempts == 1
    assert SyncRun.objects.filter(school=school_a, trigger="scheduled").count() == 1


def test_a_schools_no_change_night_is_a_fixed_handful_of_queries(school_a):
    """A night is thousands of small schools: what a school's night costs beyond its rows is its fixed queries
    (bench.fleet). A no-change night of a school that synced before: the school with its policy, the nightly
    row, the policy locked, tonight's night asked on the newest feed, the run started with its job claimed as it
    is written, the plan from the changed lines (none; the last feed not read again: same digest), the run
    recorded, the leavers and purges asked together. Was 51 on PostgreSQL (34 here) before the cuts of issue 23,
    26 before its third pass."""
    _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
    people = [student(f"A{n}") for n in range(20)]
    run_sync(school_a, feed_zip(people))
    receive(school_a, feed_zip(people))
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        run = nightly.school_nightly_run(school_id=school_a.pk, now=now)
    assert run.state == SyncRun.State.APPLIED and run.counts.get("unchanged") == 20
    assert len(queries) <= 22, "\n".join(q["sql"][:120] for q in queries.captured_queries)


@pytest.mark.scoped
def test_a_schools_task_runs_as_a_worker_runs_it_with_no_scope_active(school_a):
    """A worker enters no school's scope before the task: the task reads the school (and its policy) first, then
    enters its scope (the tests' bodies otherwise run with scoping off, which hid a policy read outside it)."""
    with scopes_disabled():
        _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
        run_sync(school_a, feed_zip([student("A1")]))
        receive(school_a, feed_zip([student("A1"), student("A2")]))

    tasks.school_nightly_task(str(school_a.pk), timezone.now().isoformat())

    with scopes_disabled():
        (run,) = SyncRun.objects.filter(school=school_a, trigger="scheduled")
        assert run.state == "applied" and run.counts == {"unchanged": 1, "create": 1}
        assert SchoolNightly.objects.get(school=school_a).state == "done"


def test_tonights_run_supersedes_a_plan_waiting_for_apply(school_a, django_capture_on_commit_callbacks):
    """A plan someone made by hand and never applied is superseded by tonight's run, as by any newer run (the
    nightly asks whether one waits in the same query as whether its night is due, and updates only then)."""
    _policy(school_a, nightly_enabled=True, nightly_time=time(0, 0))
    run_sync(school_a, feed_zip([student("A1")]))
    receive(school_a, feed_zip([student("A1"), student("A2")]))
    with scope(school=school_a), django_capture_on_commit_callbacks(execute=True):
        waiting = services.sync_start(school=school_a, actor=None, trigger=SyncRun.Trigger.MANUAL)
    waiting.refresh_from_db()
    assert waiting.state == SyncRun.State.PLANNED

    tonight = nightly.school_nightly_run(school_id=school_a.pk, now=timezone.now())

    waiting.refresh_from_db()
    assert (waiting.state, waiting.message) == (SyncRun.State.SUPERSEDED, "A newer run was started.")
    assert tonight.state == SyncRun.State.APPLIED


def test_the_purges_run_only_when_something_is_due_and_then_purge_it(school_a, monkeypatch):
    """Most nights of most schools have nothing to purge: one query says so, and the purges are not run. A sheet
    past its 24 hours is then purged by the same night."""
    _policy(school_a)
    called = []
    real = nightly.credentials_purge
    monkeypatch.setattr(nightly, "credentials_purge", lambda **kw: called.append(kw) or real(**kw))

    nightly.school_nightly_run(school_id=school_a.pk, now=timezone.now())
    assert called == []

    with scope(school=school_a):
        run = SyncRun.objects.create(school=school_a, trigger="manual", state="applied")
        run.credentials.save(f"{run.pk}.csv", ContentFile(b"student,,,Doe,Jo,jo.doe,ABCD-1234\n"), save=False)
        run.credentials_expire_at = timezone.now() - timedelta(minutes=1)
        run.save()
    nightly.school_nightly_run(school_id=school_a.pk, now=timezone.now())

    assert len(called) == 1
    run.refresh_from_db()
    assert not run.credentials
