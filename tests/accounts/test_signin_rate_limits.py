"""Sign-in rate limits: a school behind one address signs in; guessing one account's password is stopped."""

import os
import subprocess
import sys

import pytest
from allauth.core.internal.httpkit import get_client_ip
from django.conf import settings
from django.test import Client, RequestFactory, override_settings

from tests.factories import PASSWORD, member

LOGIN = "/accounts/login/"
SCHOOL_NAT = "203.0.113.7"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(fresh_cache):
    yield


def _sign_in(login, password=PASSWORD, **headers):
    client = Client(REMOTE_ADDR=SCHOOL_NAT, **headers)
    response = client.post(LOGIN, {"login": login, "password": password})
    return client, response


def _signed_in(client) -> bool:
    return client.get("/me/profile/").status_code == 200


def test_a_class_of_thirty_signs_in_at_once_from_one_address_typos_and_all(school_a):
    pupils = [member(school_a, "student_portal", username=f"pupil{n:02}").account for n in range(30)]
    typists = {"pupil03", "pupil11", "pupil20", "pupil27"}

    refused = []
    for pupil in pupils:
        if pupil.username in typists:
            _, response = _sign_in(pupil.username, "rollcal-demo")  # a typo first
            assert response.status_code == 200
        client, response = _sign_in(pupil.username)
        if response.status_code != 302 or not _signed_in(client):
            refused.append(pupil.username)

    assert refused == []


def test_a_school_of_several_classes_mistyping_different_accounts_is_not_locked_out(school_a):
    """Failures across many usernames from one address are a school's typos, not one attack."""
    for n in range(20):
        member(school_a, "student_portal", username=f"typist{n:02}")
        _sign_in(f"typist{n:02}", "wrong-password")
    client, response = _sign_in("typist00")
    assert response.status_code == 302
    assert _signed_in(client)


@pytest.mark.parametrize("spread_over_addresses", [False, True])
def test_guessing_one_accounts_password_is_refused_after_five_failures(school_a, spread_over_addresses):
    member(school_a, "eo", username="j.smith")
    for n in range(5):
        headers = {"REMOTE_ADDR": f"198.51.100.{n + 1}"} if spread_over_addresses else {}
        client = Client(**({"REMOTE_ADDR": SCHOOL_NAT} | headers))
        response = client.post(LOGIN, {"login": "j.smith", "password": f"guess-{n}"})
        assert "Too many failed login attempts" not in response.content.decode()

    for login in ("j.smith", "J.SMITH"):
        client, response = _sign_in(login)  # even the right password, on the sixth try
        assert response.status_code == 200
        assert "Too many failed login attempts" in response.content.decode()
        assert not _signed_in(client)


def test_five_guesses_are_per_account_whatever_the_spelling_of_its_login(school_a):
    """Found by trying it: full-width and mixed spellings ("ｊ.smith", "j.ｓmith") and the account's email each
    had five guesses of their own, so one account took hundreds."""
    member(school_a, "eo", username="j.smith", email="jane.smith@alder.sch.uk")
    spellings = ["j.smith", "ｊ.smith", "j.ｓmith", "JANE.SMITH@alder.sch.uk", "ｊ．ｓｍｉｔｈ"]
    for n, login in enumerate(spellings):
        _, response = _sign_in(login, f"guess-{n}")
        assert "Too many failed login attempts" not in response.content.decode()
    for login in ("j.ｓmith", "jane.smith@alder.sch.uk", "j.smith"):
        client, response = _sign_in(login)
        assert "Too many failed login attempts" in response.content.decode()
        assert not _signed_in(client)


def _client_ip(**meta) -> str | None:
    return get_client_ip(RequestFactory().post(LOGIN, **meta))


def test_the_client_address_comes_from_x_forwarded_for_only_with_a_trusted_proxy_count():
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 192.0.2.50"}
    with override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=0):
        assert _client_ip(**meta) == "10.0.0.2"  # anyone can write X-Forwarded-For
    with override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1):
        # The address our one proxy saw the request come from; what came before it could be forged.
        assert _client_ip(**meta) == "192.0.2.50"
        assert _client_ip(REMOTE_ADDR="10.0.0.2") == "10.0.0.2"


def test_failures_behind_a_trusted_proxy_count_against_each_client_not_the_proxy(school_a):
    member(school_a, "eo", username="j.smith")
    with override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1, ACCOUNT_RATE_LIMITS={"login_failed": "3/m/ip"}):
        for n in range(3):
            _sign_in("nobody", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}")
            _sign_in("nobody", "guess", HTTP_X_FORWARDED_FOR="198.51.100.99")
        # 198.51.100.99 has used its allowance; another client behind the same proxy has not.
        _, blocked = _sign_in("j.smith", HTTP_X_FORWARDED_FOR="198.51.100.99")
        assert blocked.status_code == 200
        client, response = _sign_in("j.smith", HTTP_X_FORWARDED_FOR="198.51.100.200")
        assert response.status_code == 302
        assert _signed_in(client)


def test_the_trusted_proxy_count_is_read_from_the_environment():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    for value, expected in (("2", "2"), ("", "0")):
        env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1", TRUSTED_PROXY_COUNT=value)
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.stdout.strip().splitlines()[-1] == expected, result.stderr
