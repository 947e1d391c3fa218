"""A sync apply whose worker was lost says so, and may be confirmed again instead of waiting for an hour."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from provisioning.sync import services
from tenancy.models import Job
from tenancy.tasks import run_school_job
from tests.provisioning.sync_helpers import feed_zip, run_sync, student

pytestmark = pytest.mark.django_db


def _url(name, school, **kwargs):
    return reverse(name, kwargs={"school_slug": school.slug, **kwargs})


def _guarded_run(school):
    rows = [student(f"S{i}") for i in range(20)]
    run_sync(school, feed_zip(rows), student_grace_days=0)
    run = run_sync(school, feed_zip(rows[:10]), apply=False)
    assert run.state == "needs_confirmation"
    return run


def _confirmed_then_worker_lost(run, actor, *, heartbeat_ago):
    """Confirmed, claimed by a worker that wrote '2 of 9' and was killed (its task never ran here)."""
    run = services.sync_apply_start(school=run.school, actor=actor, run=run, confirm=True)
    now = timezone.now()
    Job.objects.filter(pk=run.job_id).update(
        state=Job.State.RUNNING, started_at=now - heartbeat_ago, heartbeat_at=now - heartbeat_ago,
        progress_done=2, progress_total=9, attempts=1,
    )  # fmt: skip
    run.refresh_from_db()
    return run


def test_a_run_whose_apply_stalled_shows_it_and_may_be_confirmed_again(
    login, nominated_contact, school_a, django_capture_on_commit_callbacks
):
    run = _guarded_run(school_a)
    run = _confirmed_then_worker_lost(run, nominated_contact, heartbeat_ago=timedelta(minutes=10))
    lost_job = run.job
    client = login(nominated_contact)
    page = client.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    assert "Stalled" in page and "start it again" in page and "Start again" in page
    assert "Stalled" in client.get(_url("sync_history", school_a)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("sync_apply", school_a, run_id=run.pk), {"confirm": "yes"})
    run.refresh_from_db()
    lost_job.refresh_from_db()
    assert run.state == "applied" and run.job_id != lost_job.pk
    assert lost_job.state == "failed" and "started the apply again" in lost_job.error
    assert Membership.objects.filter(school=school_a, person_type="student", status="archived").count() == 10


def test_a_run_whose_apply_is_still_reporting_cannot_be_confirmed_again(login, nominated_contact, school_a):
    run = _guarded_run(school_a)
    run = _confirmed_then_worker_lost(run, nominated_contact, heartbeat_ago=timedelta(seconds=30))
    client = login(nominated_contact)
    assert "Start again" not in client.get(_url("sync_run_detail", school_a, run_id=run.pk)).content.decode()
    client.post(_url("sync_apply", school_a, run_id=run.pk), {"confirm": "yes"})
    run.refresh_from_db()
    assert run.state == "queued" and Job.objects.get(pk=run.job_id).state == "running"


def test_the_lost_jobs_message_handed_back_later_changes_nothing(nominated_contact, school_a):
    run = _guarded_run(school_a)
    run = _confirmed_then_worker_lost(run, nominated_contact, heartbeat_ago=timedelta(hours=1))
    lost_job = run.job
    again = services.sync_apply_start(school=school_a, actor=nominated_contact, run=run, confirm=True)
    # The broker hands the lost job's message back: the job was given up, so it is not taken.
    run_school_job(str(school_a.pk), str(lost_job.pk), services.sync_run_job)
    # Even a worker that took it before it was given up finds the run belongs to the new job.
    Job.objects.filter(pk=lost_job.pk).update(state=Job.State.QUEUED)
    run_school_job(str(school_a.pk), str(lost_job.pk), services.sync_run_job)
    again.refresh_from_db()
    assert again.state == "queued" and again.job_id != lost_job.pk
    assert "started again by another job" in Job.objects.get(pk=lost_job.pk).error
    assert Membership.objects.filter(school=school_a, person_type="student", status="archived").count() == 0
