"""The one rule for acting on an account (accounts.services.authority), beyond the role matrix
(test_authority_matrix): support staff, jobs acting as the system, your own account, no school."""

import pytest

from accounts.permissions import AccountAction
from accounts.services import Actor, may_act_on_account
from tenancy.models import Job
from tests.accounts.users_helpers import person
from tests.factories import MembershipFactory, RoleAssignmentFactory


@pytest.fixture
def admin_elsewhere(school_a, school_b):
    """Staff here with no role, Centre Admin at Birch: one account, two schools."""
    account = person(school_a, username="shared").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=account), role_id="centre_admin")
    return account


@pytest.mark.parametrize("action", list(AccountAction))
def test_support_staff_may_act_on_anyone(support_user, admin_elsewhere, school_a, action):
    for actor in (Actor(account=support_user), Actor(account=support_user, school=school_a)):
        assert may_act_on_account(actor=actor, account=admin_elsewhere, action=action)


def test_a_job_acting_as_the_system_keeps_its_own_rule(eo_user, admin_elsewhere, school_a):
    job = Job.objects.create(school=school_a, kind=Job.Kind.SYNC)
    system = Actor(account=None, school=school_a)
    as_job = Actor(account=eo_user, school=school_a, job=job)
    for actor in (system, as_job):
        assert may_act_on_account(actor=actor, account=admin_elsewhere, action=AccountAction.STARTER_CODE)
    assert not may_act_on_account(
        actor=Actor(account=eo_user, school=school_a), account=admin_elsewhere, action=AccountAction.STARTER_CODE
    )


def test_your_own_account_is_yours_but_a_centre_admin_never_changes_their_own_email(
    school_a, nominated_contact, centre_admin
):
    mine = Actor(account=nominated_contact, school=school_a)
    assert may_act_on_account(actor=mine, account=nominated_contact, action=AccountAction.PASSWORD)
    own_email = Actor(account=centre_admin, school=school_a)
    assert not may_act_on_account(actor=own_email, account=centre_admin, action=AccountAction.EMAIL)


def test_someone_acting_at_no_school_acts_on_nobody_with_a_role(eo_user, school_a):
    parent = person(school_a, "inv", username="an.inv").account
    assert may_act_on_account(actor=Actor(account=eo_user, school=school_a), account=parent, action="details")
    assert not may_act_on_account(actor=Actor(account=eo_user), account=parent, action=AccountAction.DETAILS)
