from datetime import timedelta

from django.utils import timezone

from accounts.credentials import set_password_link_issue, starter_code_issue
from accounts.models import StarterCode
from tests.factories import member


def _starter(school):
    m = member(school, "student_portal", person_type="student")
    account = m.account
    code = starter_code_issue(school=school, account=account)
    return account, code


def test_it_signs_in_once_with_a_starter_code_and_forces_a_password_choice(client, school_a):
    account, code = _starter(school_a)
    response = client.post("/accounts/login/", {"login": account.username, "password": code.lower()})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.must_change_password
    forced = client.get(f"/s/{school_a.slug}/")
    assert "/accounts/password/change/" in forced["Location"]
    client.logout()
    again = client.post("/accounts/login/", {"login": account.username, "password": code})
    assert again.status_code == 200  # the form again: the code is spent


def test_it_refuses_an_expired_starter_code(client, school_a):
    account, code = _starter(school_a)
    StarterCode.objects.filter(account=account).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post("/accounts/login/", {"login": account.username, "password": code})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_stores_only_a_keyed_hash_of_the_code(school_a):
    account, code = _starter(school_a)
    stored = StarterCode.objects.get(account=account)
    assert code.replace("-", "") not in stored.code_hash
    assert len(stored.code_hash) == 64


def test_reissuing_a_starter_code_retires_the_old_one(client, school_a):
    account, old = _starter(school_a)
    new = starter_code_issue(school=school_a, account=account)
    assert client.post("/accounts/login/", {"login": account.username, "password": old}).status_code == 200
    assert client.post("/accounts/login/", {"login": account.username, "password": new}).status_code == 302


def test_a_set_password_link_works_once_and_a_newer_one_replaces_it(client, school_a):
    account = member(school_a, "parent", person_type="contact").account
    first = set_password_link_issue(school=school_a, account=account, purpose="welcome")
    second = set_password_link_issue(school=school_a, account=account, purpose="welcome")
    assert client.get(first).status_code == 410
    page = client.get(second)
    assert page.status_code == 200 and account.username in page.content.decode()
    done = client.post(second, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})
    assert done.status_code == 302
    account.refresh_from_db()
    assert account.check_password("a-long-new-passphrase") and account.email_verified
    client.logout()
    assert client.get(second).status_code == 410
