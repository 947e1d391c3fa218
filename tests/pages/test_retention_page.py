"""The retention page: the school's schedule, what the next 30 days will erase (checked against the erasing code
run 30 days on), and what was erased in the last 30, counted and reported without names."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from pages import retention
from provisioning.models import SyncPolicy
from provisioning.sync.leavers import leaver_timers
from tenancy.models import ErasureRecord
from tests.factories import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def leaver(school_a):
    SyncPolicy.objects.create(school=school_a, staff_grace_days=7, staff_erase_days=30, student_erase_days=0)
    left = member(school_a, "teacher_security", username="gone.teacher", given_name="Wilhelmina", family_name="Quist")
    Membership.objects.filter(pk=left.pk).update(status="left", left_on=timezone.localdate() - timedelta(days=10))
    student = member(school_a, "student_portal", person_type="student", username="kept.student")
    Membership.objects.filter(pk=student.pk).update(status="archived", archived_on=timezone.localdate())
    return left


def _count(rows, what):
    return next(row.count for row in rows if row.what == what)


def test_the_forecast_is_what_the_timers_then_do(school_a, leaver):
    due = retention.retention_due(school=school_a)
    assert _count(due, "Staff who left, to be archived") == 1
    assert _count(due, "Staff: archived accounts to be erased") == 1
    assert not any(row.what == "Students: archived accounts to be erased" for row in due)  # erasing is off

    today = timezone.localdate()
    assert leaver_timers(school=school_a, today=today)["archived"] == 1
    assert leaver_timers(school=school_a, today=today + timedelta(days=retention.WINDOW_DAYS))["erased"] == 1
    record = ErasureRecord.objects.get(school=school_a, kind="account")
    assert (record.person_type, record.reason, record.count) == ("staff", "leaver_policy", 1)
    assert Membership.objects.get(school=school_a, account__username="kept.student").status == "archived"


def test_the_page_shows_schedule_counts_and_a_report_without_names(login, centre_admin, school_a, leaver, settings):
    leaver_timers(school=school_a, today=timezone.localdate())
    leaver_timers(school=school_a, today=timezone.localdate() + timedelta(days=30))
    client = login(centre_admin)
    page = client.get(f"/s/{school_a.slug}/data/retention/").content.decode()
    assert "can sign in for 7 days, then archived" in page
    assert "erased 30 days after they were archived" in page
    assert f"{settings.JOB_REPORT_RETENTION_DAYS} days after the job finished" in page
    assert "Leaver policy" in page and "People erased" in page
    report = client.get(f"/s/{school_a.slug}/data/retention/erasure-report.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0] == ["When", "What", "Person type", "Why", "How many"]
    assert rows[1][1:] == ["People erased", "Staff", "Leaver policy", "1"]
    for name in ("gone.teacher", "Wilhelmina", "Quist"):
        assert name not in page and name not in report


def test_erased_counts_cover_the_last_30_days_only(school_a):
    ErasureRecord.objects.create(school=school_a, kind="feed", count=3, reason="expired")
    ErasureRecord.objects.create(school=school_a, kind="feed", count=5, reason="expired",
                                 at=timezone.now() - timedelta(days=31))  # fmt: skip
    assert _count(retention.erased_counts(school=school_a), "Stored MIS feeds") == 3


def test_the_purges_record_what_they_erased(school_a):
    from provisioning.models import Feed
    from provisioning.retention import feeds_purge

    feed = Feed.objects.create(school=school_a, file_name="old.csv", file_format="rollcall_csv", state="rejected")
    Feed.objects.filter(pk=feed.pk).update(received_at=timezone.now() - timedelta(days=400))
    assert feeds_purge(school=school_a) == 1
    assert ErasureRecord.objects.get(school=school_a, kind="feed").count == 1


def test_only_roles_that_may_see_it(login, eo_user, nominated_contact, school_a):
    assert login(eo_user).get(f"/s/{school_a.slug}/data/retention/").status_code == 403
    assert login(nominated_contact).get(f"/s/{school_a.slug}/data/retention/").status_code == 200


def test_a_person_deleted_by_hand_is_counted_without_their_name(school_a, centre_admin):
    from accounts.services import Actor, account_delete

    person = member(school_a, "parent", person_type="contact", username="erase.me", given_name="Ottoline")
    assert account_delete(school=school_a, actor=Actor(account=centre_admin, school=school_a), account=person.account)
    record = ErasureRecord.objects.get(school=school_a, kind="account")
    assert (record.person_type, record.reason) == ("contact", "deleted")
    [row] = retention.erasure_report(school=school_a)
    assert (row.what, row.person_type, row.why) == ("People erased", "Contact", "Deleted by hand")
