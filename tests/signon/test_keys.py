"""Signing keys: from the environment (several PEM blocks in one variable), generated once into var/ otherwise,
and rotated with the old key still published until its tokens expire."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import override_settings

from config import signing_keys
from tests.factories import member
from tests.signon.conftest import SignIn


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_several_keys_in_one_variable_are_read_apart(monkeypatch):
    first, second = _pem(), _pem()
    monkeypatch.setenv("OIDC_RSA_PRIVATE_KEYS_INACTIVE", first + second.replace("\n", "\\n"))
    assert signing_keys.inactive_keys() == [first.strip() + "\n", second.strip() + "\n"]


def test_a_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("OIDC_RSA_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("OIDC_RSA_PRIVATE_KEY_FILE", raising=False)
    key = signing_keys.active_key(tmp_path)
    assert "PRIVATE KEY" in key and signing_keys.active_key(tmp_path) == key
    assert (tmp_path / "oidc-signing-key.pem").stat().st_mode & 0o077 == 0
    assert list(tmp_path.iterdir()) == [tmp_path / "oidc-signing-key.pem"]


def test_the_environment_key_wins(tmp_path, monkeypatch):
    pem = _pem()
    monkeypatch.setenv("OIDC_RSA_PRIVATE_KEY", pem)
    assert signing_keys.active_key(tmp_path) == pem.strip() + "\n"
    assert not list(tmp_path.iterdir())


def test_a_rotated_key_stays_published_and_its_id_tokens_still_validate(sign_in_to, school_a):
    flow = sign_in_to()
    token = flow.token(flow.authorize(member(school_a, "inv").account))
    old = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    rotated = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": _pem(), "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old]}
    with override_settings(OAUTH2_PROVIDER=rotated):
        keys = flow.rp.get(flow.discovery["jwks_uri"], withhold_token=True).json()["keys"]
        assert len(keys) == 2
        flow.id_claims(token)  # signed with the old key, found in the JWKS by its kid
        fresh = SignIn(flow.service, flow.secret)
        fresh.id_claims(fresh.token(fresh.authorize(member(school_a, "inv").account)))


def test_the_generated_key_is_made_only_when_first_used(tmp_path, monkeypatch):
    monkeypatch.delenv("OIDC_RSA_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("OIDC_RSA_PRIVATE_KEY_FILE", raising=False)
    setting = signing_keys.active_key_setting(tmp_path)
    assert not list(tmp_path.iterdir())  # a worker or a management command never makes one
    assert setting and "PRIVATE KEY" in str(setting)
    assert (tmp_path / "oidc-signing-key.pem").exists()
