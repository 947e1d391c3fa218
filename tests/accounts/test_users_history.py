"""An account's history on its Edit page: audit events and applied sync records, newest first."""

from django.utils import timezone

from accounts.services import Actor, account_update
from provisioning.models import SyncRecord, SyncRun
from tests.factories import MembershipFactory, member


def _record(school, account, *, state, family):
    run = SyncRun.objects.create(
        school=school, trigger="scheduled", state=state, dry_run=False, applied_at=timezone.now()
    )
    SyncRecord.objects.create(
        school=school,
        run=run,
        account_id=account.pk,
        outcome="update",
        person_type="student",
        before={"family_name": "Old"},
        after={"family_name": family},
    )


def test_it_shows_audit_events_and_applied_sync_records(login, centre_admin, school_a):
    pupil = member(school_a, "student_portal", person_type="student", given_name="Ada")
    account_update(
        actor=Actor(account=centre_admin, school=school_a), account=pupil.account, school=school_a, given_name="Adah"
    )
    _record(school_a, pupil.account, state=SyncRun.State.APPLIED, family="Applied-Name")
    _record(school_a, pupil.account, state=SyncRun.State.PLANNED, family="Only-Planned")

    html = login(centre_admin).get(f"/s/{school_a.slug}/users/{pupil.pk}/edit/").content.decode()
    assert "Details changed" in html and "Adah" in html and "accounts.account.updated" not in html
    assert "MIS sync: Details changed" in html and "Applied-Name" in html
    assert "Only-Planned" not in html


def test_it_shows_nothing_recorded_at_another_school(login, school_a, school_b):
    person = member(school_a, "eo")
    account_update(
        actor=Actor(account=None, school=school_a), account=person.account, school=school_a, given_name="Secret-Change"
    )
    admin_b = member(school_b, "centre_admin").account
    elsewhere = MembershipFactory(school=school_b, person_type="staff", account=person.account)
    html = login(admin_b).get(f"/s/{school_b.slug}/users/{elsewhere.pk}/edit/").content.decode()
    assert "accounts.account.updated" not in html  # school A's event stays with school A
    assert "Nothing recorded yet." in html
