"""The nightly schedule in each school's own time zone, and the sync API."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.services.tokens import api_token_issue
from provisioning.models import SyncRun
from provisioning.sync import nightly
from provisioning.sync.policy import policy_for
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, student

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_holds_the_sync_tick():
    assert PeriodicTask.objects.filter(task="provisioning.sync_scheduled_tick", enabled=True).exists()


def _nightly(school, at=time(2, 0), tz="Australia/Sydney"):
    school.time_zone = tz
    school.save()
    policy = policy_for(school)
    policy.nightly_enabled, policy.nightly_time = True, at
    policy.save()


def _scheduled(school):
    return list(SyncRun.objects.filter(school=school, trigger="scheduled").order_by("created_at"))


def test_it_starts_once_when_the_schools_own_night_time_comes(school_a, django_capture_on_commit_callbacks):
    _nightly(school_a)
    receive(school_a, feed_zip([student("S1")]))
    # 14:30 UTC is 01:30 in Sydney (summer time, +11): too early there.
    nightly.scheduled_tick(now=datetime(2026, 11, 23, 14, 30, tzinfo=UTC))
    assert _scheduled(school_a) == []
    with django_capture_on_commit_callbacks(execute=True):
        nightly.scheduled_tick(now=datetime(2026, 11, 23, 15, 5, tzinfo=UTC))
    (run,) = _scheduled(school_a)
    assert run.dry_run and run.state == "planned"  # the school's first sync waits for Apply
    nightly.scheduled_tick(now=datetime(2026, 11, 23, 15, 20, tzinfo=UTC))
    assert _scheduled(school_a) == [run]


def test_a_later_night_applies_the_new_feed_and_records_no_new_feed(school_a, django_capture_on_commit_callbacks):
    _nightly(school_a, tz="Europe/London")
    run_sync(school_a, feed_zip([student("S1")]))  # applied: the school is past its first sync
    receive(school_a, feed_zip([student("S1"), student("S2", "Bob")]))
    # Nights after today: the runs a tick starts are stamped with the real time, which must come before them.
    tonight = datetime.combine(timezone.now().date() + timedelta(days=1), time(2, 30), tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        nightly.scheduled_tick(now=tonight)
    (run,) = _scheduled(school_a)
    assert not run.dry_run and run.state == "applied" and run.counts == {"unchanged": 1, "create": 1}
    nightly.scheduled_tick(now=tonight + timedelta(days=1))
    nothing = _scheduled(school_a)[-1]
    assert nothing.state == "no_feed" and nothing.get_state_display() == "No new feed"


def test_a_nightly_school_off_is_not_synced(school_a):
    receive(school_a, feed_zip([student("S1")]))
    nightly.scheduled_tick(now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    assert _scheduled(school_a) == []


# --- API ------------------------------------------------------------------------------------------


def _api(school, path=""):
    return f"/api/s/{school.slug}/sync/{path}"


def test_the_mis_agent_pushes_a_feed_and_may_do_nothing_else(client, school_a, nominated_contact):
    _token, raw = api_token_issue(school=school_a, account=nominated_contact, name="AutoUpdate",
                                  role_codes=["mis_agent"])  # fmt: skip
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    upload = SimpleUploadedFile("export.zip", feed_zip([student("S1")]))
    response = client.post(_api(school_a, "feeds/"), {"file": upload}, **auth)
    assert response.status_code == 201 and response.json()["row_counts"]["student"] == 1
    assert response.json()["state"] == "valid"
    bad_row = SimpleUploadedFile("export.zip", feed_zip([student("S1", leaving="31/12/2025"), student("S2")]))
    accepted = client.post(_api(school_a, "feeds/"), {"file": bad_row}, **auth)
    assert accepted.status_code == 201 and accepted.json()["state"] == "valid"  # one bad row never blocks a feed
    error = accepted.json()["errors"][0]
    assert (error["file"], error["row"], error["column"]) == ("students", 2, "leaving_date")
    assert error["message"].startswith("'31/12/2025' is not a date as YYYY-MM-DD.")
    no_code = SimpleUploadedFile("export.zip", feed_zip(extra={"students.csv": "given_name,family_name\nAnn,Smith\n"}))
    rejected = client.post(_api(school_a, "feeds/"), {"file": no_code}, **auth)
    assert rejected.status_code == 422 and rejected.json()["state"] == "rejected"
    assert rejected.json()["errors"][0]["message"] == "The required column mis_code is missing."
    assert client.post(_api(school_a, "runs/"), **auth).status_code == 403


def test_a_person_starts_a_dry_run_reads_its_plan_and_confirms_it(client, school_a, nominated_contact,
                                                                  django_capture_on_commit_callbacks):  # fmt: skip
    rows = [student(f"S{i}") for i in range(10)]
    run_sync(school_a, feed_zip(rows), student_grace_days=0)
    receive(school_a, feed_zip(rows[:5]))
    client.force_login(nominated_contact)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(_api(school_a, "runs/"))
    assert started.status_code == 202
    run_id = started.json()["id"]
    detail = client.get(_api(school_a, f"runs/{run_id}/")).json()
    assert detail["state"] == "needs_confirmation" and detail["counts"] == {"unchanged": 5, "archive": 5}
    records = client.get(_api(school_a, f"runs/{run_id}/records/?outcome=archive")).json()
    assert records["count"] == 5 and records["results"][0]["after"] == {"status": "archived"}
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(_api(school_a, f"runs/{run_id}/confirm/"))
    assert confirmed.status_code == 202
    assert client.get(_api(school_a, f"runs/{run_id}/")).json()["state"] == "applied"


def test_another_schools_admin_gets_404_from_the_sync_api(client, school_a, other_school_admin):
    run = run_sync(school_a, feed_zip([student("S1")]))
    client.force_login(other_school_admin)
    assert client.get(_api(school_a, f"runs/{run.pk}/")).status_code == 404
