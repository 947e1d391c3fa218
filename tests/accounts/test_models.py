"""The registry's tables as the database holds them."""

import pytest
from django.db import connection
from django.db.models import ProtectedError

from accounts.credentials import starter_code_issue
from accounts.models import Account, ContactLink, Membership, Role, RoleAssignment, StarterCode
from tests.factories import AccountFactory, ContactLinkFactory, MembershipFactory, RoleAssignmentFactory

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


@pytest.mark.parametrize("field", ["username", "email"])
def test_iexact_on_username_and_email_lowers_both_sides(field):
    """So PostgreSQL can use the lower() indexes (a sign-in by username or email, allauth's too)."""
    AccountFactory(username="MixedCase", email="Mixed.Case@Example.org")
    value = {"username": "mIXEDcASE", "email": "mixed.case@EXAMPLE.ORG"}[field]
    queryset = Account.objects.filter(**{f"{field}__iexact": value})

    assert queryset.count() == 1
    assert f'LOWER("accounts_account"."{field}") = LOWER(' in str(queryset.query)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the lower() indexes are PostgreSQL's plan to use")
def test_a_sign_in_look_up_uses_the_username_index():
    AccountFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a three-row table would be read whole otherwise
        sql, params = Account.objects.filter(username__iexact="SomeOne").query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "account_username_ci_unique" in plan
