"""Support staff's progress of the night: one page and one API call, every school's night by state; refused
to anyone else, school staff included."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import SchoolNightly
from tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def night(school_a, school_b):
    """Alder failed, Birch was stopped by the guard, a third school is done, a fourth waits, a fifth was not
    sent tonight (its row is last night's) and a sixth has no row at all."""
    now = timezone.now()
    SchoolNightly.objects.create(school=school_a, state="failed", sent_at=now, finished_at=now, seconds=2.0,
                                 failed_at=now, failure="Leaver timers: disk full")  # fmt: skip
    SchoolNightly.objects.create(school=school_b, state="guarded", sent_at=now, finished_at=now, seconds=1.0)
    SchoolNightly.objects.create(school=SchoolFactory(), state="done", sent_at=now, finished_at=now, seconds=0.5)
    SchoolNightly.objects.create(school=SchoolFactory(), state="waiting", sent_at=now)
    SchoolNightly.objects.create(school=SchoolFactory(), state="done", sent_at=now - timedelta(days=1))
    SchoolFactory()


def test_it_counts_the_nights_schools_by_state_for_support_staff(client, support_user, night):
    client.force_login(support_user)
    body = client.get("/api/support/night/").json()

    assert {k: body[k] for k in ("schools", "not_sent", "waiting", "running", "done", "failed", "guarded")} == {
        "schools": 6, "not_sent": 2, "waiting": 1, "running": 0, "done": 1, "failed": 1, "guarded": 1,
    }  # fmt: skip
    assert body["median_seconds"] == 1.0 and body["slowest_seconds"] == 2.0
    failed = [(s["name"], s["failure"]) for s in body["failed_schools"]]
    assert failed == [("Alder Academy", "Leaver timers: disk full")]
    assert [s["name"] for s in body["guarded_schools"]] == ["Birch High"]


def test_it_shows_the_night_on_one_page_for_support_staff(client, support_user, night):
    client.force_login(support_user)
    page = client.get("/support/night/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Progress of the night" in text and "Alder Academy" in text and "Leaver timers: disk full" in text
    assert "Stopped by the mass-change guard" in text and "Birch High" in text


@pytest.mark.parametrize("who", ["centre_admin", "other_school_admin", "nominated_contact"])
def test_it_refuses_school_users(client, request, who, night):
    client.force_login(request.getfixturevalue(who))

    page = client.get("/support/night/")
    assert page.status_code == 403 and "Alder Academy" not in page.content.decode()
    api = client.get("/api/support/night/")
    assert api.status_code == 403 and "Alder" not in api.content.decode()


def test_it_sends_the_signed_out_to_sign_in(client, night):
    assert client.get("/support/night/").url.startswith("/accounts/login/")
    assert client.get("/api/support/night/").status_code in (401, 403)
