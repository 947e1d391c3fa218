"""The leaver policy's erase timer: it removes the membership it is about, and erases the account only when
the person holds no other live membership anywhere (this school included)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, AuditEvent, Membership, RoleAssignment
from provisioning.sync.leavers import leaver_timers
from provisioning.sync.policy import policy_for
from tests.factories import MembershipFactory, member

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _erasing(school, person_type, days=30):
    policy = policy_for(school)
    setattr(policy, f"{person_type}_erase_days", days)
    policy.save()


def _archived(school, account, person_type):
    return MembershipFactory(
        school=school, account=account, person_type=person_type, status=Membership.Status.ARCHIVED,
        archived_on=TODAY - timedelta(days=100), left_on=TODAY - timedelta(days=120),
    )  # fmt: skip


# A teacher, and the school's only Centre Admin (whose erasure was refused, stopping the night's work).
@pytest.mark.parametrize("role", ["eo", "centre_admin"])
def test_an_archived_contact_who_is_live_staff_at_the_same_school_keeps_account_and_staff_membership(school_a, role):
    staff = member(school_a, role, username="ca.alder")
    if role != "centre_admin":
        member(school_a, "centre_admin")
    contact = _archived(school_a, staff.account, "contact")
    _erasing(school_a, "contact")

    assert leaver_timers(school=school_a, today=TODAY) == {"archived": 0, "erased": 0}

    account = Account.objects.get(pk=staff.account_id)
    assert account.deleted_at is None and account.is_active and account.username == "ca.alder"
    staff.refresh_from_db()
    assert staff.status == Membership.Status.ACTIVE and staff.mis_code
    assert RoleAssignment.objects.filter(membership=staff, role_id=role).exists()
    assert not Membership.objects.filter(pk=contact.pk).exists()


def test_a_leaver_at_one_school_who_is_a_student_at_another_keeps_the_account(school_a, school_b):
    pupil = member(school_a, "student_portal", person_type="student")
    leaver = _archived(school_b, pupil.account, "student")
    _erasing(school_b, "student")

    assert leaver_timers(school=school_b, today=TODAY)["erased"] == 0

    assert Account.objects.get(pk=pupil.account_id).deleted_at is None
    pupil.refresh_from_db()
    assert pupil.status == Membership.Status.ACTIVE and pupil.mis_code
    assert not Membership.objects.filter(pk=leaver.pk).exists()


def test_a_contact_archived_at_one_school_and_live_at_another_keeps_the_account(school_a, school_b):
    live = member(school_b, "parent", person_type="contact")
    gone = _archived(school_a, live.account, "contact")
    _erasing(school_a, "contact")

    assert leaver_timers(school=school_a, today=TODAY)["erased"] == 0

    assert Account.objects.get(pk=live.account_id).deleted_at is None
    assert Membership.objects.get(pk=live.pk).status == Membership.Status.ACTIVE
    assert not Membership.objects.filter(pk=gone.pk).exists()


def test_a_leaver_whose_only_membership_is_due_is_erased(school_a):
    leaver = MembershipFactory(
        school=school_a, person_type="student", status=Membership.Status.ARCHIVED,
        archived_on=TODAY - timedelta(days=100),
    )  # fmt: skip
    _erasing(school_a, "student")

    assert leaver_timers(school=school_a, today=TODAY)["erased"] == 1

    account = Account.objects.get(pk=leaver.account_id)
    assert account.deleted_at is not None and not account.is_active and account.family_name == ""


def test_a_membership_the_timer_removed_is_not_removed_again_the_next_night(school_a, school_b):
    live = member(school_b, "parent", person_type="contact")
    _archived(school_a, live.account, "contact")
    _erasing(school_a, "contact")
    leaver_timers(school=school_a, today=TODAY)
    removed = AuditEvent.objects.filter(action="accounts.membership.removed", target_id=str(live.account_id))
    assert removed.count() == 1

    leaver_timers(school=school_a, today=TODAY + timedelta(days=1))

    assert removed.count() == 1


def test_a_person_with_two_due_memberships_is_erased_once(school_a):
    first = MembershipFactory(
        school=school_a, person_type="staff", status=Membership.Status.ARCHIVED, archived_on=TODAY - timedelta(days=100)
    )
    _archived(school_a, first.account, "contact")
    _erasing(school_a, "staff")
    _erasing(school_a, "contact")

    assert leaver_timers(school=school_a, today=TODAY)["erased"] == 1

    deleted = AuditEvent.objects.filter(action="accounts.account.deleted", target_id=str(first.account_id))
    assert deleted.count() == 1
