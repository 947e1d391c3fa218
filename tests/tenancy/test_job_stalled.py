"""A running job whose worker stopped reporting says so within minutes, with what happens next."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tenancy.models import Job
from tenancy.services import job_give_up, job_start

pytestmark = pytest.mark.django_db


def _running(school, *, started_ago: timedelta, heartbeat_ago: timedelta, attempts: int = 1) -> Job:
    job = job_start(school=school, kind=Job.Kind.CENSUS, actor=None, total=9)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, started_at=now - started_ago, heartbeat_at=now - heartbeat_ago, attempts=attempts,
        progress_done=2,
    )  # fmt: skip
    job.refresh_from_db()
    return job


def _progress(client, school, job) -> str:
    return client.get(f"/s/{school.slug}/jobs/{job.pk}/progress/").content.decode()


@override_settings(JOB_REDELIVERED_AFTER=None)  # the filesystem broker's
def test_a_running_job_with_an_old_heartbeat_shows_as_stalled_on_its_progress(login, centre_admin, school_a):
    job = _running(school_a, started_ago=timedelta(minutes=8), heartbeat_ago=timedelta(minutes=6))
    html = _progress(login(centre_admin), school_a, job)
    assert "Stalled" in html and 'data-stalled="true"' in html
    assert "2 of 9" in html
    # The filesystem broker deletes a message as it hands it over: nothing will take the job up again.
    assert "It will not be retried by itself: start it again." in html


def test_a_job_that_reported_recently_is_running_not_stalled(login, centre_admin, school_a):
    job = _running(school_a, started_ago=timedelta(hours=1), heartbeat_ago=timedelta(seconds=20))
    html = _progress(login(centre_admin), school_a, job)
    assert "Stalled" not in html and "Running" in html


@override_settings(JOB_STALLED_AFTER=timedelta(minutes=2))
def test_the_stall_threshold_is_a_setting(login, centre_admin, school_a):
    job = _running(school_a, started_ago=timedelta(minutes=4), heartbeat_ago=timedelta(minutes=3))
    assert "Stalled" in _progress(login(centre_admin), school_a, job)


@override_settings(JOB_ABANDONED_AFTER=timedelta(minutes=30), JOB_REDELIVERED_AFTER=timedelta(minutes=35))
def test_a_stalled_job_the_broker_will_hand_back_says_when_it_is_retried(login, centre_admin, school_a):
    job = _running(school_a, started_ago=timedelta(minutes=7), heartbeat_ago=timedelta(minutes=6))
    retry_at = job.started_at + timedelta(minutes=35)
    assert job.retry_at == retry_at
    html = _progress(login(centre_admin), school_a, job)
    assert f"It will be retried at {timezone.localtime(retry_at):%H:%M}." in html


@override_settings(JOB_ABANDONED_AFTER=timedelta(minutes=30), JOB_REDELIVERED_AFTER=timedelta(minutes=35))
def test_a_stalled_job_is_not_promised_a_retry_that_cannot_happen(school_a):
    # Reported 20 minutes after its start: its message comes back before it counts as abandoned.
    late = _running(school_a, started_ago=timedelta(minutes=30), heartbeat_ago=timedelta(minutes=10))
    # Its message came back already and found nothing to take.
    passed = _running(school_a, started_ago=timedelta(minutes=50), heartbeat_ago=timedelta(minutes=49))
    spent = _running(school_a, started_ago=timedelta(minutes=7), heartbeat_ago=timedelta(minutes=6), attempts=3)
    assert [late.retry_at, passed.retry_at, spent.retry_at] == [None, None, None]


def test_the_dashboard_lists_a_stalled_job_as_stalled(login, centre_admin, school_a):
    _running(school_a, started_ago=timedelta(minutes=20), heartbeat_ago=timedelta(minutes=15))
    html = login(centre_admin).get(f"/s/{school_a.slug}/").content.decode()
    assert "<td>Stalled</td>" in html


def test_a_stalled_job_given_up_is_failed_and_one_that_reported_is_kept(school_a):
    stalled = _running(school_a, started_ago=timedelta(minutes=20), heartbeat_ago=timedelta(minutes=15))
    alive = _running(school_a, started_ago=timedelta(minutes=20), heartbeat_ago=timedelta(seconds=15))
    assert job_give_up(stalled, message="started again") is True
    assert job_give_up(alive, message="started again") is False
    stalled.refresh_from_db(), alive.refresh_from_db()
    assert (stalled.state, stalled.error, alive.state) == ("failed", "started again", "running")


@override_settings(JOB_REDELIVERED_AFTER=None)
def test_the_job_api_says_a_job_stalled(login, centre_admin, school_a):
    job = _running(school_a, started_ago=timedelta(minutes=20), heartbeat_ago=timedelta(minutes=15))
    data = login(centre_admin).get(f"/api/s/{school_a.slug}/jobs/{job.pk}/").json()
    assert data["state"] == "running" and data["stalled"] is True and data["retry_at"] is None
