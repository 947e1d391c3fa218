"""The Account Manager API: contacts by state; start Revoke Access and Send Welcome Email."""

from rest_framework.test import APIClient

from tenancy.models import Job
from tests.factories import member
from tests.provisioning.contacts.conftest import make_contact, make_student

API = "/api/s/alder/contacts/"


def api_for(account):
    client = APIClient()
    client.force_authenticate(account)
    client.force_login(account)
    return client


def test_it_lists_contacts_in_a_state_with_reason_and_replacement(school_a, nominated_contact):
    student = make_student(school_a)
    old = make_contact(school_a, students=[], email="x@example.org")
    new = make_contact(school_a, students=[student], activated=False, email="x@example.org")
    body = api_for(nominated_contact).get(API, {"state": "ready_to_revoke"}).json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row["id"] == str(old.pk) and row["state_label"] == "Ready to Revoke Access"
    assert row["reason"] == "replaced" and row["replacement_id"] == str(new.pk)


def test_a_bad_state_is_a_400_not_a_500(nominated_contact):
    response = api_for(nominated_contact).get(API, {"state": "nonsense"})
    assert response.status_code == 400


def test_it_starts_revoke_for_every_contact_in_a_state(school_a, nominated_contact, django_capture_on_commit_callbacks):
    make_contact(school_a, students=[])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(nominated_contact).post(API + "revoke/", {"state": "ready_to_revoke"}, format="json")
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["id"]).state == Job.State.SUCCEEDED


def test_it_starts_welcome_email_for_chosen_contacts(
    school_a, nominated_contact, django_capture_on_commit_callbacks, mailoutbox
):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(nominated_contact).post(
            API + "welcome-email/", {"contact_ids": [str(contact.pk)]}, format="json"
        )
    assert response.status_code == 202 and len(mailoutbox) == 1


def test_nothing_to_revoke_is_a_400_with_a_reason(school_a, nominated_contact):
    response = api_for(nominated_contact).post(API + "revoke/", {"state": "active"}, format="json")
    assert response.status_code == 400 and "Ready to Revoke Access" in str(response.json())


def test_an_eo_cannot_list_or_start_anything(school_a):
    client = api_for(member(school_a, "eo").account)
    assert client.get(API).status_code == 403
    assert client.post(API + "revoke/", {"state": "ready_to_revoke"}, format="json").status_code == 403


def test_admin_level_one_may_send_welcome_but_not_revoke(school_a):
    client = api_for(member(school_a, "admin_level_one").account)
    assert client.post(API + "revoke/", {"state": "ready_to_revoke"}, format="json").status_code == 403
    assert client.post(API + "welcome-email/", {"state": "ready_to_provision"}, format="json").status_code == 400
