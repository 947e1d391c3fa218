"""The service's SCIM bearer token: stored encrypted, never shown back, never in a log line, the push log,
a run's error or the audit trail; a wrong one stops the run with a message support can act on."""

import logging

import pytest

from accounts.models import AuditEvent
from outbound.models import ScimExchange, ScimRun, ScimTarget
from outbound.secrets import token_decrypt
from tests.factories import member
from tests.outbound.conftest import TOKEN
from tests.outbound.test_push import push


@pytest.fixture
def hub(school_a, service_of, target_for, downstream):
    return target_for(service_of(school_a.organisation), downstream)


def test_it_is_stored_encrypted(hub):
    stored = ScimTarget.objects.values_list("token_encrypted", flat=True).get(pk=hub.pk)
    assert TOKEN not in stored
    assert token_decrypt(stored) == TOKEN


def test_it_never_reaches_the_logs_or_the_push_log(school_a, hub, downstream, caplog):
    member(school_a, "eo", username="eo.kim")
    with caplog.at_level(logging.DEBUG):
        push(hub)
    assert ScimExchange.objects.filter(target=hub).exists()
    assert TOKEN not in caplog.text
    for x in ScimExchange.objects.filter(target=hub):
        assert TOKEN not in f"{x.method} {x.path} {x.sent} {x.answered}"


def test_a_refused_token_fails_the_run_without_showing_it(school_a, service_of, target_for, downstream, caplog):
    target = target_for(service_of(school_a.organisation), downstream, token="wrong-" + TOKEN)
    member(school_a, "eo", username="eo.kim")
    with caplog.at_level(logging.DEBUG):
        run = push(target)
    assert run.state == ScimRun.State.FAILED
    assert "refused Rollcall's SCIM token (401)" in run.error
    assert TOKEN not in caplog.text and TOKEN not in run.error
    assert downstream.users() == {}


def test_the_support_admin_shows_set_or_not_set_and_audits_it_masked(
    school_a, service_of, downstream, client, support_user
):
    service = service_of(school_a.organisation)
    client.force_login(support_user)
    answer = client.post(
        "/admin/outbound/scimtarget/add/",
        {"service": service.pk, "endpoint": downstream.endpoint, "token": TOKEN, "enabled": "on"},
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    target = ScimTarget.objects.get(service=service)
    assert token_decrypt(target.token_encrypted) == TOKEN

    page = client.get(f"/admin/outbound/scimtarget/{target.pk}/change/").content.decode()
    assert TOKEN not in page and target.token_encrypted not in page
    assert "Set" in page
    listing = client.get("/admin/outbound/scimtarget/").content.decode()
    assert TOKEN not in listing

    # Saved again with the token box left empty: the token is kept.
    answer = client.post(
        f"/admin/outbound/scimtarget/{target.pk}/change/",
        {"service": service.pk, "endpoint": downstream.endpoint, "token": "", "enabled": "on", "push_groups": "on"},
    )
    assert answer.status_code == 302
    target.refresh_from_db()
    assert token_decrypt(target.token_encrypted) == TOKEN and target.push_groups
    for event in AuditEvent.objects.filter(target_id=str(target.pk)):
        assert TOKEN not in str(event.changes)
    assert AuditEvent.objects.filter(action="admin.scimtarget.added").exists()


def test_a_shared_service_cannot_have_a_scim_push(service_of, client, support_user, downstream):
    shared = service_of(None, name="Shared Hub")
    client.force_login(support_user)
    answer = client.post(
        "/admin/outbound/scimtarget/add/",
        {"service": shared.pk, "endpoint": downstream.endpoint, "token": TOKEN, "enabled": "on"},
    )
    assert answer.status_code == 200
    assert "a shared service would receive every" in answer.content.decode()
    assert not ScimTarget.objects.exists()
