"""Delete: Centre Admin only, type DELETE, irreversible, personal data erased, audit kept."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.exceptions import ValidationError

from accounts.credentials import set_password_link_issue, starter_code_issue
from accounts.models import Account, AuditEvent, Membership, RoleAssignment, SetPasswordLink, StarterCode
from accounts.services import Actor, account_create, account_delete
from provisioning.models import SyncRecord, SyncRun
from tests.accounts.users_helpers import person
from tests.factories import PASSWORD, MembershipFactory


@pytest.fixture
def leaver(school_a):
    return person(
        school_a,
        "eo",
        username="leaver",
        given_name="Lee",
        family_name="Ver",
        email="lee@alder.sch.uk",
        mis_code="T500",
        upn="",
    )


def _url(membership):
    return f"/s/alder/users/{membership.pk}/delete/"


def test_the_confirmation_page_asks_for_delete_and_confirm(login, centre_admin, leaver):
    html = login(centre_admin).get(_url(leaver)).content.decode()
    assert "Please write &#x27;DELETE&#x27; in the below textbox to delete an account" in html or (
        "Please write 'DELETE' in the below textbox" in html
    )
    assert ">Confirm</button>" in html


@pytest.mark.parametrize("typed", ["", "delete", "DEL", "yes"])
def test_nothing_is_deleted_unless_delete_is_typed(login, centre_admin, leaver, typed):
    response = login(centre_admin).post(_url(leaver), {"confirm": typed})
    assert response.status_code == 200
    assert Account.objects.get(pk=leaver.account.pk).deleted_at is None


def test_a_deleted_account_is_erased_and_can_never_sign_in(login, centre_admin, leaver, school_a, client):
    account = leaver.account
    SocialAccount.objects.create(user=account, provider="microsoft", uid="lee-ms")
    starter_code_issue(school=school_a, account=account)
    set_password_link_issue(school=school_a, account=account, purpose="welcome")
    response = login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.deleted_at is not None and not account.is_active and not account.has_usable_password()
    assert (account.given_name, account.family_name, account.email, account.upn) == ("", "", "", "")
    assert account.username != "leaver"
    assert not SocialAccount.objects.filter(user=account).exists()
    assert not StarterCode.objects.filter(account=account, revoked_at__isnull=True).exists()
    assert not SetPasswordLink.objects.filter(account=account, revoked_at__isnull=True).exists()
    membership = Membership.objects.get(pk=leaver.pk)
    assert membership.status == "archived" and membership.mis_code == ""
    assert not RoleAssignment.objects.filter(membership=membership).exists()
    client.logout()
    for login_name in ["leaver", "lee@alder.sch.uk", account.username]:
        client.post("/accounts/login/", {"login": login_name, "password": PASSWORD})
        assert "_auth_user_id" not in client.session


def test_the_deleted_persons_open_session_ends(client, centre_admin, leaver, school_a):
    from django.test import Client

    theirs = Client()
    theirs.force_login(leaver.account)
    assert theirs.get("/s/alder/users/").status_code == 200
    admin = Client()
    admin.force_login(centre_admin)
    admin.post(_url(leaver), {"confirm": "DELETE"})
    for path in ["/s/alder/users/", "/me/profile/"]:
        after = theirs.get(path)
        assert after.status_code == 302 and "/accounts/login/" in after["Location"]


def test_an_audit_event_remains_without_the_personal_data(login, centre_admin, leaver, school_a):
    account_id = str(leaver.account.pk)
    login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    event = AuditEvent.objects.get(action="accounts.account.deleted", target_id=account_id)
    assert event.actor == centre_admin and event.school == school_a
    trail = AuditEvent.objects.filter(target_id=account_id)
    assert not any("leaver" in str(e.changes) or e.target_label == "leaver" for e in trail)


def test_the_username_is_released_but_held_from_anyone_else_for_a_year(login, centre_admin, leaver, school_a):
    login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    assert not Account.objects.filter(username__iexact="leaver").exists()
    with pytest.raises(ValidationError, match="already taken"):
        account_create(
            school=school_a,
            actor=Actor(account=centre_admin, school=school_a),
            username="Leaver",
            person_type="student",
            password_method="none",
            consent=True,
        )


def test_the_deleted_persons_sync_records_lose_their_personal_values(login, centre_admin, leaver, school_a):
    run = SyncRun.objects.create(school=school_a, trigger="manual")
    SyncRecord.objects.create(
        school=school_a,
        run=run,
        account_id=leaver.account.pk,
        outcome="update",
        person_type="staff",
        username="leaver",
        before={"family_name": "Ver"},
        after={"family_name": "Verity"},
    )
    login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    record = SyncRecord.objects.get(run=run)
    assert (record.before, record.after, record.username) == ({}, {}, "")


def test_deleted_people_leave_the_list(login, centre_admin, leaver):
    client = login(centre_admin)
    client.post(_url(leaver), {"confirm": "DELETE"})
    assert leaver.pk not in [m.pk for m in client.get("/s/alder/users/").context["rows"]]
    assert client.get(_url(leaver)).status_code == 404


def test_a_person_another_school_holds_is_only_removed_from_this_school(login, centre_admin, leaver, school_b):
    MembershipFactory(school=school_b, account=leaver.account)
    login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    account = Account.objects.get(pk=leaver.account.pk)
    assert account.deleted_at is None and account.is_active and account.username == "leaver"
    assert Membership.objects.get(pk=leaver.pk).status == "archived"
    assert Membership.objects.get(school=school_b, account=account).status == "active"


def test_deleting_the_last_centre_admin_is_refused(school_a, centre_admin, support_user):
    with pytest.raises(ValidationError, match="last Centre Admin"):
        account_delete(school=school_a, actor=Actor(account=support_user), account=centre_admin)
    assert Account.objects.get(pk=centre_admin.pk).is_active


def test_a_centre_admin_with_a_colleague_can_be_deleted_but_not_by_themselves(login, centre_admin, school_a):
    colleague = person(school_a, "centre_admin", username="ca.two")
    own = centre_admin.memberships.get(school=school_a)
    refused = login(centre_admin).post(_url(own), {"confirm": "DELETE"})
    assert refused.status_code == 200 and "your own account" in refused.content.decode()
    assert login(centre_admin).post(_url(colleague), {"confirm": "DELETE"}).status_code == 302


def test_the_last_centre_admin_refusal_is_shown_on_the_page(login, school_a):
    # A Centre Admin whose own membership has left (grace period) still holds the role, but does not count.
    leaving = person(school_a, "centre_admin", username="ca.leaving", status="left").account
    last = person(school_a, "centre_admin", username="ca.last")
    response = login(leaving).post(_url(last), {"confirm": "DELETE"})
    assert response.status_code == 200
    assert "last Centre Admin" in response.content.decode()


@pytest.mark.parametrize("persona", ["eo_user", "nominated_contact", "inv_user"])
def test_only_a_centre_admin_may_delete(login, request, persona, leaver):
    client = login(request.getfixturevalue(persona))
    assert client.get(_url(leaver)).status_code == 403
    assert client.post(_url(leaver), {"confirm": "DELETE"}).status_code == 403
    assert Account.objects.get(pk=leaver.account.pk).deleted_at is None


def test_certificates_stay_verifiable_revoked_with_the_name_erased(login, centre_admin, leaver, school_a):
    from django.utils import timezone

    from assessments.models import Certificate
    from tests.assessments.conftest import make_assessment

    certificate = Certificate.objects.create(
        school=school_a, code="CERT-LEAVER", account=leaver.account, assessment=make_assessment(),
        holder_name="Lee Ver", assessment_title="Invigilator Core", score=4, out_of=4,
        issued_at=timezone.now(), expires_at=timezone.now() + timezone.timedelta(days=365),
    )  # fmt: skip
    login(centre_admin).post(_url(leaver), {"confirm": "DELETE"})
    certificate.refresh_from_db()
    assert certificate.status == "revoked" and certificate.status_reason == "holder account deleted"
    assert certificate.holder_name == ""
