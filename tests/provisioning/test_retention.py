"""Files that name people are kept only so long: feeds (but never one the next runs read), uploaded
spreadsheets after they were applied, job reports."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from provisioning import retention, tasks
from provisioning.models import Feed, SyncRun, UploadBatch
from provisioning.sync import incremental
from provisioning.sync.policy import policy_for
from provisioning.upload import services as upload_services
from provisioning.upload import tasks as upload_tasks
from provisioning.upload.reader import UploadRefused
from tenancy import services as tenancy_services
from tenancy import tasks as tenancy_tasks
from tenancy.models import Job
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, student
from tests.provisioning.upload.helpers import csv_bytes, staff_row

pytestmark = pytest.mark.django_db


def _aged(feed: Feed, days: int) -> Feed:
    Feed.objects.filter(pk=feed.pk).update(received_at=timezone.now() - timedelta(days=days))
    return feed


def test_old_feeds_go_and_those_the_next_runs_read_stay(school_a, django_capture_on_commit_callbacks):
    first = run_sync(school_a, feed_zip(students=[student("S1")]))
    last = run_sync(school_a, feed_zip(students=[student("S1"), student("S2", "Bob")]))
    assert first.state == last.state == "applied"
    older, last_feed = _aged(first.feed, 90), _aged(last.feed, 60)
    refused = _aged(receive(school_a, b"not a feed", name="x.zip"), 45)
    newest = _aged(receive(school_a, feed_zip(students=[student("S1"), student("S2", "Bob"), student("S3")])), 40)
    recent_refused = receive(school_a, b"still not a feed", name="y.zip")
    storage, gone_names = older.file.storage, [older.file.name, refused.file.name]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.feeds_purge()
    kept = set(Feed.objects.filter(school=school_a).values_list("pk", flat=True))
    assert kept == {last_feed.pk, newest.pk, recent_refused.pk}
    assert not any(storage.exists(name) for name in gone_names)
    assert SyncRun.objects.get(pk=first.pk).feed is None  # the run and its records stay
    # The next night still plans from the lines that changed since the last applied run.
    run = SyncRun.objects.create(school=school_a, feed=newest, trigger="scheduled")
    with newest.file.open("rb") as handle:
        content = handle.read()
    plan = incremental.plan_changes(school=school_a, policy=policy_for(school_a), run=run, content=content)
    assert plan is not None and plan.counts["create"] == 1


def test_a_feed_of_a_run_still_open_stays_however_old(school_a):
    feed = _aged(receive(school_a, feed_zip(students=[student("S1")])), 90)
    SyncRun.objects.create(school=school_a, feed=feed, trigger="manual", state="planned")
    _aged(receive(school_a, feed_zip(students=[student("S2")])), 1)
    assert retention.feeds_purge(school=school_a) == 0


@override_settings(FEED_RETENTION_DAYS=100)
def test_the_feed_retention_is_a_setting(school_a):
    _aged(receive(school_a, b"nothing", name="x.zip"), 90)
    assert retention.feeds_purge(school=school_a) == 0
    with override_settings(FEED_RETENTION_DAYS=80):
        assert retention.feeds_purge(school=school_a) == 1


def _applied_upload(school, actor, capture, *, finished_days_ago: int) -> UploadBatch:
    batch = upload_services.upload_receive(
        school=school, actor=actor, file_name="u.csv", data=csv_bytes([staff_row(1)])
    )
    with capture(execute=True):
        upload_services.upload_apply_start(
            school=school, actor=actor, batch=batch, mode="add_update", password_method="starter_codes",
            add_existing=True, consent=True,
        )  # fmt: skip
    batch.refresh_from_db()
    assert batch.state == "applied" and batch.file
    Job.objects.filter(pk=batch.job_id).update(finished_at=timezone.now() - timedelta(days=finished_days_ago))
    return batch


def test_uploaded_files_go_seven_days_after_they_were_applied(
    client, school_a, eo_user, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    old = _applied_upload(school_a, eo_user, capture, finished_days_ago=8)
    fresh = _applied_upload(school_a, eo_user, capture, finished_days_ago=6)
    stale_preview = upload_services.upload_receive(
        school=school_a, actor=eo_user, file_name="p.csv", data=csv_bytes([staff_row(3)])
    )
    UploadBatch.objects.filter(pk=stale_preview.pk).update(created_at=timezone.now() - timedelta(days=8))
    storage, old_name = old.file.storage, old.file.name
    with capture(execute=True):
        upload_tasks.upload_files_purge()
    assert not storage.exists(old_name)
    assert UploadBatch.objects.get(pk=old.pk).file == "" and UploadBatch.objects.get(pk=stale_preview.pk).file == ""
    assert UploadBatch.objects.get(pk=fresh.pk).file
    # Reading it again says why, in words; its checked-file download is gone, never a 500.
    with pytest.raises(UploadRefused, match="no longer kept"):
        upload_services.batch_table(UploadBatch.objects.get(pk=old.pk))
    client.force_login(eo_user)
    response = client.get(reverse("upload_report", kwargs={"school_slug": school_a.slug, "batch_id": old.pk}))
    assert response.status_code == 404


def test_job_reports_go_after_thirty_days_and_the_job_says_why(
    client, school_a, eo_user, centre_admin, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    old = _applied_upload(school_a, eo_user, capture, finished_days_ago=31)
    fresh = _applied_upload(school_a, eo_user, capture, finished_days_ago=29)
    old_job, fresh_job = Job.objects.get(pk=old.job_id), Job.objects.get(pk=fresh.job_id)
    storage, name = old_job.report.storage, old_job.report.name
    with capture(execute=True):
        tenancy_tasks.job_reports_purge_task()
    old_job.refresh_from_db()
    assert not old_job.report and not storage.exists(name)
    assert old_job.report_removed == tenancy_services.REPORT_EXPIRED.format(days=30)
    assert Job.objects.get(pk=fresh_job.pk).report
    client.force_login(centre_admin)
    response = client.get(reverse("job_report", kwargs={"school_slug": school_a.slug, "job_id": old_job.pk}))
    assert response.status_code == 404
