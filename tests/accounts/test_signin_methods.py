"""Sign in with Microsoft 365 or Google only: a school setting that refuses Rollcall passwords (and starter codes
once an account has signed in), except under Override Network Authentication; and how it is changed."""

import re

import pytest
from allauth.core import context
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.helpers import complete_social_login
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.credentials import set_password_link_issue, starter_code_issue
from accounts.models import Account, AuditEvent, Membership, SetPasswordLink
from accounts.services import (
    Actor,
    password_signin_refusal,
    school_sign_in_methods_set,
    set_password_email,
    set_password_email_send,
)
from tenancy.models import School
from tests.factories import PASSWORD, SchoolFactory, member

LOGIN = "/accounts/login/"
REFUSED = "Your school signs in with Microsoft 365 or Google: use the button below."
WRONG = "The username and/or password you specified are not correct."


@pytest.fixture(autouse=True)
def _fresh_rate_limits(fresh_cache):
    yield


@pytest.fixture
def m365_school(school_a):
    School.objects.filter(pk=school_a.pk).update(sign_in_microsoft_google_only=True)
    school_a.refresh_from_db()
    return school_a


@pytest.fixture
def teacher(m365_school):
    return member(m365_school, "eo", username="j.smith", email="Jane.Smith@alder.sch.uk").account


def sign_in(login, password=PASSWORD, client=None):
    client = client or Client()
    response = client.post(LOGIN, {"login": login, "password": password})
    return client, response


def signed_in(client) -> bool:
    return client.get(reverse("profile")).status_code == 200


def errors_of(response) -> str:
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


# --- Rollcall's sign-in page ---------------------------------------------------------------------------


def test_it_refuses_the_right_password_of_a_person_at_such_a_school(teacher):
    client, response = sign_in("j.smith")
    assert response.status_code == 200
    assert errors_of(response) == REFUSED
    assert not signed_in(client)


def test_it_refuses_by_email_address_too(teacher):
    client, response = sign_in("jane.smith@alder.sch.uk")
    assert errors_of(response) == REFUSED
    assert not signed_in(client)


def test_a_right_and_a_wrong_password_get_the_same_answer(teacher):
    _, right = sign_in("j.smith")
    _, wrong = sign_in("j.smith", "not-the-password")
    assert errors_of(right) == errors_of(wrong) == REFUSED
    assert right.status_code == wrong.status_code == 200


def test_an_unknown_username_gets_the_words_it_got_before(teacher):
    _, response = sign_in("nobody.here", "whatever-password")
    assert errors_of(response) == WRONG


def test_a_locked_out_person_at_such_a_school_is_not_told_whether_their_password_was_right(m365_school):
    member(m365_school, "eo", username="locked.one", locked_out=True)
    _, right = sign_in("locked.one")
    _, wrong = sign_in("locked.one", "not-the-password")
    assert errors_of(right) == errors_of(wrong) == REFUSED


def test_an_inactive_account_at_such_a_school_gets_the_words_it_got_before(m365_school):
    member(m365_school, "eo", username="gone.away", is_active=False)
    _, right = sign_in("gone.away")
    _, wrong = sign_in("gone.away", "not-the-password")
    assert errors_of(right) == "This account is no longer active."
    assert errors_of(wrong) == WRONG


def test_override_network_authentication_keeps_the_rollcall_password(m365_school):
    member(m365_school, "eo", username="kept.password", override_network_auth=True)
    client, response = sign_in("kept.password")
    assert response.status_code == 302
    assert signed_in(client)


def test_a_school_without_the_setting_takes_passwords(school_b):
    member(school_b, "eo", username="birch.teacher")
    client, response = sign_in("birch.teacher")
    assert response.status_code == 302
    assert signed_in(client)


def test_turning_the_setting_off_lets_passwords_in_again(teacher, m365_school, centre_admin):
    school_sign_in_methods_set(school=m365_school, actor=centre_admin, microsoft_google_only=False)
    client, response = sign_in("j.smith")
    assert response.status_code == 302
    assert signed_in(client)


# --- Several schools -----------------------------------------------------------------------------------


def test_someone_also_at_a_school_that_takes_passwords_keeps_theirs(teacher, school_b):
    Membership.objects.create(school=school_b, account=teacher, person_type="contact", mis_code="C1")
    assert password_signin_refusal(teacher) is None
    client, response = sign_in("j.smith")
    assert response.status_code == 302
    assert signed_in(client)


def test_someone_whose_every_school_requires_it_is_refused(teacher, school_b):
    School.objects.filter(pk=school_b.pk).update(sign_in_microsoft_google_only=True)
    Membership.objects.create(school=school_b, account=teacher, person_type="contact", mis_code="C1")
    assert password_signin_refusal(teacher) == REFUSED
    _, response = sign_in("j.smith")
    assert errors_of(response) == REFUSED


def test_an_archived_membership_at_a_password_school_does_not_count(teacher, school_b):
    Membership.objects.create(
        school=school_b, account=teacher, person_type="staff", mis_code="T1", status=Membership.Status.ARCHIVED
    )
    assert password_signin_refusal(teacher) == REFUSED


def test_a_leaver_in_their_grace_period_still_counts_at_their_school(m365_school):
    leaver = member(m365_school, "eo", username="leaving.soon").account
    Membership.objects.filter(account=leaver).update(status=Membership.Status.LEFT)
    assert password_signin_refusal(leaver) == REFUSED


def test_support_staff_with_no_school_are_not_refused(support_user, m365_school):
    assert password_signin_refusal(support_user) is None


# --- Starter codes: the first sign-in only -------------------------------------------------------------


def test_a_starter_code_lets_a_newcomer_in_once_to_link_their_sign_in(m365_school):
    newcomer = member(m365_school, person_type="student", username="new.pupil").account
    code = starter_code_issue(school=m365_school, account=newcomer)
    client, response = sign_in("new.pupil", code)
    assert response.status_code == 302
    newcomer.refresh_from_db()
    # A password chosen now would be refused next time: they are not held on the password form.
    assert newcomer.must_change_password is False
    page = client.get(reverse("profile"), follow=True)
    assert page.status_code == 200
    assert "link yours under Linked sign-ins" in page.content.decode()


def test_a_starter_code_is_refused_once_the_account_has_signed_in(m365_school):
    pupil = member(m365_school, person_type="student", username="old.pupil").account
    Account.objects.filter(pk=pupil.pk).update(last_login=timezone.now())
    code = starter_code_issue(school=m365_school, account=pupil)
    client, response = sign_in("old.pupil", code)
    assert errors_of(response) == REFUSED
    assert not signed_in(client)
    # The code was not spent by the refused attempt.
    assert pupil.starter_codes.filter(used_at__isnull=True).exists()


def test_a_wrong_starter_code_on_a_first_sign_in_gets_the_same_words(m365_school):
    newcomer = member(m365_school, person_type="student", username="new.pupil").account
    starter_code_issue(school=m365_school, account=newcomer)
    _, response = sign_in("new.pupil", "AAAA-BBBB-CCCC")
    assert errors_of(response) == REFUSED


def test_a_password_set_before_the_school_moved_is_refused(m365_school):
    """A person who chose a Rollcall password (before the school moved) cannot sign in with it now."""
    pupil = member(m365_school, person_type="student", username="had.password").account
    _, response = sign_in("had.password")
    assert errors_of(response) == REFUSED
    assert pupil.has_usable_password()


def test_nobody_is_held_on_the_password_form_for_a_password_they_could_not_use(m365_school):
    """An admin set a password with "must change" before the school moved; they now come in with Google."""
    pupil = member(m365_school, person_type="student", username="must.change", must_change_password=True).account
    client = Client()
    client.force_login(pupil)
    assert client.get(reverse("profile")).status_code == 200
    Account.objects.filter(pk=pupil.pk).update(override_network_auth=True)
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and "forced=1" in response.url


# --- Rate limits ---------------------------------------------------------------------------------------


def test_refused_attempts_count_toward_the_failed_login_limit_right_password_or_not(teacher):
    # Right and wrong passwords alike: were a right one not counted, the limit would tell which one was right.
    for password in (PASSWORD, "guess-1", PASSWORD, "guess-2", PASSWORD):
        _, response = sign_in("j.smith", password)
        assert errors_of(response) == REFUSED
    _, response = sign_in("j.smith")
    assert "Too many failed login attempts" in response.content.decode()


def test_the_limit_still_stops_guessing_at_a_school_that_takes_passwords(school_b):
    member(school_b, "eo", username="birch.teacher")
    for n in range(5):
        sign_in("birch.teacher", f"guess-{n}")
    client, response = sign_in("birch.teacher")
    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(client)


# --- Microsoft 365 / Google ----------------------------------------------------------------------------


@pytest.fixture
def google(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APPS": [{"client_id": "test-client", "secret": "test-secret"}], "SCOPE": ["profile", "email"]}
    }


def google_callback(rf, *, email):
    request = rf.get("/accounts/google/login/callback/")
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    request.user = AnonymousUser()
    with context.request_context(request):
        provider = get_adapter(request).get_provider(request, "google")
        answer = {"sub": "google-uid-1", "email": email, "email_verified": True, "given_name": "J", "family_name": "S"}
        sociallogin = provider.sociallogin_from_response(request, answer)
        sociallogin.state = {"process": "login"}
        response = complete_social_login(request, sociallogin)
    return request, response


def test_google_still_signs_in_a_person_whose_password_is_refused(rf, google, teacher):
    request, response = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert response.status_code == 302
    assert request.session.get("_auth_user_id") == str(teacher.pk)


# --- Password reset and set-password links -------------------------------------------------------------


def test_a_password_reset_sends_no_link_but_says_how_to_sign_in(client, teacher):
    response = client.post("/accounts/password/reset/", {"email": "jane.smith@alder.sch.uk"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "password/reset/key" not in body
    assert "Your school signs in with Microsoft 365 or Google" in body
    assert "j.smith" in body


def test_the_reset_page_answers_as_for_anyone(client, teacher, school_b):
    member(school_b, "eo", email="other@birch.sch.uk")
    refused = client.post("/accounts/password/reset/", {"email": "jane.smith@alder.sch.uk"})
    allowed = client.post("/accounts/password/reset/", {"email": "other@birch.sch.uk"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert refused.status_code == allowed.status_code == unknown.status_code == 302
    assert refused.url == allowed.url == unknown.url
    assert "password/reset/key" in mail.outbox[1].body


def test_a_reset_still_sends_a_link_under_override_network_authentication(client, m365_school):
    member(m365_school, "eo", email="kept@alder.sch.uk", override_network_auth=True)
    client.post("/accounts/password/reset/", {"email": "kept@alder.sch.uk"})
    assert "password/reset/key" in mail.outbox[0].body


def test_a_set_password_link_sent_before_the_change_no_longer_sets_one(client, teacher, m365_school):
    path = set_password_link_issue(school=m365_school, account=teacher, purpose=SetPasswordLink.Purpose.WELCOME)
    page = client.get(path)
    assert page.status_code == 410
    assert REFUSED in page.content.decode()
    posted = client.post(path, {"new_password1": "a-fresh-passphrase-9", "new_password2": "a-fresh-passphrase-9"})
    assert posted.status_code == 410
    teacher.refresh_from_db()
    assert teacher.check_password(PASSWORD)
    assert not signed_in(client)


def test_an_admin_is_told_no_password_link_can_be_sent(teacher, m365_school, centre_admin):
    with pytest.raises(ValidationError, match="signs in with Microsoft 365 or Google only"):
        set_password_email_send(
            school=m365_school,
            actor=Actor(account=centre_admin, school=m365_school),
            account=teacher,
            purpose=SetPasswordLink.Purpose.RESET,
        )
    assert mail.outbox == []


@pytest.mark.parametrize("purpose", ["welcome", "invitation", "reset"])
@pytest.mark.parametrize("reminder", [False, True])
def test_emails_sent_in_bulk_carry_no_link_but_say_how_to_sign_in(teacher, m365_school, purpose, reminder):
    """Welcome Email and upload invitations build their messages here, whatever the batch."""
    path = set_password_link_issue(school=m365_school, account=teacher, purpose=purpose)
    message = set_password_email(school=m365_school, account=teacher, purpose=purpose, url=path, reminder=reminder)
    html = message.alternatives[0][0]
    for part in (message.body, html):
        assert "/welcome/" not in part
        assert "Your school signs in with Microsoft 365 or Google" in part
        assert "j.smith" in part


def test_emails_keep_their_link_under_override_network_authentication(m365_school):
    kept = member(m365_school, "eo", username="kept.password", override_network_auth=True).account
    path = set_password_link_issue(school=m365_school, account=kept, purpose="welcome")
    message = set_password_email(school=m365_school, account=kept, purpose="welcome", url=path)
    assert path in message.body
    assert "Microsoft 365 or Google" not in message.body


def test_the_api_adding_someone_with_an_invitation_is_told_why_not(m365_school, eo_user, mailoutbox):
    """The API has no password sign-in of its own (tokens and sessions); its one password path is the link."""
    client = APIClient()
    client.force_authenticate(eo_user)
    client.force_login(eo_user)
    data = {
        "person_type": "staff",
        "username": "api.made",
        "given_name": "Api",
        "family_name": "Made",
        "email": "api.made@alder.sch.uk",
        "roles": ["inv"],
        "password_method": "invitation",
        "consent": True,
    }
    response = client.post(f"/api/s/{m365_school.slug}/accounts/", data, format="json")
    assert response.status_code == 400
    assert "signs in with Microsoft 365 or Google only" in response.json()["detail"]
    assert not Account.objects.filter(username="api.made").exists()
    assert mailoutbox == []


# --- The setting: Bulk User Synchronise, Centre Admin only, audited ------------------------------------


@pytest.fixture
def google_offered(centre_admin):
    """Rollcall offers a Google button, and the Centre Admin has linked theirs."""
    from allauth.socialaccount.models import SocialAccount, SocialApp

    SocialApp.objects.create(provider="google", name="Google", client_id="id", secret="s")
    SocialAccount.objects.create(user=centre_admin, provider="google", uid="admin-google")


def test_a_centre_admin_turns_it_on_from_bulk_user_synchronise(client, school_a, centre_admin, google_offered):
    client.force_login(centre_admin)
    page = client.get(reverse("sync_policy", args=[school_a.slug])).content.decode()
    assert "Sign in with Microsoft 365 or Google only" in page
    response = client.post(
        reverse("sync_sign_in_methods", args=[school_a.slug]), {"sign_in_microsoft_google_only": "on"}
    )
    assert response.status_code == 302
    school_a.refresh_from_db()
    assert school_a.sign_in_microsoft_google_only is True
    event = AuditEvent.objects.get(action="tenancy.school.sign_in_methods_changed")
    assert event.actor == centre_admin
    assert event.changes == {"sign_in_microsoft_google_only": [False, True]}
    assert event.target_label == school_a.name
    page = client.get(reverse("sync_policy", args=[school_a.slug])).content.decode()
    assert "This school signs in with Microsoft 365 or Google only" in page


def test_saving_it_unchanged_writes_no_audit_event(school_a, centre_admin):
    school_sign_in_methods_set(school=school_a, actor=centre_admin, microsoft_google_only=False)
    assert not AuditEvent.objects.filter(action="tenancy.school.sign_in_methods_changed").exists()


def test_turning_it_off_is_audited_too(m365_school, centre_admin):
    school_sign_in_methods_set(school=m365_school, actor=centre_admin, microsoft_google_only=False)
    event = AuditEvent.objects.get(action="tenancy.school.sign_in_methods_changed")
    assert event.changes == {"sign_in_microsoft_google_only": [True, False]}


def test_a_nominated_contact_sees_the_setting_but_may_not_change_it(client, school_a, nominated_contact):
    client.force_login(nominated_contact)
    page = client.get(reverse("sync_policy", args=[school_a.slug])).content.decode()
    assert "A Centre Admin can change this." in page
    assert 'name="sign_in_microsoft_google_only"' not in page
    response = client.post(
        reverse("sync_sign_in_methods", args=[school_a.slug]), {"sign_in_microsoft_google_only": "on"}
    )
    assert response.status_code == 403
    school_a.refresh_from_db()
    assert school_a.sign_in_microsoft_google_only is False


def test_another_schools_admin_cannot_change_it(client, school_a, other_school_admin):
    client.force_login(other_school_admin)
    response = client.post(
        reverse("sync_sign_in_methods", args=[school_a.slug]), {"sign_in_microsoft_google_only": "on"}
    )
    assert response.status_code == 404
    school_a.refresh_from_db()
    assert school_a.sign_in_microsoft_google_only is False


def test_the_setting_is_per_school(m365_school, school_b):
    assert SchoolFactory().sign_in_microsoft_google_only is False
    assert School.objects.get(pk=school_b.pk).sign_in_microsoft_google_only is False


def test_the_refusal_is_in_plain_words(teacher):
    """The refusal is words for a person: no code names or field names."""
    assert not re.search(r"[a-z]+_[a-z]+", password_signin_refusal(teacher))


def test_it_is_not_turned_on_where_nobody_could_sign_in_any_more(client, school_a, centre_admin):
    """Found by trying it: with no Microsoft or Google sign-in set up, the tick refused everyone, the Centre
    Admin who ticked it included; and a Centre Admin without a linked sign-in locked themselves out."""
    from allauth.socialaccount.models import SocialApp

    client.force_login(centre_admin)
    url = reverse("sync_sign_in_methods", args=[school_a.slug])
    answer = client.post(url, {"sign_in_microsoft_google_only": "on"}, follow=True)
    assert "Rollcall has no Microsoft 365 or Google sign-in set up yet" in answer.content.decode()
    SocialApp.objects.create(provider="google", name="Google", client_id="id", secret="s")
    answer = client.post(url, {"sign_in_microsoft_google_only": "on"}, follow=True)
    assert "Link your own Microsoft 365 or Google sign-in on your profile page first" in answer.content.decode()
    school_a.refresh_from_db()
    assert school_a.sign_in_microsoft_google_only is False
    assert not AuditEvent.objects.filter(action="tenancy.school.sign_in_methods_changed").exists()
