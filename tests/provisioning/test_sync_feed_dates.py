"""Dates in feeds: 03/04/2012 is read only in the order the school chose, never guessed."""

from datetime import date

import pytest
from django.urls import reverse

from provisioning.models import SyncPolicy, SyncRun
from provisioning.sync.feed_dates import DAY_FIRST, ISO, MONTH_FIRST, FeedDateError, parse_feed_date
from provisioning.sync.incremental import plan_changes
from provisioning.sync.policy import policy_for
from tests.provisioning.sync_helpers import feed_zip, receive, run_sync, student


@pytest.mark.parametrize("text", ["2012-04-03", "20120403"])
@pytest.mark.parametrize("order", [ISO, DAY_FIRST, MONTH_FIRST])
def test_iso_dates_are_read_whatever_the_setting(text, order):
    assert parse_feed_date(text, order) == date(2012, 4, 3)


def test_an_ambiguous_date_is_refused_until_the_order_is_chosen():
    with pytest.raises(FeedDateError, match=r"could be 3 April 2012 \(day first\) or 4 March 2012 \(month first\)"):
        parse_feed_date("03/04/2012", ISO)
    assert parse_feed_date("03/04/2012", DAY_FIRST) == date(2012, 4, 3)
    assert parse_feed_date("03.04.2012", DAY_FIRST) == date(2012, 4, 3)
    assert parse_feed_date("03/04/2012", MONTH_FIRST) == date(2012, 3, 4)


def test_an_unambiguous_date_reads_in_its_order_and_not_against_it():
    assert parse_feed_date("13/04/2012", DAY_FIRST) == date(2012, 4, 13)
    assert parse_feed_date("4/13/2012", MONTH_FIRST) == date(2012, 4, 13)
    with pytest.raises(FeedDateError, match="not a real date as day/month/year"):
        parse_feed_date("04/13/2012", DAY_FIRST)
    with pytest.raises(FeedDateError, match="not a date as YYYY-MM-DD. If your MIS writes dates this way"):
        parse_feed_date("13/04/2012", ISO)  # no guess even when only one reading exists: the school says
    for nonsense in ("2012-02-30", "3rd April", "03/04/12"):
        with pytest.raises(FeedDateError):
            parse_feed_date(nonsense, DAY_FIRST)


@pytest.mark.django_db
def test_a_schools_setting_reads_its_rollcall_export(school_a):
    content = feed_zip([student("S1", leaving="31/12/2025"), student("S2", leaving="03/04/2099")])
    refused = receive(school_a, content)
    assert [(e["row"], e["column"]) for e in refused.errors] == [(2, "leaving_date"), (3, "leaving_date")]
    assert "Dates in feeds" in refused.errors[0]["message"]
    run = run_sync(school_a, content, date_order="dmy", student_grace_days=0)
    assert run.counts == {"create": 1, "skipped": 1}  # S1 left on 31 December 2025: no account is made


@pytest.mark.django_db
def test_the_policy_page_shows_and_saves_dates_in_feeds(login, nominated_contact, school_a):
    client = login(nominated_contact)
    url = reverse("sync_policy", kwargs={"school_slug": school_a.slug})
    page = client.get(url).content.decode()
    assert "Dates in feeds" in page and "Day first, as in the UK (03/04/2012 is 3 April 2012)" in page
    data = {"username_method": "mis_code", "password_method": "random", "all_years": "on", "student_grace_days": 0,
            "student_erase_days": 0, "staff_grace_days": 0, "staff_erase_days": 0, "contact_grace_days": 0,
            "contact_erase_days": 0, "nightly_time": "02:00", "date_order": "dmy"}  # fmt: skip
    assert client.post(url, data).status_code == 302
    assert SyncPolicy.objects.get(school=school_a).date_order == "dmy"
    del data["date_order"]
    assert client.post(url, data).status_code == 302
    assert SyncPolicy.objects.get(school=school_a).date_order == "dmy"  # a form without it keeps the choice


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("order", "leaving", "incremental"), [("iso", "2099-12-31", True), ("dmy", "31/12/2099", False)]
)
def test_a_school_reading_day_first_dates_is_planned_in_full(school_a, order, leaving, incremental):
    """The nightly comparison finds leaving dates come due by their ISO text: other orders compare in full."""
    content = feed_zip([student("S1", leaving=leaving)])
    run_sync(school_a, content, date_order=order)
    run = SyncRun.objects.create(school=school_a, feed=receive(school_a, content), trigger="scheduled")
    plan = plan_changes(school=school_a, policy=policy_for(school_a), run=run, content=content)
    assert (plan is not None) is incremental
