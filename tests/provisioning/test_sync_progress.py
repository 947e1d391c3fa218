"""The sync job reports its steps, and its progress bar moves while the run's one transaction is still open."""

import pytest
from django.db import connection, connections, transaction

from provisioning.models import SyncRun
from provisioning.sync import apply, services
from tenancy.models import Job
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, staff, student

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="progress shows before the commit on PostgreSQL only (SQLite: one writer at a time, so at the commit)",
)


def _newest_sync_job_seen_from_outside() -> tuple[int, int]:
    """What the browser's poll would read now: another connection, outside the run's transaction."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT progress_done, progress_total FROM tenancy_job WHERE kind = %s ORDER BY created_at DESC",
                [Job.Kind.SYNC],
            )
            return cursor.fetchone()
    finally:
        other.close()


@pytest.fixture
def seen_during(monkeypatch):
    """Wrap a function the run calls inside its transaction; record the job as others see it then."""
    seen = []

    def wrap(module, name):
        real = getattr(module, name)

        def peek(*args, **kwargs):
            assert transaction.get_connection().in_atomic_block
            seen.append(_newest_sync_job_seen_from_outside())
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, peek)

    wrap.seen = seen
    return wrap


@needs_postgresql
def test_the_plan_and_the_apply_show_their_steps_before_they_commit(school_a, centre_admin, seen_during):
    receive(school_a, feed_zip([student("S1"), student("S2")], staff_rows=[staff("T1")]))
    seen_during(services, "records_stored")  # after reading the feed and planning
    seen_during(apply, "_apply_links")  # after the plan read back and five of the apply's seven phases

    run = services.sync_start(school=school_a, actor=centre_admin, trigger=SyncRun.Trigger.MANUAL)  # a dry run
    run.refresh_from_db()
    assert run.state == SyncRun.State.PLANNED
    run = services.sync_apply_start(school=school_a, actor=centre_admin, run=run)

    run.refresh_from_db()
    assert run.state == SyncRun.State.APPLIED
    assert seen_during.seen == [(2, services.PLAN_STEPS), (6, 1 + apply.APPLY_STEPS + 1)]
    assert run.job.state == Job.State.SUCCEEDED and run.job.percent == 100


def _scheduled_run(school, monkeypatch):
    run_sync(school, feed_zip([student("S1")]))  # the first sync, applied: the nightly one applies at once
    receive(school, feed_zip([student("S1"), student("S2")]))
    written, real = [], services.job_progress
    monkeypatch.setattr(services, "job_progress", lambda job, **kw: written.append(kw) or real(job, **kw))
    run = services.sync_start(school=school, actor=None, trigger=SyncRun.Trigger.SCHEDULED)
    run.refresh_from_db()
    return run, written


def test_a_scheduled_run_counts_every_step_of_its_plan_and_apply(school_a, monkeypatch):
    monkeypatch.setattr(services, "SCHEDULED_PROGRESS_EVERY", 0.0)
    run, written = _scheduled_run(school_a, monkeypatch)

    total = services.PLAN_STEPS + apply.APPLY_STEPS + 1
    assert run.state == SyncRun.State.APPLIED and not run.dry_run
    assert written == [{"done": done, "total": total} for done in range(total + 1)]
    assert (run.job.state, run.job.progress_done, run.job.progress_total) == (Job.State.SUCCEEDED, total, total)


def test_a_quick_scheduled_run_writes_no_step_yet_finishes_at_every_step(school_a, monkeypatch):
    """Nobody waits on a nightly run's bar: its steps are written at most every SCHEDULED_PROGRESS_EVERY."""
    run, written = _scheduled_run(school_a, monkeypatch)

    total = services.PLAN_STEPS + apply.APPLY_STEPS + 1
    assert run.state == SyncRun.State.APPLIED and written == []
    assert (run.job.state, run.job.progress_done, run.job.progress_total) == (Job.State.SUCCEEDED, total, total)
