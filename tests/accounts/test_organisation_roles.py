"""Trust Admin and Trust Viewer (issue 24): organisation roles that open every school of their organisation and
none of another's. A Trust Viewer reads; a Trust Admin reads, and acts as Centre Admin only where the
organisation's setting allows it, under a Centre Admin's per-school rules. Holding one puts an account out of
reach of school roles."""

import pytest
from django.urls import reverse

from accounts.models import Account, AuditEvent, OrganisationRole
from accounts.permissions import TRUST_READ_PERMS, Perm
from accounts.selectors import grantable_roles, permissions_for, schools_of
from tests.factories import MembershipFactory, RoleAssignmentFactory, SchoolFactory, member, trust_role

pytestmark = pytest.mark.django_db

READ_PAGES = ["dashboard", "users_list", "account_manager", "sync_history", "user_summary", "job_list"]
CHANGE_PAGES = ["user_add", "sync_policy", "upload_start", "api_tokens", "signon_school_services"]


@pytest.fixture
def sister(organisation):
    """A second school of school A's organisation."""
    return SchoolFactory(organisation=organisation, name="Ash Primary", slug="ash")


def allow_acting_as_centre_admin(organisation):
    organisation.trust_admins_act_as_centre_admin = True
    organisation.save()


def test_a_trust_role_opens_every_school_of_its_organisation_and_none_of_another(school_a, sister, school_b):
    viewer = trust_role(school_a.organisation, "trust_viewer")
    SchoolFactory(organisation=school_a.organisation, slug="closed", is_active=False)
    assert {s.slug for s in schools_of(viewer)} == {"alder", "ash"}


@pytest.mark.parametrize("role", ["trust_viewer", "trust_admin"])
def test_a_trust_role_reads_every_school_page_and_changes_nothing(client, school_a, sister, role):
    account = trust_role(school_a.organisation, role)
    client.force_login(account)
    for school in (school_a, sister):
        assert permissions_for(school=school, account=account) == TRUST_READ_PERMS
        for page in READ_PAGES:
            assert client.get(reverse(page, kwargs={"school_slug": school.slug})).status_code == 200, page
        for page in CHANGE_PAGES:
            assert client.get(reverse(page, kwargs={"school_slug": school.slug})).status_code == 403, page
    target = member(school_a, "inv", given_name="Before")
    response = client.post(
        reverse("user_edit", kwargs={"school_slug": school_a.slug, "membership_id": target.pk}),
        {"given_name": "After", "family_name": "X", "email": "x@alder.sch.uk"},
    )
    assert response.status_code == 403
    assert Account.objects.get(pk=target.account_id).given_name == "Before"


def test_the_menus_show_only_what_a_trust_viewer_may_open(client, school_a):
    client.force_login(trust_role(school_a.organisation, "trust_viewer"))
    nav = client.get("/s/alder/users/").content.decode().split('aria-label="School menu"')[1].split("</nav>")[0]
    assert "Users" in nav and "Account Manager" in nav and "Sync history" in nav and "User Summary" in nav
    assert "Bulk User Synchronise" not in nav and "API tokens" not in nav and "Connected services" not in nav
    member(school_a, "inv", username="some.inv")
    users = client.get("/s/alder/users/").content.decode()
    assert "some.inv" in users and "Edit some.inv" not in users and "+Add" not in users


def test_a_trust_admin_acts_as_centre_admin_only_where_the_organisation_allows(client, school_a, sister, school_b):
    admin = trust_role(school_a.organisation, "trust_admin")
    assert "centre_admin" not in grantable_roles(school=school_a, account=admin)
    allow_acting_as_centre_admin(school_a.organisation)

    perms = permissions_for(school=school_a, account=admin)
    assert Perm.USERS_DELETE in perms and Perm.SYNC_MANAGE in perms and Perm.USERS_EDIT_EMAIL in perms
    assert Perm.ASSESSMENTS_TAKE not in perms and Perm.API_TOKENS_MANAGE not in perms
    assert "centre_admin" in grantable_roles(school=sister, account=admin)
    assert permissions_for(school=school_b, account=admin) == frozenset()
    client.force_login(admin)
    assert client.get(reverse("sync_policy", kwargs={"school_slug": "ash"})).status_code == 200
    assert client.get(reverse("dashboard", kwargs={"school_slug": school_b.slug})).status_code == 404


def _edit(client, school, membership, **data):
    account = Account.objects.get(pk=membership.account_id)
    form = {
        "given_name": account.given_name,
        "family_name": account.family_name,
        "email": account.email,
        "mis_code": membership.mis_code,
        "approved": "on",
        "roles": [ra.role_id for ra in membership.role_assignments.all()],
        "password_method": "",
    }
    form.update(data)
    return client.post(reverse("user_edit", kwargs={"school_slug": school.slug, "membership_id": membership.pk}), form)


def test_a_trust_admin_acting_as_centre_admin_follows_the_per_school_rules(client, school_a, sister, school_b):
    allow_acting_as_centre_admin(school_a.organisation)
    admin = trust_role(school_a.organisation, "trust_admin")
    client.force_login(admin)
    # A Centre Admin at a sister school of the same organisation: within reach (Centre Admin there too).
    sister_admin = member(school_a, "eo", username="both.schools")
    at_sister = MembershipFactory(school=sister, account=sister_admin.account)
    RoleAssignmentFactory(membership=at_sister, role_id="centre_admin")
    _edit(client, school_a, sister_admin, password_method="set", password="fresh-pass-1", password2="fresh-pass-1")
    assert Account.objects.get(pk=sister_admin.account_id).check_password("fresh-pass-1")
    # A Centre Admin of another organisation's school, also a member here: out of reach.
    foreign = member(school_a, "inv", username="foreign.admin")
    RoleAssignmentFactory(
        membership=MembershipFactory(school=school_b, account=foreign.account), role_id="centre_admin"
    )
    response = _edit(
        client, school_a, foreign, password_method="set", password="fresh-pass-1", password2="fresh-pass-1"
    )
    assert not Account.objects.get(pk=foreign.account_id).check_password("fresh-pass-1")
    assert response.status_code in (200, 403)


def test_a_trust_role_holder_is_out_of_reach_of_school_roles(client, school_a):
    """Taking over a Trust Viewer's account would open every school of the trust to a school's Centre Admin."""
    centre_admin = member(school_a, "centre_admin").account
    holder = member(school_a, "teacher_security", username="also.viewer")
    OrganisationRole.objects.create(organisation=school_a.organisation, account=holder.account, role="trust_viewer")
    client.force_login(centre_admin)
    response = _edit(client, school_a, holder, password_method="set", password="fresh-pass-1", password2="fresh-pass-1")
    assert not Account.objects.get(pk=holder.account_id).check_password("fresh-pass-1")
    assert "Trust Viewer" in response.content.decode()


def test_a_trust_admin_acting_as_centre_admin_may_act_on_its_trust_viewers_but_not_its_trust_admins(client, school_a):
    from accounts.permissions import AccountAction
    from accounts.services import Actor, may_act_on_account

    allow_acting_as_centre_admin(school_a.organisation)
    admin = trust_role(school_a.organisation, "trust_admin")
    viewer = member(school_a, "inv", username="a.viewer").account
    OrganisationRole.objects.create(organisation=school_a.organisation, account=viewer, role="trust_viewer")
    other_admin = member(school_a, "inv", username="b.admin").account
    OrganisationRole.objects.create(organisation=school_a.organisation, account=other_admin, role="trust_admin")
    actor = Actor(account=admin, school=school_a)
    assert may_act_on_account(actor=actor, account=viewer, action=AccountAction.PASSWORD)
    assert not may_act_on_account(actor=actor, account=other_admin, action=AccountAction.PASSWORD)


def test_support_grants_a_trust_role_in_the_support_admin_audited(login, support_user, school_a):
    person = member(school_a, "eo", username="to.be.admin").account
    client = login(support_user)
    data = {"organisation": str(school_a.organisation.pk), "account": str(person.pk), "role": "trust_admin"}
    assert client.post(reverse("admin:accounts_organisationrole_add"), data).status_code == 302
    held = OrganisationRole.objects.get(account=person)
    assert held.role == "trust_admin" and held.granted_by == support_user
    event = AuditEvent.objects.get(action="accounts.organisation_role.granted")
    assert event.target_id == str(person.pk) and event.changes["organisation_role"] == [None, "Trust Admin"]
    client.post(reverse("admin:accounts_organisationrole_delete", args=[held.pk]), {"post": "yes"})
    assert not OrganisationRole.objects.filter(account=person).exists()
    assert AuditEvent.objects.filter(action="accounts.organisation_role.revoked").exists()


def test_the_organisation_setting_is_changed_by_support_audited(login, support_user, organisation):
    client = login(support_user)
    url = reverse("admin:tenancy_organisation_change", args=[organisation.pk])
    data = {
        "name": organisation.name,
        "slug": organisation.slug,
        "kind": "trust",
        "trust_admins_act_as_centre_admin": "on",
    }
    assert client.post(url, data).status_code == 302
    organisation.refresh_from_db()
    assert organisation.trust_admins_act_as_centre_admin
    event = AuditEvent.objects.get(action="admin.organisation.changed")
    assert event.changes["trust_admins_act_as_centre_admin"] == [False, True]


def test_erasing_an_account_takes_its_trust_role_away(school_a):
    from accounts.services import Actor, account_delete

    holder = member(school_a, "inv", username="leaving.viewer")
    OrganisationRole.objects.create(organisation=school_a.organisation, account=holder.account, role="trust_viewer")
    account_delete(school=school_a, account=holder.account, membership=holder, actor=Actor(account=None))
    assert not OrganisationRole.objects.filter(account_id=holder.account_id).exists()


def test_a_token_of_a_trust_admin_acts_as_its_roles_only(school_a):
    from accounts.selectors import token_scope

    allow_acting_as_centre_admin(school_a.organisation)
    admin = trust_role(school_a.organisation, "trust_admin")

    class Token:
        account_id, school_id, role_codes = admin.pk, school_a.pk, ["mis_agent"]

    with token_scope(Token):
        assert permissions_for(school=school_a, account=admin) == {Perm.FEEDS_PUSH}
