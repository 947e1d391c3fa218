"""The registry's tables as the database holds them."""

import pytest
from django.db.models import ProtectedError

from accounts.credentials import starter_code_issue
from accounts.models import Account, ContactLink, Membership, Role, RoleAssignment, StarterCode
from tests.factories import ContactLinkFactory, MembershipFactory, RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def test_deleting_a_school_still_cascades_through_the_unconstrained_links(school_a, school_b):
    """Membership, role, contact link and starter code rows name their school without a database constraint
    (accounts.models): Django's on_delete must still remove them with the school, and leave a home school
    that is gone as none."""
    contact = MembershipFactory(school=school_a, person_type="contact", mis_code="C1")
    pupil = MembershipFactory(school=school_a, person_type="student", mis_code="S1")
    ContactLinkFactory(school=school_a, contact=contact, student=pupil)
    RoleAssignmentFactory(school=school_a, membership=pupil)
    starter_code_issue(school=school_a, account=pupil.account)
    Account.objects.filter(pk=pupil.account_id).update(home_school=school_a)
    kept = MembershipFactory(school=school_b, person_type="student", mis_code="S1")
    RoleAssignmentFactory(school=school_b, membership=kept)

    school_a.delete()

    assert list(Membership.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not ContactLink.objects.exists() and not StarterCode.objects.exists()
    assert list(RoleAssignment.objects.values_list("membership_id", flat=True)) == [kept.pk]
    assert Account.objects.get(pk=pupil.account_id).home_school_id is None


def test_a_role_in_use_is_still_protected(school_a):
    assignment = RoleAssignmentFactory(school=school_a, membership=MembershipFactory(school=school_a))
    with pytest.raises(ProtectedError):
        Role.objects.get(pk=assignment.role_id).delete()
