"""Certificate reminders over a real SMTP server: 30 days before expiry and on expiry, to the holder, with a
digest to the school's Exams Officers; one email per certificate per reminder however often the job runs."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from assessments.models import Certificate, CertificateReminder
from assessments.services import reminders
from assessments.tasks import certificate_reminders
from tests.factories import member
from tests.pages.data_helpers import make_certificate
from tests.provisioning.contacts.conftest import smtp_server  # noqa: F401 - the real SMTP server fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def holders(school_a, school_b, assessment):
    soon = member(school_a, "inv", username="inv.soon", email="soon@alder.sch.uk", given_name="Sam", family_name="Soon")
    gone = member(school_a, "inv", username="inv.gone", email="gone@alder.sch.uk")
    later = member(school_a, "inv", username="inv.later", email="later@alder.sch.uk")
    other = member(school_b, "inv", username="inv.birch", email="inv@birch.sch.uk")
    member(school_a, "eo", username="eo.one", email="eo1@alder.sch.uk")
    member(school_a, "eo", username="eo.two", email="eo2@alder.sch.uk")
    return {
        "soon": make_certificate(school_a, soon.account, assessment, expires_in_days=20),
        "gone": make_certificate(school_a, gone.account, assessment, expires_in_days=-1),
        "later": make_certificate(school_a, later.account, assessment, expires_in_days=90),
        "other": make_certificate(school_b, other.account, assessment, expires_in_days=5),
    }


def test_holders_and_exams_officers_are_told_once(school_a, holders, smtp_server):  # noqa: F811
    certificate_reminders()
    soon = smtp_server.to("soon@alder.sch.uk")
    assert len(soon) == 1 and "expires on" in soon[0]["data"]
    assert f"/s/{school_a.slug}/assessments/{holders['soon'].assessment_id}/" in soon[0]["data"]
    gone = smtp_server.to("gone@alder.sch.uk")
    assert len(gone) == 1 and "has expired" in gone[0]["data"]
    assert smtp_server.to("later@alder.sch.uk") == []
    assert len(smtp_server.to("inv@birch.sch.uk")) == 1  # every school's run, each its own
    for officer in ("eo1@alder.sch.uk", "eo2@alder.sch.uk"):
        [digest] = smtp_server.to(officer)
        assert "Sam Soon" in digest["data"] and "1 certificate expiring, 1 expired" in digest["data"]
    assert "inv@birch.sch.uk" not in str(smtp_server.to("eo1@alder.sch.uk"))

    sent = len(smtp_server.messages)
    certificate_reminders()  # again the same day: nothing new
    assert len(smtp_server.messages) == sent
    assert CertificateReminder.objects.filter(school=school_a).count() == 2


def test_the_expired_reminder_follows_the_30_day_one(school_a, holders, smtp_server):  # noqa: F811
    reminders.certificate_reminders_send(school=school_a)
    later = timezone.now() + timedelta(days=21)
    counts = reminders.certificate_reminders_send(school=school_a, now=later)
    assert counts["expired"] == 1 and counts["expiring"] == 0
    kinds = set(CertificateReminder.objects.filter(certificate=holders["soon"]).values_list("kind", flat=True))
    assert kinds == {"expiring", "expired"}
    assert len(smtp_server.to("soon@alder.sch.uk")) == 2


def test_superseded_and_revoked_certificates_are_not_reminded(school_a, holders, smtp_server):  # noqa: F811
    Certificate.objects.filter(pk=holders["soon"].pk).update(status=Certificate.Status.SUPERSEDED)
    Certificate.objects.filter(pk=holders["gone"].pk).update(status=Certificate.Status.REVOKED)
    assert reminders.certificate_reminders_send(school=school_a) == {"expiring": 0, "expired": 0, "digests": 0}
    assert smtp_server.messages == []


def test_a_refused_address_gives_the_claim_back(school_a, holders, smtp_server):  # noqa: F811
    smtp_server.refuse.add("soon@alder.sch.uk")
    reminders.certificate_reminders_send(school=school_a)
    assert not CertificateReminder.objects.filter(certificate=holders["soon"]).exists()
    smtp_server.refuse.clear()
    reminders.certificate_reminders_send(school=school_a)
    assert len(smtp_server.to("soon@alder.sch.uk")) == 1


def test_it_is_scheduled_daily_by_the_migrations():
    task = PeriodicTask.objects.get(task="assessments.certificate_reminders", enabled=True)
    assert task.crontab is not None and task.crontab.hour == "7"


def test_the_expiring_list_links_each_assessment_and_says_what_was_sent(login, eo_user, inv_user, school_a, holders):
    reminders.certificate_reminders_send(school=school_a)
    page = login(eo_user).get(f"/s/{school_a.slug}/assessments/certificates/expiring/").content.decode()
    assert holders["soon"].holder_name in page and holders["gone"].holder_name in page
    assert holders["later"].holder_name not in page and "inv.birch" not in page
    assert f"/s/{school_a.slug}/assessments/{holders['soon'].assessment_id}/" in page
    assert "Expires in 30 days" in page and "(expired)" in page
    assert login(inv_user).get(f"/s/{school_a.slug}/assessments/certificates/expiring/").status_code == 403
