"""A relying party built on Authlib, talking to Rollcall in-process: its requests go through Django's test client
(a requests transport adapter), so discovery, keys, tokens and userinfo are read and checked by the client library
exactly as over the network, without a server."""

import secrets
import warnings
from urllib.parse import urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.test import Client

with warnings.catch_warnings():
    # Authlib announces joserfc as authlib.jose's successor; its OIDC claim classes still use authlib.jose.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken
from signon import services

REDIRECT_URI = "https://rp.example.org/callback"
ISSUER = "http://testserver"


class DjangoTransport(requests.adapters.BaseAdapter):
    """Sends a requests.PreparedRequest to the Django test client and hands its answer back to requests."""

    def __init__(self):
        super().__init__()
        self.client = Client()

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        headers = {
            f"HTTP_{k.upper().replace('-', '_')}": v
            for k, v in request.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        body = request.body or b""
        answer = self.client.generic(
            request.method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=body.encode() if isinstance(body, str) else body,
            content_type=request.headers.get("Content-Type", ""),
            **headers,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers.update({k: v for k, v in answer.items()})
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def relying_party(client_id: str, secret: str, scope: str) -> OAuth2Session:
    session = OAuth2Session(
        client_id,
        secret or None,
        scope=scope,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
    )
    session.mount("http://testserver/", DjangoTransport())
    return session


@pytest.fixture
def register(organisation):
    """register(roles=[...], scopes=[...], organisation=...) -> (service, client secret)."""

    def make(roles=("student_portal", "parent", "inv"), scopes=("profile", "email", "schools"), **kw):
        from accounts.models import Account

        support = Account.objects.filter(is_staff=True).first() or Account.objects.create_user(
            "support.signon", is_staff=True
        )
        return services.service_register(
            actor=support,
            name=kw.pop("name", "Exams Office Hub"),
            organisation=kw.pop("organisation", organisation),
            redirect_uris=[REDIRECT_URI],
            post_logout_redirect_uris=["https://rp.example.org/signed-out"],
            role_codes=list(roles),
            scopes=list(scopes),
            **kw,
        )

    return make


class SignIn:
    """One sign-in of a person to a service, as its relying party does it, with a browser (the test client)."""

    def __init__(self, service, secret, scope="openid profile email schools"):
        self.service, self.secret = service, secret
        self.rp = relying_party(service.application.client_id, secret, scope)
        self.discovery = self.rp.get(f"{ISSUER}/.well-known/openid-configuration", withhold_token=True).json()
        self.browser = Client()
        self.nonce = generate_token(20)
        self.verifier = secrets.token_urlsafe(48)

    def authorize(self, account, **extra):
        """The browser's visit to the sign-in URL; returns Rollcall's answer."""
        if account is not None:
            self.browser.force_login(account)
        url, self.state = self.rp.create_authorization_url(
            self.discovery["authorization_endpoint"], nonce=self.nonce, code_verifier=self.verifier, **extra
        )
        return self.browser.get(url.removeprefix(ISSUER))

    def token(self, answer):
        return self.rp.fetch_token(
            self.discovery["token_endpoint"], authorization_response=answer["Location"], code_verifier=self.verifier
        )

    def id_claims(self, token):
        keys = JsonWebKey.import_key_set(self.rp.get(self.discovery["jwks_uri"], withhold_token=True).json())
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"values": [self.discovery["issuer"]]}},
            claims_params={"nonce": self.nonce, "client_id": self.rp.client_id, "access_token": token["access_token"]},
        )
        claims.validate(leeway=5)
        return claims

    def userinfo(self, token):
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        return self.rp.get(self.discovery["userinfo_endpoint"], withhold_token=True, headers=headers)


@pytest.fixture
def sign_in_to(register):
    def make(scope="openid profile email schools", **kw):
        kw.setdefault("scopes", [s for s in scope.split() if s != "openid"])
        service, secret = register(**kw)
        return SignIn(service, secret, scope)

    return make
