"""The API's schema and Swagger UI: for a signed-in person or an API token in production, open with DEBUG on."""

import pytest
from django.test import Client, override_settings

from accounts.services.tokens import api_token_issue, api_token_revoke
from tests.factories import member

SCHEMA = "/api/schema/?format=json"
DOCS = "/api/docs/"


@pytest.fixture
def raw_token(school_a, centre_admin):
    _token, raw = api_token_issue(school=school_a, account=centre_admin, name="MIS agent", role_codes=["mis_agent"])
    return raw


@pytest.mark.parametrize("url", [SCHEMA, DOCS, f"{DOCS}?script="])
def test_a_signed_out_visitor_gets_neither_schema_nor_docs_in_production(client, db, settings, url):
    settings.DEBUG = False
    response = client.get(url)
    assert response.status_code in (302, 401, 403)
    assert b"openapi" not in response.content
    assert b"SwaggerUIBundle" not in response.content


def test_the_docs_send_a_signed_out_visitor_to_sign_in(client, db, settings):
    settings.DEBUG = False
    response = client.get(DOCS)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/api/docs/")


def test_a_signed_in_person_reads_the_schema_and_the_docs(login, centre_admin, settings):
    settings.DEBUG = False
    client = login(centre_admin)
    assert client.get(SCHEMA).json()["openapi"].startswith("3.")
    docs = client.get(DOCS)
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert client.get(f"{DOCS}?script=").status_code == 200


def test_an_api_token_of_any_school_reads_the_schema(db, raw_token, settings):
    settings.DEBUG = False
    response = Client(HTTP_AUTHORIZATION=f"Token {raw_token}").get(SCHEMA)
    assert response.status_code == 200, response.content
    assert response.json()["openapi"].startswith("3.")


def test_a_wrong_or_revoked_token_does_not_read_the_schema(db, school_a, centre_admin, raw_token, settings):
    settings.DEBUG = False
    assert Client(HTTP_AUTHORIZATION="Token rc_not-a-token").get(SCHEMA).status_code in (401, 403)
    token, raw = api_token_issue(school=school_a, account=centre_admin, name="old", role_codes=["mis_agent"])
    api_token_revoke(school=school_a, token=token, actor=centre_admin)
    assert Client(HTTP_AUTHORIZATION=f"Token {raw}").get(SCHEMA).status_code in (401, 403)


def test_a_token_of_a_locked_out_account_does_not_read_the_schema(db, school_a, settings):
    settings.DEBUG = False
    account = member(school_a, "centre_admin", username="gone.admin").account
    _token, raw = api_token_issue(school=school_a, account=account, name="x", role_codes=["mis_agent"])
    account.is_active = False
    account.save(update_fields=["is_active"])
    assert Client(HTTP_AUTHORIZATION=f"Token {raw}").get(SCHEMA).status_code in (401, 403)


@override_settings(DEBUG=True)
def test_with_debug_on_the_schema_is_open(client, db):
    assert client.get(SCHEMA).status_code == 200
