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


# --- Authority is per school: a Centre Admin of one school is nobody at another ----------------------


def test_a_centre_admin_of_one_school_cannot_take_over_another_schools_centre_admin(
    login, school_a, school_b, centre_admin
):
    """Found by trying it: the other school's Centre Admin, added here as a member with no role (upload's
    'add existing person'), was given a starter code by this school's Centre Admin, who then held both."""
    from accounts.models import StarterCode
    from tests.accounts.test_users_edit import _form, _url

    theirs = person(school_b, "centre_admin", username="their.admin").account
    here = MembershipFactory(school=school_a, account=theirs, person_type="staff")
    assert not may_act_on_account(
        actor=Actor(account=centre_admin, school=school_a), account=theirs, action=AccountAction.STARTER_CODE
    )
    response = login(centre_admin).post(_url(here), _form(here, password_method="starter_code"))
    assert b"<code>" not in response.content
    assert not StarterCode.objects.filter(account=theirs).exists()


def test_a_centre_admin_at_both_schools_may_act_on_the_other_schools_centre_admin(school_a, school_b, centre_admin):
    theirs = person(school_b, "centre_admin", username="their.admin").account
    MembershipFactory(school=school_a, account=theirs, person_type="staff")
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=centre_admin), role_id="centre_admin")
    actor = Actor(account=centre_admin, school=school_a)
    assert may_act_on_account(actor=actor, account=theirs, action=AccountAction.STARTER_CODE)


@pytest.mark.parametrize("elsewhere", ["parent", "student_portal", "teacher_security"])
def test_a_role_that_opens_nothing_at_another_school_keeps_the_person_reachable(
    school_a, school_b, nominated_contact, elsewhere
):
    """A parent with children at two schools of a trust: each school's Nominated Contact can still send
    them a Welcome Email or a new starter code."""
    shared = person(school_a, "parent", person_type="contact", username="two.schools").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=shared), role_id=elsewhere)
    actor = Actor(account=nominated_contact, school=school_a)
    assert may_act_on_account(actor=actor, account=shared, action=AccountAction.LINK)


@pytest.mark.parametrize("elsewhere", ["eo", "slt", "nominated_contact", "admin_level_one"])
def test_a_role_that_opens_something_at_another_school_needs_the_actors_rights_there(
    school_a, school_b, centre_admin, elsewhere
):
    shared = person(school_a, "teacher_security", username="two.schools").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=shared), role_id=elsewhere)
    actor = Actor(account=centre_admin, school=school_a)
    assert not may_act_on_account(actor=actor, account=shared, action=AccountAction.PASSWORD)


def test_the_edit_page_offers_no_password_choice_out_of_reach_and_refuses_a_posted_one(
    login, school_a, school_b, nominated_contact, centre_admin
):
    """Found by trying it: a posted starter code or lock for an account out of reach said "saved"."""
    from tests.accounts.test_users_edit import _form, _url

    target = centre_admin.memberships.get(school=school_a)
    client = login(nominated_contact)
    page = client.get(_url(target))
    assert b'name="password_method"' not in page.content
    for change in ({"password_method": "starter_code"}, {"locked_out": "on"}, {"given_name": "Evil"}):
        response = client.post(_url(target), {**_form(target), **change})
        assert response.status_code == 200 and b"was saved" not in response.content
        assert b"may not grant" in response.content
    centre_admin.refresh_from_db()
    assert not centre_admin.locked_out and centre_admin.given_name != "Evil"


def test_an_invigilator_at_two_schools_stays_reachable_by_each_schools_exams_officer(school_a, school_b, eo_user):
    shared = person(school_a, "inv", username="two.schools").account
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=shared), role_id="inv")
    actor = Actor(account=eo_user, school=school_a)
    assert may_act_on_account(actor=actor, account=shared, action=AccountAction.LINK)
    assert may_act_on_account(actor=actor, account=shared, action=AccountAction.ROLES)


@pytest.mark.parametrize("elsewhere", [None, "parent", "teacher_security"])
@pytest.mark.parametrize(
    "action", [AccountAction.STARTER_CODE, AccountAction.PASSWORD, AccountAction.EMAIL, AccountAction.DETAILS]
)
def test_a_credential_or_account_wide_change_needs_rights_at_every_school_the_person_is_in(
    school_a, school_b, centre_admin, elsewhere, action
):
    """Found by trying it: another school's parent and teacher, added here by upload ('add existing person',
    by username and email), were taken over with starter codes. A set-password link (to their own email)
    stays possible; anything that shows a credential to the actor or changes the account everywhere needs
    rights at each school they belong to."""
    shared = person(school_a, "teacher_security", username="two.schools").account
    there = MembershipFactory(school=school_b, account=shared)
    if elsewhere:
        RoleAssignmentFactory(membership=there, role_id=elsewhere)
    actor = Actor(account=centre_admin, school=school_a)
    assert not may_act_on_account(actor=actor, account=shared, action=action)
    assert may_act_on_account(actor=actor, account=shared, action=AccountAction.LINK)
    RoleAssignmentFactory(membership=MembershipFactory(school=school_b, account=centre_admin), role_id="centre_admin")
    assert may_act_on_account(actor=actor, account=shared, action=action)
