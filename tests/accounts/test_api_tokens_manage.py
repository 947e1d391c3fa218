"""A school issues, lists and revokes the API tokens its MIS agent and scripts use: screen, API, command."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django_scopes import scope

from accounts.models import AuditEvent
from tenancy.models import ApiToken
from tests.factories import member
from tests.provisioning.sync_helpers import feed_zip, student


def _tokens(school):
    with scope(school=school):
        return list(ApiToken.objects.filter(school=school))


def test_it_issues_a_mis_agent_token_shown_once_that_pushes_feeds(client, login, school_a, nominated_contact):
    login(nominated_contact)
    response = client.post(f"/s/{school_a.slug}/api-tokens/", {"name": "MIS agent", "scope": "mis_agent"}, follow=True)
    assert response.status_code == 200
    raw = response.context["issued"]["raw"]
    assert raw.startswith("rc_") and raw.encode() in response.content
    (token,) = _tokens(school_a)
    assert token.role_codes == ["mis_agent"] and token.account == nominated_contact
    assert raw not in token.token_hash
    # The list never shows it again.
    again = client.get(f"/s/{school_a.slug}/api-tokens/")
    assert raw.encode() not in again.content and b"MIS agent" in again.content
    # It opens the feed push API for its school, and nothing else.
    client.logout()
    upload = SimpleUploadedFile("export.zip", feed_zip([student("S1")]))
    pushed = client.post(f"/api/s/{school_a.slug}/sync/feeds/", {"file": upload}, HTTP_AUTHORIZATION=f"Token {raw}")
    assert pushed.status_code == 201
    people = client.get(f"/api/s/{school_a.slug}/accounts/", HTTP_AUTHORIZATION=f"Token {raw}")
    assert people.status_code == 403
    with scope(school=school_a):
        assert AuditEvent.objects.filter(action="tenancy.api_token.issued").count() == 1


def test_it_refuses_a_scope_above_the_issuer(client, login, school_a, nominated_contact):
    login(nominated_contact)
    response = client.post(f"/s/{school_a.slug}/api-tokens/", {"name": "x", "scope": "centre_admin"})
    assert response.status_code == 400
    assert b"cannot issue a token with the scope" in response.content
    assert _tokens(school_a) == []


def test_it_asks_for_a_name(client, login, school_a, nominated_contact):
    login(nominated_contact)
    response = client.post(f"/s/{school_a.slug}/api-tokens/", {"name": "  ", "scope": "mis_agent"})
    assert response.status_code == 400 and b"Give the token a name" in response.content


def test_revoking_stops_the_token_at_once(client, login, school_a, nominated_contact, centre_admin):
    login(centre_admin)
    raw = client.post(
        f"/s/{school_a.slug}/api-tokens/", {"name": "agent", "scope": "nominated_contact"}, follow=True
    ).context["issued"]["raw"]
    (token,) = _tokens(school_a)
    client.logout()
    assert client.get(f"/api/s/{school_a.slug}/accounts/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 200
    # Another manager of the school may revoke it: a leaked token must not wait for its issuer.
    login(nominated_contact)
    response = client.post(f"/s/{school_a.slug}/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    client.logout()
    assert client.get(f"/api/s/{school_a.slug}/accounts/", HTTP_AUTHORIZATION=f"Token {raw}").status_code == 404


@pytest.mark.parametrize("role", ["eo", "slt", "inv", "admin_level_one", "access_slt", "teacher_security"])
def test_roles_that_do_not_manage_the_school_cannot_open_tokens(client, login, school_a, role):
    account = member(school_a, role, username=f"{role}.tok").account
    login(account)
    assert client.get(f"/s/{school_a.slug}/api-tokens/").status_code == 403
    assert client.get(f"/api/s/{school_a.slug}/api-tokens/").status_code == 403


def test_the_api_issues_lists_and_revokes(client, login, school_a, centre_admin):
    login(centre_admin)
    created = client.post(
        f"/api/s/{school_a.slug}/api-tokens/", {"name": "MIS", "scope": "mis_agent"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith("rc_") and body["scope"] == "mis_agent"
    listed = client.get(f"/api/s/{school_a.slug}/api-tokens/").json()
    assert [t["id"] for t in listed] == [body["id"]] and "token" not in listed[0]
    bad = client.post(
        f"/api/s/{school_a.slug}/api-tokens/", {"name": "x", "scope": "nope"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "scope" in bad.json()["errors"]
    assert client.delete(f"/api/s/{school_a.slug}/api-tokens/{body['id']}/").status_code == 204
    assert _tokens(school_a)[0].revoked_at is not None


def test_a_token_cannot_mint_tokens(client, login, school_a, centre_admin):
    login(centre_admin)
    body = {"name": "s", "scope": "nominated_contact"}
    raw = client.post(f"/api/s/{school_a.slug}/api-tokens/", body, content_type="application/json").json()["token"]
    client.logout()
    response = client.post(
        f"/api/s/{school_a.slug}/api-tokens/",
        {"name": "more", "scope": "mis_agent"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {raw}",
    )
    assert response.status_code == 403
    assert len(_tokens(school_a)) == 1


def test_another_schools_token_is_not_found(client, login, school_a, school_b, centre_admin, other_school_admin):
    login(other_school_admin)
    raw_b = client.post(
        f"/api/s/{school_b.slug}/api-tokens/", {"name": "b", "scope": "mis_agent"}, content_type="application/json"
    ).json()
    login(centre_admin)
    assert client.delete(f"/api/s/{school_a.slug}/api-tokens/{raw_b['id']}/").status_code == 404
    assert client.post(f"/s/{school_a.slug}/api-tokens/{raw_b['id']}/revoke/").status_code == 404


def test_the_command_prints_the_token_once(school_a, centre_admin):
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", school=school_a.slug, scope="mis_agent", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("rc_") and "ca.alder" in err.getvalue()
    (token,) = _tokens(school_a)
    assert token.role_codes == ["mis_agent"] and token.account == centre_admin


def test_the_command_explains_a_school_without_centre_admin(school_a):
    with pytest.raises(CommandError, match="no Centre Admin"):
        call_command("api_token", school=school_a.slug, scope="mis_agent")
    with pytest.raises(CommandError, match="No school"):
        call_command("api_token", school="nowhere", scope="mis_agent")


# --- A token acts with its scope, never with its issuer's full rights (found by an outside test) ------------


def _token(school, account, scope):
    from accounts.services.tokens import api_token_issue

    return api_token_issue(school=school, account=account, name="script", role_codes=[scope])[1]


def test_a_role_scoped_token_grants_and_edits_only_what_its_role_may(client, school_a, centre_admin):
    slt = member(school_a, "slt", username="slt.alder", email="slt@alder.sch.uk")
    raw = _token(school_a, centre_admin, "eo")
    auth = {"HTTP_AUTHORIZATION": f"Token {raw}"}
    api = f"/api/s/{school_a.slug}/accounts/"
    granted = client.post(f"{api}{slt.pk}/roles/", {"role": "centre_admin"}, content_type="application/json", **auth)
    assert granted.status_code == 403
    emailed = client.patch(f"{api}{slt.pk}/", {"email": "x@alder.sch.uk"}, content_type="application/json", **auth)
    assert emailed.status_code == 403
    own = centre_admin.memberships.get(school=school_a)
    locked = client.patch(f"{api}{own.pk}/", {"locked_out": True}, content_type="application/json", **auth)
    assert locked.status_code == 403
    centre_admin.refresh_from_db()
    assert not centre_admin.locked_out
    with scope(school=school_a):
        assert not slt.role_assignments.filter(role_id="centre_admin").exists()
    # What an Exams Officer may do, the token may.
    named = client.patch(f"{api}{slt.pk}/", {"given_name": "Sally"}, content_type="application/json", **auth)
    assert named.status_code == 200, named.content


def test_a_token_stops_while_its_issuer_waits_for_approval(client, school_a, nominated_contact):
    raw = _token(school_a, nominated_contact, "mis_agent")
    type(nominated_contact).objects.filter(pk=nominated_contact.pk).update(approved=False)
    upload = SimpleUploadedFile("export.zip", feed_zip([student("S1")]))
    pushed = client.post(f"/api/s/{school_a.slug}/sync/feeds/", {"file": upload}, HTTP_AUTHORIZATION=f"Token {raw}")
    assert pushed.status_code == 404
