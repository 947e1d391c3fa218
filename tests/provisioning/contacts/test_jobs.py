"""Revoke Access and Send Welcome Email as background jobs: outcomes, idempotency, a real SMTP server."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError

from accounts.models import Account, AuditEvent, SetPasswordLink, UsernameHold
from provisioning.contacts import services
from provisioning.contacts.selectors import ContactStatus, contact_list, contacts_with_state, email_problems
from provisioning.contacts.tasks import contacts_revoke, contacts_welcome_email
from provisioning.models import ContactJobItem
from tenancy.models import Job
from tests.factories import PASSWORD, MembershipFactory
from tests.provisioning.contacts.conftest import make_contact, make_student

BASE = "http://testserver"


def rows(school, contacts):
    return list(contacts_with_state(school=school).filter(pk__in=[c.pk for c in contacts]))


def start_welcome(school, actor, contacts, capture):
    with capture(execute=True):
        return services.welcome_email_start(
            school=school, actor=actor, memberships=rows(school, contacts), base_url=BASE
        )


def start_revoke(school, actor, contacts, capture, confirm_count=None):
    with capture(execute=True):
        return services.revoke_start(
            school=school, actor=actor, memberships=rows(school, contacts), confirm_count=confirm_count
        )


def rerun(job, task):
    """A redelivered message for a job that was already worked on: the task runs again."""
    Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED)
    task(str(job.school_id), str(job.pk))


# --- Send Welcome Email -------------------------------------------------------------------------


def test_it_emails_a_single_use_set_password_link_as_html_and_text_through_smtp(
    client, school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False, email="ann@example.org")
    job = start_welcome(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.counts == {"Sent": 1}
    [message] = smtp_server.to("ann@example.org")
    assert "text/plain" in message["data"] and "text/html" in message["data"]
    assert PASSWORD not in message["data"]
    path = re.search(r"http://testserver(/welcome/[^/\s]+/)", message["data"]).group(1)
    done = client.post(path, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})
    assert done.status_code == 302
    assert contacts_with_state(school=school_a).get(pk=contact.pk).state == ContactStatus.ACTIVE
    assert client.get(path).status_code == 410  # single use
    item = ContactJobItem.objects.get(job=job)
    assert item.outcome == "sent" and item.email == "ann@example.org"


def test_running_the_welcome_task_twice_sends_one_email_per_contact(
    school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks
):
    student = make_student(school_a)
    contacts = [make_contact(school_a, students=[student], activated=False) for _ in range(3)]
    job = start_welcome(school_a, nominated_contact, contacts, django_capture_on_commit_callbacks)
    contacts_welcome_email(str(school_a.pk), str(job.pk))  # the same message delivered again
    rerun(job, contacts_welcome_email)  # and even a job put back in the queue
    assert len(smtp_server.messages) == 3
    assert sorted(len(smtp_server.to(c.account.email)) for c in contacts) == [1, 1, 1]
    assert SetPasswordLink.objects.filter(job=job).count() == 3


def test_a_batch_of_emails_goes_over_one_smtp_connection(
    school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 4)
    student = make_student(school_a)
    contacts = [make_contact(school_a, students=[student], activated=False) for _ in range(6)]
    start_welcome(school_a, nominated_contact, contacts, django_capture_on_commit_callbacks)
    assert len(smtp_server.messages) == 6
    assert smtp_server.connections == 2  # two batches (4 + 2), not six connections


def test_a_refused_address_is_recorded_as_failed_and_listed_as_an_email_problem(
    school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks
):
    student = make_student(school_a)
    good = make_contact(school_a, students=[student], activated=False, email="good@example.org")
    bad = make_contact(school_a, students=[student], activated=False, email="gone@example.org")
    smtp_server.refuse.add("gone@example.org")
    job = start_welcome(school_a, nominated_contact, [good, bad], django_capture_on_commit_callbacks)
    outcomes = dict(ContactJobItem.objects.filter(job=job).values_list("membership_id", "outcome"))
    assert outcomes == {good.pk: "sent", bad.pk: "failed"}
    failed = ContactJobItem.objects.get(job=job, membership=bad)
    assert "550" in failed.detail
    problems = email_problems(school=school_a)
    assert [i.membership_id for i in problems["failed"]] == [bad.pk]


def test_a_contact_without_an_email_is_an_email_problem(
    school_a, nominated_contact, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False, email="")
    assert [m.pk for m in email_problems(school=school_a)["no_email"]] == [contact.pk]
    job = start_welcome(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    item = ContactJobItem.objects.get(job=job)
    assert (item.outcome, item.detail) == ("failed", "No email address.")


def test_an_active_contact_gets_a_sign_in_reminder_with_a_new_link(
    school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[make_student(school_a)], email="act@example.org")
    start_welcome(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    [message] = smtp_server.to("act@example.org")
    assert "reminder of how to sign in" in message["data"] and "/welcome/" in message["data"]


def test_resending_invalidates_the_older_link(
    client, school_a, nominated_contact, smtp_server, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False, email="re@example.org")
    start_welcome(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    start_welcome(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    first, second = (re.search(r"(/welcome/[^/\s]+/)", m["data"]).group(1) for m in smtp_server.to("re@example.org"))
    assert client.get(first).status_code == 410 and client.get(second).status_code == 200


def test_welcome_email_refuses_contacts_that_are_ready_to_revoke(school_a, nominated_contact):
    contact = make_contact(school_a, students=[])
    with pytest.raises(ValidationError):
        services.welcome_email_start(
            school=school_a, actor=nominated_contact, memberships=rows(school_a, [contact]), base_url=BASE
        )


# --- Revoke Access ------------------------------------------------------------------------------


def _signed_in_session(account) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(account.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = account.get_session_auth_hash()
    session.create()
    return session.session_key


def test_revoke_removes_username_and_password_ends_sessions_and_keeps_the_record(
    client, school_a, nominated_contact, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[], username="old.parent")
    client.force_login(contact.account)
    other = _signed_in_session(contact.account)
    job = start_revoke(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.counts == {"Access revoked": 1}
    account = Account.objects.get(pk=contact.account_id)
    assert account.username == f"revoked-{account.pk.hex}"
    assert not account.has_usable_password() and not account.is_active
    assert not Session.objects.filter(session_key=other).exists()
    assert client.get("/me/profile/").status_code == 302  # signed out
    assert client.post("/accounts/login/", {"login": "old.parent", "password": PASSWORD}).status_code == 200
    assert UsernameHold.objects.filter(username_lower="old.parent", account=account).exists()
    assert contacts_with_state(school=school_a).get(pk=contact.pk).state == ContactStatus.NO_ACCESS
    event = AuditEvent.objects.get(action="accounts.account.access_revoked", job=job)
    assert event.changes["username"] == ["old.parent", None]
    item = ContactJobItem.objects.get(job=job)
    assert (item.username, item.reason) == ("old.parent", "wrong_contact")


def test_a_redelivered_revoke_task_revokes_nothing_twice(
    school_a, nominated_contact, django_capture_on_commit_callbacks
):
    contacts = [make_contact(school_a, students=[]) for _ in range(3)]
    job = start_revoke(school_a, nominated_contact, contacts, django_capture_on_commit_callbacks)
    contacts_revoke(str(school_a.pk), str(job.pk))
    rerun(job, contacts_revoke)
    assert AuditEvent.objects.filter(action="accounts.account.access_revoked").count() == 3
    assert ContactJobItem.objects.filter(job=job, outcome="revoked").count() == 3


def test_revoke_skips_a_contact_that_became_eligible_again(
    school_a, nominated_contact, django_capture_on_commit_callbacks
):
    student = make_student(school_a)
    contact = make_contact(school_a, students=[student])
    contact.student_links.update(portal_access=False)
    selected = rows(school_a, [contact])
    contact.student_links.update(portal_access=True)  # the MIS flag came back before the job ran
    with django_capture_on_commit_callbacks(execute=True):
        job = services.revoke_start(school=school_a, actor=nominated_contact, memberships=selected, confirm_count=None)
    assert ContactJobItem.objects.get(job=job).outcome == "skipped"
    assert Account.objects.get(pk=contact.account_id).is_active


def test_revoking_a_contact_who_is_also_staff_keeps_their_staff_sign_in(
    school_a, nominated_contact, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[], username="teacher.parent")
    MembershipFactory(school=school_a, account=contact.account, person_type="staff")
    start_revoke(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    account = Account.objects.get(pk=contact.account_id)
    assert account.username == "teacher.parent" and account.is_active and account.has_usable_password()
    assert contacts_with_state(school=school_a).get(pk=contact.pk).state == ContactStatus.NO_ACCESS


def test_revoking_more_than_the_threshold_needs_the_number_typed(school_a, nominated_contact, monkeypatch):
    monkeypatch.setattr(services, "REVOKE_WARNING_OVER", 2)
    contacts = [make_contact(school_a, students=[]) for _ in range(3)]
    with pytest.raises(ValidationError, match="usually means a portal-access flag was changed"):
        services.revoke_start(
            school=school_a, actor=nominated_contact, memberships=rows(school_a, contacts), confirm_count=2
        )
    job = services.revoke_start(
        school=school_a, actor=nominated_contact, memberships=rows(school_a, contacts), confirm_count=3
    )
    assert job.progress_total == 3


def test_revoke_only_takes_contacts_ready_to_revoke(school_a, nominated_contact):
    active = make_contact(school_a, students=[make_student(school_a)])
    with pytest.raises(ValidationError, match="None of the selected"):
        services.revoke_start(
            school=school_a, actor=nominated_contact, memberships=rows(school_a, [active]), confirm_count=None
        )
    assert list(contact_list(school=school_a, state=ContactStatus.ACTIVE)) == [active]
