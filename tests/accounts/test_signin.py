"""Signing in with a password: who gets in, who is refused and with which words."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from tests.factories import PASSWORD, AccountFactory, member

LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(fresh_cache):
    """allauth counts failures in the cache (LocMem in tests), which outlives a test's database."""
    yield


def sign_in(client, login, password=PASSWORD):
    return client.post(LOGIN, {"login": login, "password": password})


def signed_in_as(client) -> Account | None:
    response = client.get(reverse("profile"))
    if response.status_code != 200:
        return None
    return response.wsgi_request.user


def errors_of(response) -> str:
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


@pytest.fixture
def teacher(school_a):
    return member(school_a, "eo", username="j.smith", email="Jane.Smith@alder.sch.uk").account


def test_it_shows_the_sign_in_page_in_rollcall_words(client, db):
    response = client.get(LOGIN)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Sign in</h1>" in body
    assert "Username or email" in body
    assert "First time? Type the starter code from your slip as the password" in body
    assert "sign up" not in body.lower()


def test_it_signs_in_by_username(client, teacher):
    response = sign_in(client, "j.smith")
    assert response.status_code == 302
    assert signed_in_as(client) == teacher


def test_it_signs_in_by_username_ignoring_case(client, teacher):
    sign_in(client, "J.Smith")
    assert signed_in_as(client) == teacher


def test_it_signs_in_by_email(client, teacher):
    response = sign_in(client, "jane.smith@alder.sch.uk")
    assert response.status_code == 302
    assert signed_in_as(client) == teacher


def test_it_refuses_a_wrong_password(client, teacher):
    response = sign_in(client, "j.smith", "not-the-password")
    assert response.status_code == 200
    assert "not correct" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_signs_out_with_post(client, teacher):
    sign_in(client, "j.smith")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert signed_in_as(client) is None


def test_it_does_not_sign_out_on_a_plain_link(client, teacher):
    sign_in(client, "j.smith")
    client.get("/accounts/logout/")
    assert signed_in_as(client) == teacher


def test_it_resets_a_password_by_email(client, teacher):
    response = client.post("/accounts/password/reset/", {"email": "jane.smith@alder.sch.uk"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["jane.smith@alder.sch.uk"]
    assert "j.smith" in mail.outbox[0].body
    assert mail.outbox[0].subject.startswith("Rollcall: ")
    assert "example.com" not in mail.outbox[0].body
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(set_url, {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"})
    assert done.status_code == 302

    teacher.refresh_from_db()
    assert teacher.check_password("a-brand-new-passphrase")
    client.logout()
    sign_in(client, "j.smith", "a-brand-new-passphrase")
    assert signed_in_as(client) == teacher


def test_it_sends_no_reset_email_for_an_unknown_address(client, db):
    client.post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert all("password/reset/key" not in m.body for m in mail.outbox)
    assert "sign up" not in mail.outbox[0].body
    assert "no Rollcall account uses that address" in mail.outbox[0].body


def test_it_holds_a_person_who_must_change_their_password_on_the_change_form(client, teacher):
    Account.objects.filter(pk=teacher.pk).update(must_change_password=True)
    sign_in(client, "j.smith")

    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_change_password"))

    changed = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "my-own-new-passphrase", "password2": "my-own-new-passphrase"},
    )
    assert changed.status_code == 302
    teacher.refresh_from_db()
    assert teacher.must_change_password is False
    assert teacher.check_password("my-own-new-passphrase")
    assert client.get(reverse("profile")).status_code == 200


def test_it_sends_an_account_without_a_password_to_set_one_and_then_lets_them_in(client, teacher):
    teacher.set_unusable_password()
    teacher.must_change_password = True
    teacher.save()
    client.force_login(teacher)

    change = client.get(reverse("profile"), follow=True)
    assert change.redirect_chain[-1][0].startswith(reverse("account_set_password"))

    done = client.post(
        reverse("account_set_password"), {"password1": "first-own-passphrase", "password2": "first-own-passphrase"}
    )
    assert done.status_code == 302
    teacher.refresh_from_db()
    assert teacher.must_change_password is False
    assert teacher.has_usable_password()
    assert client.get(reverse("profile")).status_code == 200


def test_it_refuses_the_right_password_after_five_failures_for_one_username(client, teacher):
    for _ in range(5):
        sign_in(client, "j.smith", "guess")
    response = sign_in(client, "j.smith")
    assert response.status_code == 200
    assert "Too many failed login attempts" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_still_signs_in_another_username_after_someone_elses_failures(client, teacher, school_a):
    member(school_a, username="k.jones")
    for _ in range(5):
        sign_in(client, "j.smith", "guess")
    sign_in(client, "k.jones")
    assert signed_in_as(client).username == "k.jones"


def test_it_refuses_a_locked_out_account_with_a_clear_message(client, teacher):
    Account.objects.filter(pk=teacher.pk).update(locked_out=True)
    response = sign_in(client, "j.smith")
    assert response.status_code == 200
    assert "Your account is locked out" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_refuses_an_unapproved_account_as_waiting_for_approval(client, teacher):
    Account.objects.filter(pk=teacher.pk).update(approved=False)
    response = sign_in(client, "j.smith")
    assert "waiting for approval" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_ends_the_session_of_an_account_locked_out_after_signing_in(client, teacher):
    sign_in(client, "j.smith")
    assert signed_in_as(client) == teacher
    Account.objects.filter(pk=teacher.pk).update(locked_out=True)

    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert "_auth_user_id" not in client.session
    assert "Your account is locked out" in client.get(response.url).content.decode()


def test_it_refuses_an_inactive_account(client, teacher):
    Account.objects.filter(pk=teacher.pk).update(is_active=False)
    response = sign_in(client, "j.smith")
    assert response.status_code == 200
    assert "no longer active" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_refuses_a_deleted_account(client, teacher):
    Account.objects.filter(pk=teacher.pk).update(deleted_at=timezone.now())
    response = sign_in(client, "j.smith")
    assert "no longer active" in errors_of(response)
    assert signed_in_as(client) is None


def test_it_offers_no_sign_up(client, db):
    response = client.get("/accounts/signup/")
    assert "Accounts are made by your school" in response.content.decode()
    client.post("/accounts/signup/", {"username": "newcomer", "password1": "a-long-passphrase"})
    assert not Account.objects.exists()


def test_it_gives_no_support_admin_to_a_signed_in_non_staff_person(client, db):
    AccountFactory(username="plain")
    sign_in(client, "plain")
    response = client.get("/admin/")
    assert response.status_code in (302, 403)
    assert "Site administration" not in response.content.decode()


def test_it_shows_the_organisations_privacy_notice_at_first_sign_in(client, teacher, organisation):
    organisation.privacy_notice = "We keep your name and results for exams."
    organisation.save()
    response = sign_in(client, "j.smith")
    page = client.get(response.url, follow=True)
    assert "Privacy notice from Northfield Learning Trust: We keep your name and results for exams." in (
        page.content.decode()
    )

    client.post("/accounts/logout/")
    response = sign_in(client, "j.smith")
    assert "Privacy notice" not in client.get(response.url, follow=True).content.decode()
