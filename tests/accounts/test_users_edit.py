"""Edit: names, flags, roles, password reset; the email rule (Centre Admin only, never their own)."""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core import mail

from accounts.models import Account, RoleAssignment, StarterCode
from tests.accounts.users_helpers import person


@pytest.fixture
def teacher(school_a):
    return person(
        school_a,
        "slt",
        username="t.teacher",
        given_name="Tess",
        family_name="Teacher",
        email="tess@alder.sch.uk",
        mis_code="T100",
    )


def _url(membership):
    return f"/s/alder/users/{membership.pk}/edit/"


def _form(membership, **overrides):
    account = membership.account
    data = {
        "given_name": account.given_name,
        "family_name": account.family_name,
        "email": account.email,
        "mis_code": membership.mis_code,
        "year_group": membership.year_group,
        "approved": "on" if account.approved else None,
        "locked_out": "on" if account.locked_out else None,
        "override_network_auth": "on" if account.override_network_auth else None,
        "roles": list(membership.role_assignments.values_list("role_id", flat=True)),
        "password_method": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_changes_names_flags_mis_code_and_roles(login, centre_admin, teacher):
    response = login(centre_admin).post(
        _url(teacher),
        _form(
            teacher,
            given_name="Tessa",
            locked_out="on",
            override_network_auth="on",
            mis_code="T101",
            roles=["eo", "inv"],
        ),
    )
    assert response.status_code == 302
    account = Account.objects.get(pk=teacher.account.pk)
    assert (account.given_name, account.locked_out, account.override_network_auth) == ("Tessa", True, True)
    teacher.refresh_from_db()
    assert teacher.mis_code == "T101"
    assert set(RoleAssignment.objects.filter(membership=teacher).values_list("role_id", flat=True)) == {"eo", "inv"}


def test_a_centre_admin_changes_another_persons_email(login, centre_admin, teacher):
    login(centre_admin).post(_url(teacher), _form(teacher, email="tess.new@alder.sch.uk"))
    assert Account.objects.get(pk=teacher.account.pk).email == "tess.new@alder.sch.uk"


def test_an_eo_cannot_change_an_email_and_is_told_why(login, eo_user, teacher):
    client = login(eo_user)
    page = client.get(_url(teacher)).content.decode()
    assert re.search(r'name="email"[^>]*readonly', page)
    assert "Only a Centre Admin can change an email address." in page
    refused = client.post(_url(teacher), _form(teacher, email="elsewhere@alder.sch.uk", given_name="Changed"))
    assert refused.status_code == 200
    assert "Only a Centre Admin can change an email address." in refused.context["form"].errors["email"]
    account = Account.objects.get(pk=teacher.account.pk)
    assert (account.email, account.given_name) == ("tess@alder.sch.uk", "Tess")  # nothing half-saved


def test_an_eo_edits_names_without_touching_the_email(login, eo_user, teacher):
    assert login(eo_user).post(_url(teacher), _form(teacher, family_name="Teach")).status_code == 302
    assert Account.objects.get(pk=teacher.account.pk).family_name == "Teach"


def test_a_nominated_contact_edits_but_not_the_email(login, nominated_contact, school_a):
    staff = person(school_a, "teacher_security", username="t.sec", email="tsec@alder.sch.uk")
    client = login(nominated_contact)
    assert client.post(_url(staff), _form(staff, given_name="Tee")).status_code == 302
    assert Account.objects.get(pk=staff.account_id).given_name == "Tee"
    refused = client.post(_url(staff), _form(staff, email="x@alder.sch.uk"))
    assert refused.context["form"].errors["email"]


def test_a_nominated_contact_sees_but_cannot_change_someone_holding_a_role_they_may_not_grant(
    login, nominated_contact, teacher
):
    """SLT is not a role a Nominated Contact may grant: the account is shown with the reason, not changed;
    the school's MIS code stays editable."""
    client = login(nominated_contact)
    page = client.get(_url(teacher)).content.decode()
    assert "holds roles you may not grant (Senior Leadership)" in page
    # A change to what is out of reach, posted anyway, is refused with the reason (not "saved" and ignored).
    posted = _form(teacher, given_name="Tee", mis_code="T200", password_method="starter_code", roles=[])
    assert client.post(_url(teacher), posted).status_code == 200
    assert client.post(_url(teacher), _form(teacher, mis_code="T200", roles=[])).status_code == 302
    teacher.refresh_from_db()
    assert teacher.account.given_name == "Tess" and teacher.mis_code == "T200"
    assert teacher.role_assignments.filter(role_id="slt").exists()
    assert not StarterCode.objects.filter(account=teacher.account).exists()


def test_a_centre_admin_cannot_change_their_own_email(login, centre_admin, school_a):
    own = centre_admin.memberships.get(school=school_a)
    response = login(centre_admin).post(_url(own), _form(own, email="me@alder.sch.uk"))
    assert response.status_code == 200
    assert "cannot change their own email" in response.context["form"].errors["email"][0]
    assert Account.objects.get(pk=centre_admin.pk).email != "me@alder.sch.uk"


def test_an_eo_cannot_approve_or_unapprove(login, eo_user, teacher):
    page = login(eo_user).post(_url(teacher), _form(teacher, approved=None))
    assert page.status_code == 302  # the disabled box keeps its value
    assert Account.objects.get(pk=teacher.account.pk).approved


def test_a_nominated_contact_approves(login, nominated_contact, school_a):
    staff = person(school_a, "teacher_security", username="t.sec", approved=False)
    login(nominated_contact).post(_url(staff), _form(staff, approved="on"))
    assert Account.objects.get(pk=staff.account_id).approved


def test_roles_the_editor_may_not_grant_stay_as_they_are(login, eo_user, school_a):
    """An EO may not grant Parent, so they may not act on a parent's account at all: its roles stay."""
    contact = person(school_a, "parent", "slt", person_type="contact", username="par.ent")
    page = login(eo_user).get(_url(contact))
    assert sorted(c for c, _ in page.context["form"].fields["roles"].choices) == ["eo", "inv", "slt"]
    assert page.context["form"].fields["roles"].disabled
    login(eo_user).post(_url(contact), _form(contact, roles=["inv"]))
    assert set(contact.role_assignments.values_list("role_id", flat=True)) == {"parent", "slt"}


def test_removing_the_last_centre_admin_role_is_refused(login, centre_admin, school_a):
    own = centre_admin.memberships.get(school=school_a)
    response = login(centre_admin).post(_url(own), _form(own, roles=["eo"]))
    assert response.status_code == 200
    assert "last Centre Admin" in str(response.context["form"].errors)
    assert own.role_assignments.filter(role_id="centre_admin").exists()


def test_a_password_reset_sets_one_that_must_be_changed(login, eo_user, teacher):
    login(eo_user).post(
        _url(teacher),
        _form(teacher, password_method="set", password="fresh-passphrase-1", password2="fresh-passphrase-1"),
    )
    account = Account.objects.get(pk=teacher.account.pk)
    assert account.check_password("fresh-passphrase-1") and account.must_change_password


def test_a_password_reset_can_issue_a_starter_code(login, eo_user, teacher):
    response = login(eo_user).post(_url(teacher), _form(teacher, password_method="starter_code"))
    assert re.search(r"<code>[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}</code>", response.content.decode())
    assert StarterCode.objects.filter(account=teacher.account, revoked_at__isnull=True).count() == 1


def test_a_password_reset_can_email_a_link(login, eo_user, teacher, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        login(eo_user).post(_url(teacher), _form(teacher, password_method="link"))
    assert len(mail.outbox) == 1 and "/welcome/" in mail.outbox[0].body


def test_the_edit_page_shows_linked_sign_ins(login, centre_admin, teacher):
    SocialAccount.objects.create(user=teacher.account, provider="google", uid="tess-g")
    assert "Google" in login(centre_admin).get(_url(teacher)).content.decode()


def test_another_schools_person_is_not_found(login, centre_admin, school_b):
    elsewhere = person(school_b, username="birch.person")
    assert login(centre_admin).get(_url(elsewhere)).status_code == 404


def test_an_slt_user_cannot_edit(login, school_a, teacher):
    slt = person(school_a, "slt", username="slt.only").account
    assert login(slt).get(_url(teacher)).status_code == 403


def test_an_eo_cannot_lock_out_or_unapprove_a_centre_admin(school_a, centre_admin, eo_user, nominated_contact):
    from django.core.exceptions import PermissionDenied

    from accounts.services import Actor, account_update

    for editor in (eo_user, nominated_contact):
        with pytest.raises(PermissionDenied, match="roles you may not grant"):
            account_update(
                actor=Actor(account=editor, school=school_a), account=centre_admin, school=school_a, locked_out=True
            )
    centre_admin.refresh_from_db()
    assert centre_admin.locked_out is False
    from tests.factories import member

    colleague = member(school_a, "centre_admin").account
    account_update(
        actor=Actor(account=colleague, school=school_a), account=centre_admin, school=school_a, locked_out=True
    )
    centre_admin.refresh_from_db()
    assert centre_admin.locked_out is True


def test_the_rule_names_the_accounts_out_of_reach_of_many_in_three_queries(
    school_a, school_b, centre_admin, eo_user, support_user, teacher, django_assert_max_num_queries
):
    from accounts.services import Actor, accounts_out_of_reach
    from tests.factories import MembershipFactory, RoleAssignmentFactory

    parent_elsewhere = person(school_a, username="p.shared").account  # staff here, a parent at Birch
    RoleAssignmentFactory(
        membership=MembershipFactory(school=school_b, account=parent_elsewhere, person_type="contact"), role_id="parent"
    )
    ids = {centre_admin.pk, teacher.account_id, eo_user.pk, parent_elsewhere.pk}
    # The actor's roles at every school, the actor's organisation roles (Trust Admin acts at its schools), and the
    # accounts' roles at schools and over organisations (one query per 5,000 accounts).
    with django_assert_max_num_queries(3):
        out = accounts_out_of_reach(actor=Actor(account=eo_user, school=school_a), account_ids=ids)
    assert out == {centre_admin.pk: {"centre_admin"}, parent_elsewhere.pk: {"parent"}}
    colleague = person(school_a, "centre_admin", username="ca.colleague").account
    for actor in (Actor(account=colleague, school=school_a), Actor(account=support_user, school=school_a)):
        assert not accounts_out_of_reach(actor=actor, account_ids=ids)
