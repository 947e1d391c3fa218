"""A roster-reading service of school A's organisation, its client-credentials token, and people to read."""

import base64

import pytest
from django.test import Client

from accounts.models import Account
from signon import services
from signon.models import ROSTER_SCOPE
from tests.factories import ContactLinkFactory, member


def register_reader(organisation, name="Timetabler"):
    support = Account.objects.filter(is_staff=True).first() or Account.objects.create_user(
        "support.roster", is_staff=True
    )
    return services.service_register(
        actor=support, name=name, organisation=organisation, redirect_uris=[], role_codes=[], scopes=[ROSTER_SCOPE]
    )


def token_for(client: Client, service, secret, scope=ROSTER_SCOPE) -> str:
    basic = base64.b64encode(f"{service.application.client_id}:{secret}".encode()).decode()
    answer = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


@pytest.fixture
def reader(organisation):
    return register_reader(organisation)


@pytest.fixture
def roster(school_a):
    """A student with a parent, a teacher who is also a guardian of another student, at school A."""
    teacher = member(school_a, "eo", given_name="Violet", family_name="Boyce", email="vboyce@a.example")
    teacher.mis_code = "T1042"
    teacher.save()
    link = ContactLinkFactory(school=school_a, relationship="Parent")
    link.student.year_group = "7"
    link.student.save()
    return {"teacher": teacher, "student": link.student, "parent": link.contact}


@pytest.fixture
def api(client, reader):
    service, secret = reader
    token = token_for(client, service, secret)

    def get(path, **params):
        return client.get(f"/ims/oneroster/rostering/v1p2/{path}", params, HTTP_AUTHORIZATION=f"Bearer {token}")

    return get
