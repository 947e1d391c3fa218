"""+Add (User Request (Single)): required fields, passwords three ways, consent, existing accounts."""

import re

import pytest
from django.core import mail

from accounts.models import Account, AuditEvent, Membership, StarterCode
from tests.accounts.users_helpers import person
from tests.factories import AccountFactory, MembershipFactory

URL = "/s/alder/users/add/"


def _form(**overrides):
    data = {
        "person_type": "staff",
        "username": "new.teacher",
        "mis_code": "T777",
        "family_name": "Franklin",
        "given_name": "Rosalind",
        "email": "rfranklin@alder.sch.uk",
        "password_method": "set",
        "password": "a-long-first-passphrase",
        "password2": "a-long-first-passphrase",
        "roles": ["inv"],
        "consent": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_page_is_user_request_single_with_required_fields_marked(login, eo_user):
    html = login(eo_user).get(URL).content.decode()
    assert "<h1>User Request (Single)</h1>" in html
    assert re.search(r'<label[^>]*class="required"[^>]*>User Name', html)
    assert ">Submit</button>" in html
    assert "Bulk User Synchronise" in html or "nightly sync" in html


def test_it_adds_a_person_who_must_change_the_password_and_appears_in_the_list(login, eo_user, school_a):
    client = login(eo_user)
    response = client.post(URL, _form())
    assert response.status_code == 302
    account = Account.objects.get(username="new.teacher")
    assert account.must_change_password and account.check_password("a-long-first-passphrase")
    membership = Membership.objects.get(school=school_a, account=account)
    assert membership.mis_code == "T777"
    assert list(membership.role_assignments.values_list("role_id", flat=True)) == ["inv"]
    listed = client.get(response["Location"])
    assert "new.teacher" in [m.account.username for m in listed.context["rows"]]


def test_the_consent_acknowledgement_is_required_and_audited(login, eo_user):
    client = login(eo_user)
    refused = client.post(URL, _form(consent=None))
    assert refused.status_code == 200 and refused.context["form"].errors["consent"]
    assert not Account.objects.filter(username="new.teacher").exists()
    client.post(URL, _form())
    event = AuditEvent.objects.get(action="accounts.account.created", target_label="new.teacher")
    assert event.changes["consent"] == [None, "acknowledged"]
    assert event.actor == eo_user


def test_email_is_required_for_staff_only(login, eo_user):
    client = login(eo_user)
    refused = client.post(URL, _form(email=""))
    assert "Email is required for staff." in refused.context["form"].errors["email"]
    student = client.post(URL, _form(person_type="student", email="", roles=["student_portal"]))
    assert student.status_code == 200  # an EO may not grant Student Portal
    assert client.post(URL, _form(person_type="student", email="", roles=[])).status_code == 302


def test_an_off_domain_staff_email_is_a_warning_not_a_refusal(login, eo_user):
    response = login(eo_user).post(URL, _form(email="rosalind@gmail.com"), follow=True)
    assert Account.objects.filter(username="new.teacher").exists()
    assert "is not on the school&#x27;s email domains" in response.content.decode()


def test_a_weak_or_mismatched_password_is_refused(login, eo_user):
    client = login(eo_user)
    weak = client.post(URL, _form(password="short", password2="short"))
    assert weak.context["form"].errors["password"]
    differ = client.post(URL, _form(password2="something-else-entirely"))
    assert differ.context["form"].errors["password2"]


def test_generated_gives_a_one_time_starter_code_shown_once(login, eo_user, client):
    response = login(eo_user).post(URL, _form(password_method="starter_code", password="", password2=""))
    assert response.status_code == 200
    code = re.search(r"<code>([A-Z0-9-]+)</code>", response.content.decode()).group(1)
    account = Account.objects.get(username="new.teacher")
    assert not account.has_usable_password()
    assert StarterCode.objects.filter(account=account).count() == 1
    client.logout()
    signed_in = client.post("/accounts/login/", {"login": "new.teacher", "password": code})
    assert signed_in.status_code == 302


def test_an_invitation_emails_a_single_use_link_and_no_password(
    login, eo_user, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(eo_user).post(URL, _form(password_method="invitation", password="", password2=""))
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["rfranklin@alder.sch.uk"]
    html = message.alternatives[0][0]
    link = re.search(r"http://testserver(/welcome/[^/\s]+/)", message.body).group(1)
    assert link in html
    assert "new.teacher" in message.body and "password" not in message.body.split(link)[0].split("username")[0]
    assert not Account.objects.get(username="new.teacher").has_usable_password()
    client.logout()
    chosen = {"new_password1": "my-own-passphrase-9", "new_password2": "my-own-passphrase-9"}
    assert client.post(link, chosen).status_code == 302
    client.logout()
    assert client.get(link).status_code == 410


def test_an_invitation_needs_an_email(login, eo_user):
    response = login(eo_user).post(
        URL, _form(person_type="student", email="", roles=[], password_method="invitation", password="", password2="")
    )
    assert "An invitation needs an email address." in response.context["form"].errors["email"]


def test_only_grantable_roles_are_offered_and_others_refused(login, eo_user):
    client = login(eo_user)
    offered = [code for code, _ in client.get(URL).context["form"].fields["roles"].choices]
    assert sorted(offered) == ["eo", "inv", "slt"]
    refused = client.post(URL, _form(roles=["centre_admin"]))
    assert refused.status_code == 200 and refused.context["form"].errors["roles"]
    assert not Account.objects.filter(username="new.teacher").exists()


def test_a_taken_username_or_mis_code_is_refused_with_a_message(login, eo_user, school_a):
    person(school_a, username="taken.name", mis_code="T777")
    client = login(eo_user)
    assert client.post(URL, _form(username="TAKEN.name", mis_code="")).context["form"].errors["username"]
    assert client.post(URL, _form()).context["form"].errors["mis_code"]


def test_a_person_known_at_another_school_is_offered_not_duplicated(login, eo_user, school_a, school_b):
    known = AccountFactory(username="rf.birch", email="rfranklin@alder.sch.uk", email_verified=True)
    MembershipFactory(school=school_b, account=known)
    client = login(eo_user)
    offered = client.post(URL, _form())
    assert offered.status_code == 200
    html = offered.content.decode()
    assert "Add this person to your school" in html and "rf.birch" in html
    assert not Account.objects.filter(username="new.teacher").exists()
    added = client.post(URL, _form(add_existing=str(known.pk)))
    assert added.status_code == 302
    membership = Membership.objects.get(school=school_a, account=known)
    assert list(membership.role_assignments.values_list("role_id", flat=True)) == ["inv"]
    assert Account.objects.filter(email__iexact="rfranklin@alder.sch.uk").count() == 1


def test_a_student_known_by_upn_is_offered(login, nominated_contact, school_b):
    known = AccountFactory(username="pupil.birch", upn="A123456789012", email="")
    MembershipFactory(school=school_b, account=known, person_type="student")
    response = login(nominated_contact).post(
        URL, _form(person_type="student", email="", upn="A123456789012", roles=["student_portal"], year_group="7")
    )
    assert response.context["existing"] == known


def test_an_unverified_email_match_is_not_offered(login, eo_user, school_b):
    AccountFactory(username="rf.other", email="rfranklin@alder.sch.uk", email_verified=False)
    assert login(eo_user).post(URL, _form()).status_code == 302


@pytest.mark.parametrize("persona", ["inv_user"])
def test_an_invigilator_cannot_add_users(db, login, request, persona):
    assert login(request.getfixturevalue(persona)).get(URL).status_code == 403


def test_an_slt_user_cannot_add_users(login, school_a):
    slt = person(school_a, "slt", username="slt.alder").account
    assert login(slt).post(URL, _form()).status_code == 403
