"""Newcomers who may be someone the organisation already holds (an unverified email): held for a decision,
never merged silently, never matched across organisations (issue 19, "Duplicate people")."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import Account, AuditEvent, Membership
from provisioning.models import NewcomerMatch, SyncRecord
from provisioning.sync.matches import newcomer_match_decide
from tests.factories import SchoolFactory, member
from tests.provisioning.sync_helpers import feed_zip, run_sync, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def sibling(school_a):
    """Another school of school A's trust."""
    return SchoolFactory(organisation=school_a.organisation, name="Cedar College", slug="cedar")


@pytest.fixture
def teacher(sibling):
    """Ann Smith, made at Cedar by its own sync: her email came from an MIS, nobody verified it."""
    held = member(sibling, username="asmith", given_name="Ann", family_name="Smith", email="Ann.Smith@trust.org")
    return held.account


def _record(run, code="T9"):
    return SyncRecord.objects.get(run=run, mis_code=code)


FEED = feed_zip(staff_rows=[staff("T9", "Ann", "Smith", email="ann.smith@TRUST.org")])


def test_a_newcomer_with_an_email_the_trust_holds_is_held_with_the_match(school_a, teacher):
    before = Account.objects.count()
    run = run_sync(school_a, FEED)
    record = _record(run)
    assert record.outcome == "skipped" and str(record.account_id) == str(teacher.pk)
    assert record.reason.startswith("Needs a decision: possible match Ann Smith, asmith, Cedar College")
    assert Account.objects.count() == before and not Membership.objects.filter(school=school_a, mis_code="T9")
    assert run_sync(school_a, FEED).counts == {"skipped": 1}  # still held the next night


def test_same_person_adds_a_membership_to_the_account_and_keeps_it_at_both_schools(
    school_a, sibling, teacher, centre_admin
):
    run = run_sync(school_a, FEED, apply=False)
    newcomer_match_decide(school=school_a, actor=centre_admin, run=run, person_type="staff", mis_code="T9",
                          decision="same")  # fmt: skip
    applied = run_sync(school_a, FEED)
    assert _record(applied).outcome == "create" and _record(applied).after["existing_account"] is True
    mine = Membership.objects.get(school=school_a, mis_code="T9")
    assert mine.account_id == teacher.pk
    assert Membership.objects.get(school=sibling, account=teacher).status == "active"  # not a transfer
    event = AuditEvent.objects.get(action="provisioning.newcomer_match.decided")
    assert event.target_id == str(teacher.pk) and event.actor_id == centre_admin.pk


def test_different_person_creates_a_new_account_and_the_choice_persists(school_a, teacher, centre_admin):
    run = run_sync(school_a, FEED, apply=False)
    newcomer_match_decide(school=school_a, actor=centre_admin, run=run, person_type="staff", mis_code="T9",
                          decision="different")  # fmt: skip
    assert NewcomerMatch.objects.get(school=school_a, mis_code="T9").decision == "different"
    preview = run_sync(school_a, FEED, apply=False)
    assert _record(preview).outcome == "create"
    applied = run_sync(school_a, FEED)
    made = Membership.objects.get(school=school_a, mis_code="T9").account
    assert made.pk != teacher.pk and _record(applied).outcome == "create"


def test_a_different_account_found_later_asks_again(school_a, sibling, teacher, centre_admin):
    run = run_sync(school_a, FEED, apply=False)
    newcomer_match_decide(school=school_a, actor=centre_admin, run=run, person_type="staff", mis_code="T9",
                          decision="same")  # fmt: skip
    teacher.delete()
    member(sibling, username="ann2", given_name="Ann", family_name="Smith", email="ann.smith@trust.org")
    assert _record(run_sync(school_a, FEED, apply=False)).outcome == "skipped"


def test_another_organisations_person_is_never_offered(school_a, school_b):
    """The attacker's view: typing someone's address into a feed must not reveal another trust's people."""
    other = member(school_b, username="b.smith", given_name="Ann", family_name="Smith", email="ann.smith@trust.org")
    run = run_sync(school_a, FEED)
    record = _record(run)
    assert record.outcome == "create" and "b.smith" not in record.reason and "Birch" not in record.reason
    assert Membership.objects.get(school=school_a, mis_code="T9").account_id != other.account_id


def test_same_person_for_another_schools_centre_admin_is_refused(school_a, sibling, nominated_contact):
    boss = member(sibling, "centre_admin", username="cedar.boss", given_name="Ann", family_name="Smith",
                  email="ann.smith@trust.org").account  # fmt: skip
    run = run_sync(school_a, FEED, apply=False)
    with pytest.raises(PermissionDenied):
        newcomer_match_decide(school=school_a, actor=nominated_contact, run=run, person_type="staff", mis_code="T9",
                              decision="same")  # fmt: skip
    assert not NewcomerMatch.objects.exists()
    assert not Membership.objects.filter(school=school_a, account=boss).exists()


def test_a_decision_names_a_held_record_of_the_schools_own_run(school_a, teacher, centre_admin):
    run = run_sync(school_a, FEED, apply=False)
    for code, decision in (("T1", "same"), ("T9", "merge")):
        with pytest.raises(ValidationError):
            newcomer_match_decide(school=school_a, actor=centre_admin, run=run, person_type="staff", mis_code=code,
                                  decision=decision)  # fmt: skip


def test_the_preview_offers_both_choices_and_saves_one(login, school_a, teacher, centre_admin):
    run = run_sync(school_a, FEED, apply=False)
    client = login(centre_admin)
    page = client.get(reverse("sync_run_detail", args=[school_a.slug, run.pk])).content.decode()
    assert "possible match Ann Smith, asmith, Cedar College" in page
    assert "Same person: add a membership at this school" in page
    assert "Different person: create a new account" in page
    url = reverse("sync_match_decide", args=[school_a.slug, run.pk])
    response = client.post(url, {"person_type": "staff", "mis_code": "T9", "decision": "same"}, follow=True)
    assert "Saved for the next runs" in response.content.decode()
    assert NewcomerMatch.objects.get(school=school_a).account_id == teacher.pk


def test_another_schools_admin_cannot_decide(login, school_a, teacher, other_school_admin):
    run = run_sync(school_a, FEED, apply=False)
    url = reverse("sync_match_decide", args=[school_a.slug, run.pk])
    response = login(other_school_admin).post(url, {"person_type": "staff", "mis_code": "T9", "decision": "same"})
    assert response.status_code == 404
    assert not NewcomerMatch.objects.exists()


def test_erasing_the_matched_account_erases_its_name_from_the_held_record(school_a, teacher):
    from provisioning.sync.services import sync_records_erase_for

    run = run_sync(school_a, FEED, apply=False)
    sync_records_erase_for(account=teacher)
    reason = _record(run).reason
    assert "asmith" not in reason and "Ann" not in reason and reason.startswith("Needs a decision")
