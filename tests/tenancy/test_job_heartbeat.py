"""A running job is taken up again only when its worker stopped reporting, and its progress shows at once."""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from tenancy.models import Job
from tenancy.services import JOB_MAX_ATTEMPTS, JOB_STALE_AFTER, job_claim, job_progress, job_start, job_succeed
from tenancy.tasks import run_school_job

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="progress is written through a second connection on PostgreSQL only (SQLite: one writer at a time)",
)


def _running(school, *, started_ago: timedelta, heartbeat_ago: timedelta | None, attempts: int = 1) -> Job:
    job = job_start(school=school, kind=Job.Kind.CENSUS, actor=None)
    now = timezone.now()
    heartbeat = None if heartbeat_ago is None else now - heartbeat_ago
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, started_at=now - started_ago, heartbeat_at=heartbeat, attempts=attempts
    )
    return job


def _as_seen_by_another_connection(job: Job) -> tuple[int, int, str]:
    """The job's row read through a connection of its own, outside any transaction of the test's."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT progress_done, progress_total, state FROM tenancy_job WHERE id = %s", [job.pk])
            return cursor.fetchone()
    finally:
        other.close()


@pytest.mark.django_db
def test_it_leaves_a_job_started_long_ago_whose_worker_still_reports(school_a):
    job = _running(school_a, started_ago=timedelta(hours=2), heartbeat_ago=timedelta(seconds=5))

    assert not job_claim(job)
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.RUNNING, 1)


@pytest.mark.django_db
def test_it_takes_up_a_job_whose_worker_has_been_silent_for_31_minutes(school_a):
    job = _running(school_a, started_ago=timedelta(hours=2), heartbeat_ago=timedelta(minutes=31))

    assert job_claim(job)
    assert job.attempts == 2
    assert timezone.now() - job.heartbeat_at < timedelta(minutes=1)
    assert not job_claim(job)  # its new worker counts as alive


@pytest.mark.django_db
def test_it_takes_up_a_silent_job_no_more_than_the_attempts_allow(school_a):
    job = _running(
        school_a, started_ago=timedelta(hours=2), heartbeat_ago=timedelta(hours=1), attempts=JOB_MAX_ATTEMPTS
    )

    assert not job_claim(job)


@pytest.mark.django_db
def test_it_counts_a_job_from_before_heartbeats_from_its_start(school_a):
    fresh = _running(school_a, started_ago=timedelta(minutes=5), heartbeat_ago=None)
    lost = _running(school_a, started_ago=JOB_STALE_AFTER + timedelta(minutes=1), heartbeat_ago=None)

    assert not job_claim(fresh)
    assert job_claim(lost)


@pytest.mark.django_db
def test_each_progress_write_is_a_heartbeat(school_a):
    job = _running(school_a, started_ago=timedelta(hours=2), heartbeat_ago=JOB_STALE_AFTER + timedelta(minutes=1))

    job_progress(job, done=3, total=10)

    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (3, 10)
    assert timezone.now() - job.heartbeat_at < timedelta(minutes=1)
    assert not job_claim(job)


@pytest.mark.django_db
def test_it_records_progress_of_a_job_made_in_the_same_open_transaction(school_a):
    # The test's own transaction holds the job: the second connection cannot see it, so the default writes.
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=None)
    with transaction.atomic():
        job_progress(job, done=2, total=4)

    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (2, 4)


@needs_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_inside_a_transaction_shows_to_other_connections_before_it_commits(school_a):
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=None)
    assert job_claim(job)

    with transaction.atomic():
        job_progress(job, done=1, total=4)
        seen = _as_seen_by_another_connection(job)

    assert seen == (1, 4, Job.State.RUNNING)


@needs_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_of_a_job_its_own_transaction_has_locked_waits_for_nothing(school_a):
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=None)
    assert job_claim(job)
    with connections["jobs_progress"].cursor() as cursor:
        cursor.execute("SET statement_timeout = '5s'")  # a wait on our own lock would fail, not hang

    with transaction.atomic():
        Job.objects.select_for_update().get(pk=job.pk)
        job_progress(job, done=2, total=4)  # written through the transaction holding the lock
        assert _as_seen_by_another_connection(job)[0] == 0

    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (2, 4)


@needs_postgresql
@pytest.mark.django_db
def test_progress_is_kept_when_the_second_connection_cannot_be_had(school_a, monkeypatch):
    def refuse():
        raise OperationalError("sorry, too many clients already")

    monkeypatch.setattr(connections["jobs_progress"], "ensure_connection", refuse)
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=None)
    with transaction.atomic():
        job_progress(job, done=1, total=2)

    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (1, 2)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_progress_written_before_a_rollback_does_not_finish_the_job(school_a):
    job = job_start(school=school_a, kind=Job.Kind.CENSUS, actor=None)

    def work(job):
        with transaction.atomic():
            job_progress(job, done=5, total=5)
            job_succeed(job, counts={"people": 5})
            raise RuntimeError("the last write failed")

    run_school_job(str(school_a.pk), str(job.pk), work)

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and not job.counts
    assert job.percent < 100
    # PostgreSQL kept the progress written aside; SQLite's went with the transaction.
    assert job.progress_done == (5 if connection.vendor == "postgresql" else 0)
