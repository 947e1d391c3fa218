"""Microsoft 365 / Google sign-in, driven through allauth's own completion flow with no network.

The provider's callback would build a SocialLogin from Google's answer; these tests build the same
object from the same kind of answer (provider.sociallogin_from_response) and hand it to
allauth's complete_social_login, so our adapter's decisions run exactly where they do in production.
"""

import pytest
from allauth.core import context
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.urls import reverse

from accounts.models import Account
from tests.factories import PASSWORD, AccountFactory, member


@pytest.fixture(autouse=True)
def _google_configured(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APPS": [{"client_id": "test-client", "secret": "test-secret"}], "SCOPE": ["profile", "email"]}
    }


@pytest.fixture
def teacher(school_a):
    return member(school_a, "eo", username="j.smith", email="Jane.Smith@alder.sch.uk").account


def google_callback(rf, *, email, verified=True, uid="google-uid-1", process="login", user=None):
    """What allauth does at /accounts/google/login/callback/ once Google has answered."""
    request = rf.get("/accounts/google/login/callback/")
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    request.user = user or AnonymousUser()
    with context.request_context(request):
        provider = get_adapter(request).get_provider(request, "google")
        answer = {"sub": uid, "email": email, "email_verified": verified, "given_name": "Jane", "family_name": "Smith"}
        sociallogin = provider.sociallogin_from_response(request, answer)
        sociallogin.state = {"process": process}
        response = complete_social_login(request, sociallogin)
    request.session.save()
    return request, response


def signed_in(request):
    return request.session.get("_auth_user_id")


def message_text(request) -> str:
    return " ".join(str(m) for m in get_messages(request))


def test_it_signs_in_the_account_whose_email_google_verified(rf, teacher):
    request, response = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert response.status_code == 302
    assert signed_in(request) == str(teacher.pk)


def test_it_links_the_google_identity_so_the_next_sign_in_needs_no_email_match(rf, teacher):
    google_callback(rf, email="jane.smith@alder.sch.uk")
    assert SocialAccount.objects.filter(user=teacher, provider="google", uid="google-uid-1").exists()

    Account.objects.filter(pk=teacher.pk).update(email="jane.new@alder.sch.uk")
    request, _ = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert signed_in(request) == str(teacher.pk)


def test_it_keeps_the_accounts_rollcall_password(rf, teacher):
    google_callback(rf, email="jane.smith@alder.sch.uk")
    teacher.refresh_from_db()
    assert teacher.check_password(PASSWORD)


def test_it_creates_no_account_for_an_unknown_email(rf, teacher):
    before = Account.objects.count()
    request, response = google_callback(rf, email="stranger@gmail.com")
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert signed_in(request) is None
    assert Account.objects.count() == before
    assert not SocialAccount.objects.exists()
    assert "No Rollcall account uses stranger@gmail.com" in message_text(request)


def test_it_does_not_trust_an_unverified_email(rf, teacher):
    request, _ = google_callback(rf, email="jane.smith@alder.sch.uk", verified=False)
    assert signed_in(request) is None
    assert "did not confirm an email address" in message_text(request)
    assert not SocialAccount.objects.exists()


def test_it_refuses_a_locked_out_account_and_links_nothing(rf, teacher):
    Account.objects.filter(pk=teacher.pk).update(locked_out=True)
    request, _ = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert signed_in(request) is None
    assert "Your account is locked out" in message_text(request)
    assert not SocialAccount.objects.exists()


def test_it_refuses_a_locked_out_account_that_is_already_linked(rf, teacher):
    google_callback(rf, email="jane.smith@alder.sch.uk")
    Account.objects.filter(pk=teacher.pk).update(locked_out=True)
    request, _ = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert signed_in(request) is None
    assert "Your account is locked out" in message_text(request)


def test_it_refuses_an_account_waiting_for_approval(rf, teacher):
    Account.objects.filter(pk=teacher.pk).update(approved=False)
    request, _ = google_callback(rf, email="jane.smith@alder.sch.uk")
    assert signed_in(request) is None
    assert "waiting for approval" in message_text(request)


def test_it_links_nothing_when_a_family_shares_the_email(rf, school_a):
    member(school_a, person_type="contact", username="mum", email="family@example.org")
    member(school_a, person_type="contact", username="dad", email="family@example.org")
    request, _ = google_callback(rf, email="family@example.org")
    assert signed_in(request) is None
    assert "Several Rollcall accounts use family@example.org" in message_text(request)
    assert not SocialAccount.objects.exists()


def test_it_links_google_to_the_signed_in_person_from_the_profile_page(rf, teacher):
    request, _ = google_callback(rf, email="jane.personal@gmail.com", process="connect", user=teacher)
    assert SocialAccount.objects.filter(user=teacher, provider="google").exists()


def test_it_never_opens_sign_up(rf, db):
    adapter = get_adapter()
    assert adapter.is_open_for_signup(rf.get("/"), sociallogin=None) is False


def test_it_lists_no_provider_without_configuration(client, settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert "Or sign in with your school account" not in client.get("/accounts/login/").content.decode()


def test_it_offers_google_on_the_sign_in_page_when_configured(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert "Or sign in with your school account" in body
    assert "/accounts/google/login/" in body


def test_a_person_with_two_accounts_at_one_address_gets_the_one_linked(rf, school_a):
    mum = member(school_a, person_type="contact", username="mum", email="family@example.org").account
    member(school_a, person_type="contact", username="dad", email="family@example.org")
    SocialAccount.objects.create(user=mum, provider="google", uid="google-uid-1")
    request, _ = google_callback(rf, email="family@example.org")
    assert signed_in(request) == str(mum.pk)


def test_a_support_user_signs_in_like_anyone_else(rf, db):
    support = AccountFactory(username="helpdesk", email="helpdesk@rollcall.example", is_staff=True)
    request, _ = google_callback(rf, email="helpdesk@rollcall.example")
    assert signed_in(request) == str(support.pk)
