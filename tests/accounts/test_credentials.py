import re
from datetime import timedelta

from django.utils import timezone

from accounts.credentials import (
    CODE_ALPHABET,
    set_password_link_issue,
    starter_code_hash,
    starter_code_issue,
    starter_code_values,
)
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


def test_codes_issued_in_bulk_read_like_any_code_and_are_stored_as_sign_in_checks_them():
    values = starter_code_values(list(range(500)))

    chars = re.escape(CODE_ALPHABET)
    assert [account_id for account_id, _code, _hash in values] == list(range(500))
    assert len({code for _id, code, _hash in values}) == 500
    for _id, code, code_hash in values:
        assert re.fullmatch(f"[{chars}]{{4}}-[{chars}]{{4}}-[{chars}]{{4}}", code)
        assert code_hash == starter_code_hash(code) == starter_code_hash(code.lower().replace("-", " "))


def test_a_sync_issued_starter_code_signs_in(client, school_a):
    account = member(school_a, "student_portal", person_type="student").account
    account.set_unusable_password()  # as the sync creates it
    account.save()
    (_id, code, code_hash), *_ = starter_code_values([account.pk])
    StarterCode.objects.create(
        school=school_a, account=account, code_hash=code_hash, expires_at=timezone.now() + timedelta(days=1)
    )

    response = client.post("/accounts/login/", {"login": account.username, "password": code})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


def test_reissuing_a_starter_code_retires_the_old_one(client, school_a):
    account, old = _starter(school_a)
    new = starter_code_issue(school=school_a, account=account)
    assert client.post("/accounts/login/", {"login": account.username, "password": old}).status_code == 200
    assert client.post("/accounts/login/", {"login": account.username, "password": new}).status_code == 302


def test_it_signs_in_with_a_starter_code_and_the_email_address_in_any_case(client, school_a):
    account = member(school_a, "student_portal", person_type="student", email="Pupil.One@alder.sch.uk").account
    code = starter_code_issue(school=school_a, account=account)

    response = client.post("/accounts/login/", {"login": "pupil.one@ALDER.sch.uk", "password": code})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)
    assert "/accounts/password/change/" in client.get(f"/s/{school_a.slug}/")["Location"]
    client.logout()
    again = client.post("/accounts/login/", {"login": "pupil.one@alder.sch.uk", "password": code})
    assert again.status_code == 200  # spent, by email as by username


def test_a_starter_code_signs_in_the_one_of_a_familys_accounts_it_was_issued_to(client, school_a):
    first, second = (member(school_a, person_type="contact", email="family@example.org").account for _ in range(2))
    starter_code_issue(school=school_a, account=first)
    code = starter_code_issue(school=school_a, account=second)

    response = client.post("/accounts/login/", {"login": "family@example.org", "password": code})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(second.pk)


def test_a_starter_code_with_someone_elses_email_signs_nobody_in(client, school_a):
    account, code = _starter(school_a)
    other = member(school_a, person_type="student", email="other@alder.sch.uk").account
    starter_code_issue(school=school_a, account=other)

    response = client.post("/accounts/login/", {"login": "other@alder.sch.uk", "password": code})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


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
