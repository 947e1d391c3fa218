"""Support registers a roster reader in the support admin: no redirect URIs, the OneRoster scope, no roles."""

import pytest
from oauth2_provider.models import Application

from signon.models import ROSTER_SCOPE, ConnectedService

pytestmark = pytest.mark.django_db
ADD = "/admin/signon/connectedservice/add/"


def test_support_registers_a_roster_reader_with_client_credentials(client, support_user, organisation):
    client.force_login(support_user)
    answer = client.post(
        ADD,
        {"name": "Timetabler", "organisation": organisation.pk, "redirect_uris": "", "scope_choices": [ROSTER_SCOPE]},
    )
    assert answer.status_code == 200, answer.content.decode()[:2000]
    service = ConnectedService.objects.get(name="Timetabler")
    assert service.application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert service.application.client_type == Application.CLIENT_CONFIDENTIAL
    assert answer.context["secret"] and ROSTER_SCOPE in service.scope_list


def test_without_redirect_uris_or_the_roster_scope_it_says_what_is_missing(client, support_user, organisation):
    client.force_login(support_user)
    answer = client.post(
        ADD, {"name": "Nothing", "organisation": organisation.pk, "redirect_uris": "", "roles": ["eo"]}
    )
    assert "tick the OneRoster scope" in str(answer.context["adminform"].form.errors)
    assert not ConnectedService.objects.exists()


def test_a_sign_in_service_still_needs_its_roles(client, support_user, organisation):
    client.force_login(support_user)
    answer = client.post(
        ADD, {"name": "Hub", "organisation": organisation.pk, "redirect_uris": "https://hub.example.org/cb"}
    )
    assert "Choose the roles" in str(answer.context["adminform"].form.errors)
    assert not ConnectedService.objects.exists()
