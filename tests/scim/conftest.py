"""An organisation with two schools and its SCIM token; a second organisation with its own; and a WSGI
application that sends each request through the whole of Django (middleware included) in this process, as the
test client does, so a client library talks to /scim/v2/ as it would over the network."""

import pytest
from django.test.client import ClientHandler

from scim import services
from tests.factories import OrganisationFactory, SchoolFactory

BASE = "http://testserver/scim/v2"
ROLES = ["eo", "slt", "inv", "teacher_security"]


def wsgi_app(environ, start_response):
    """Django's test handler as a WSGI application: it leaves the test's database connection open (the real
    handler would close it at the end of each request), and checks CSRF as a browser request would be."""
    response = ClientHandler(enforce_csrf_checks=True)(environ)
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


@pytest.fixture
def issue(support_user):
    def make(organisation, roles=ROLES, name="Entra ID"):
        return services.scim_token_issue(organisation=organisation, actor=support_user, name=name, role_codes=roles)

    return make


@pytest.fixture
def trust(db):
    organisation = OrganisationFactory(name="Oakwood Trust", slug="oakwood")
    SchoolFactory(organisation=organisation, name="Oak Primary", slug="oak-primary")
    SchoolFactory(organisation=organisation, name="Oak Secondary", slug="oak-secondary")
    return organisation


@pytest.fixture
def trust_token(trust, issue):
    return issue(trust)


@pytest.fixture
def other_trust(db):
    organisation = OrganisationFactory(name="Elmfield Trust", slug="elmfield")
    SchoolFactory(organisation=organisation, name="Elm School", slug="elm-school")
    return organisation


@pytest.fixture
def other_token(other_trust, issue):
    return issue(other_trust, name="Okta")


@pytest.fixture
def scim(client):
    """scim(token) -> a function (method, path, body=None, **query) answering the response and its JSON."""

    def bound(raw):
        def call(method, path, body=None, **query):
            import json

            url = f"/scim/v2/{path}"
            if query:
                from urllib.parse import urlencode

                url += "?" + urlencode(query)
            response = client.generic(
                method,
                url,
                data=json.dumps(body) if body is not None else "",
                content_type="application/scim+json",
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )
            return response, (response.json() if response.content else None)

        return call

    return bound
