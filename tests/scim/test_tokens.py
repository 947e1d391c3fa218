"""Support issues an organisation's SCIM token in the admin: shown once, stored hashed, audited, revocable."""

import pytest

from accounts.models import AuditEvent
from scim.models import ScimToken

pytestmark = pytest.mark.django_db


def test_support_issues_a_token_shown_once_and_stored_hashed(client, support_user, trust):
    client.force_login(support_user)

    response = client.post(
        "/admin/scim/scimtoken/add/", {"name": "Entra ID", "organisation": trust.pk, "role_codes": ["eo", "inv"]}
    )

    assert response.status_code == 200
    raw = response.context["raw"]
    assert raw.startswith("rc_scim_") and raw in response.content.decode()
    assert "http://testserver/scim/v2/" in response.content.decode()
    token = ScimToken.objects.get(organisation=trust)
    assert token.role_codes == ["eo", "inv"] and raw not in str(ScimToken.objects.values().get())
    assert AuditEvent.objects.filter(action="scim.token.issued", actor=support_user).exists()
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_centre_admin_is_not_offered(client, support_user, trust):
    client.force_login(support_user)

    response = client.post(
        "/admin/scim/scimtoken/add/", {"name": "Okta", "organisation": trust.pk, "role_codes": ["centre_admin"]}
    )

    assert response.status_code == 200 and "centre_admin" not in dict(
        response.context["adminform"].form.fields["role_codes"].choices
    )
    assert not ScimToken.objects.exists()


def test_revoking_stops_it_at_once(client, support_user, trust_token):
    token, raw = trust_token
    client.force_login(support_user)

    client.post("/admin/scim/scimtoken/", {"action": "revoke", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="scim.token.revoked").exists()
    client.logout()
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
