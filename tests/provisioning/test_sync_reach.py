"""The MIS sync changes only people within its reach (accounts.services.sync_out_of_reach).

Found by an outside test: a Nominated Contact pushed a feed that renamed the trust's Centre Admin and gave them
the Nominated Contact's own email, then took the account over through a password reset. A sync acts for the
school with no person's grant, so it leaves alone anyone holding an administrator's role its policy does not
give here, or any administrator's role at another school; and it never transfers such a person in."""

import pytest

from accounts.models import Account, Membership
from provisioning.models import SyncRecord
from tests.factories import MembershipFactory, RoleAssignmentFactory, member
from tests.provisioning.sync_helpers import contact, feed_zip, run_sync, staff

pytestmark = pytest.mark.django_db


def _staff_member(school, code, role, **account):
    membership = member(school, role, **account)
    Membership.objects.filter(pk=membership.pk).update(mis_code=code)
    return membership.account


def _record(run, code):
    return SyncRecord.objects.get(run=run, mis_code=code)


@pytest.mark.parametrize("role", ["centre_admin", "nominated_contact", "admin_security", "eo", "slt"])
def test_a_feed_cannot_rename_or_re_email_someone_holding_a_role_the_policy_does_not_give(school_a, role):
    admin = _staff_member(school_a, "T1", role, username="the.admin", email="admin@alder.sch.uk")
    feed = feed_zip(staff_rows=[staff("T1", "Evil", "Owner", email="attacker@alder.sch.uk")])
    run = run_sync(school_a, feed, username_method="first_last")
    record = _record(run, "T1")
    assert record.outcome == "skipped" and "may not change" in record.reason
    admin.refresh_from_db()
    assert (admin.username, admin.email, admin.given_name) == ("the.admin", "admin@alder.sch.uk", admin.given_name)
    assert admin.email != "attacker@alder.sch.uk"


def test_a_full_feed_without_the_centre_admin_does_not_archive_them(school_a):
    _staff_member(school_a, "T1", "centre_admin", username="the.admin")
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T2")]))
    record = _record(run, "T1")
    assert record.outcome == "skipped" and "may not change" in record.reason
    assert Membership.objects.get(school=school_a, mis_code="T1").status == "active"


def test_someone_whose_role_the_policy_gives_is_kept_up_to_date(school_a):
    teacher = _staff_member(school_a, "T1", "eo", username="t.one", email="t1@alder.sch.uk")
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T1", "Tess", "Newname")]), staff_roles=["eo"])
    assert _record(run, "T1").outcome == "update"
    teacher.refresh_from_db()
    assert teacher.family_name == "Newname"


def test_roles_for_their_holder_only_never_stop_the_sync(school_a):
    teacher = _staff_member(school_a, "T1", "teacher_security", username="t.one")
    RoleAssignmentFactory(membership=teacher.memberships.get(), role_id="inv")
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T1", "Tess", "Newname")]))
    assert _record(run, "T1").outcome == "update"


def test_an_administrator_elsewhere_keeps_their_account_but_their_membership_here_follows_the_mis(school_a, school_b):
    """A Centre Admin at Birch who is a parent here: their contact membership here follows the MIS, their
    account (names, email) stays theirs (Birch runs it: a sync never changes another school's account)."""
    parent = member(school_b, "centre_admin", username="birch.admin", given_name="Bea").account
    here = MembershipFactory(school=school_a, account=parent, person_type="contact", mis_code="C1", portal_access=True)
    RoleAssignmentFactory(membership=here, role_id="parent")
    run = run_sync(school_a, feed_zip(contacts=[contact("C1", "Bea", Account.objects.get(pk=parent.pk).family_name,
                                                        portal="no")]))  # fmt: skip
    assert _record(run, "C1").outcome == "update"
    here.refresh_from_db()
    assert here.portal_access is False
    run_sync(school_a, feed_zip(contacts=[contact("C1", "Evil", "Owner", portal="no")]))
    assert Account.objects.get(pk=parent.pk).given_name == "Bea"


def test_another_schools_administrator_is_never_transferred_in_by_email(school_a, school_b):
    admin = member(school_b, "centre_admin", username="birch.admin", email="admin@birch.sch.uk").account
    Account.objects.filter(pk=admin.pk).update(email_verified=True)
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T9", email="admin@birch.sch.uk")]))
    record = _record(run, "T9")
    assert record.outcome == "skipped" and "not transferred" in record.reason
    assert Membership.objects.get(school=school_b, account=admin).status == "active"
    assert not Membership.objects.filter(school=school_a, account=admin).exists()


def test_a_plan_made_before_someone_became_an_administrator_elsewhere_is_stale(school_a, school_b):
    """Found by an outside test: an email change planned for an invigilator, who was then made Centre Admin at
    another school, was applied from the old plan and the account taken over through a password reset."""
    from provisioning.sync import services
    from provisioning.sync.services import SyncRefused

    teacher = _staff_member(school_a, "T1", "teacher_security", username="t.one", email="t1@alder.sch.uk")
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T1", email="attacker@alder.sch.uk")]), apply=False)
    assert _record(run, "T1").outcome == "update"
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=teacher), role_id="centre_admin")
    with pytest.raises(SyncRefused, match="given an administrator's role since"):
        services.sync_apply(run=run)
    teacher.refresh_from_db()
    assert teacher.email == "t1@alder.sch.uk"
