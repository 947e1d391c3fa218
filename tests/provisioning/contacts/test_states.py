"""Contact states and the reasons a contact is Ready to Revoke Access, all derived from the registry."""

from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.credentials import set_password_link_issue, starter_code_issue
from accounts.selectors import linked_students
from provisioning.contacts.selectors import (
    ContactStatus,
    RevokeReason,
    contact_list,
    contact_state_counts,
    contacts_with_state,
    revoke_reasons,
)
from tests.provisioning.contacts.conftest import make_contact, make_student


def state_of(school, contact):
    return contacts_with_state(school=school).get(pk=contact.pk).state


def reason_of(school, contact):
    row = contacts_with_state(school=school).get(pk=contact.pk)
    return revoke_reasons(school=school, contacts=[row])[row.pk]


def test_it_shows_an_eligible_contact_who_chose_a_password_as_active(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)])
    assert state_of(school_a, contact) == ContactStatus.ACTIVE


def test_it_shows_an_eligible_contact_without_a_password_as_ready_to_provision(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False)
    assert state_of(school_a, contact) == ContactStatus.READY_TO_PROVISION


def test_a_forced_default_password_is_not_activation(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], must_change_password=True)
    assert state_of(school_a, contact) == ContactStatus.READY_TO_PROVISION


def test_a_linked_microsoft_sign_in_counts_as_activated(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False)
    SocialAccount.objects.create(user=contact.account, provider="microsoft", uid="x-1")
    assert state_of(school_a, contact) == ContactStatus.ACTIVE


def test_choosing_a_password_from_the_welcome_link_moves_the_contact_to_active(client, school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], activated=False)
    path = set_password_link_issue(school=school_a, account=contact.account, purpose="welcome")
    client.post(path, {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"})
    assert state_of(school_a, contact) == ContactStatus.ACTIVE


def test_a_contact_never_given_credentials_and_not_eligible_has_no_access(school_a):
    contact = make_contact(school_a, students=[], activated=False)
    assert state_of(school_a, contact) == ContactStatus.NO_ACCESS


def test_an_unused_starter_code_on_an_ineligible_contact_is_ready_to_revoke(school_a):
    contact = make_contact(school_a, students=[], activated=False)
    starter_code_issue(school=school_a, account=contact.account)
    assert state_of(school_a, contact) == ContactStatus.READY_TO_REVOKE


def test_an_expired_starter_code_is_not_a_credential(school_a):
    contact = make_contact(school_a, students=[], activated=False)
    starter_code_issue(school=school_a, account=contact.account)
    contact.account.starter_codes.update(expires_at=timezone.now() - timedelta(days=1))
    assert state_of(school_a, contact) == ContactStatus.NO_ACCESS


def test_when_the_students_leave_the_contact_is_ready_to_revoke_with_no_students(school_a):
    student = make_student(school_a)
    contact = make_contact(school_a, students=[student])
    student.status = "left"
    student.save()
    assert state_of(school_a, contact) == ContactStatus.READY_TO_REVOKE
    assert reason_of(school_a, contact).reason == RevokeReason.NO_STUDENTS
    assert reason_of(school_a, contact).label == "No students at the school"


def test_a_contact_who_left_the_mis_has_no_students_at_the_school(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], status="left")
    assert reason_of(school_a, contact).reason == RevokeReason.NO_STUDENTS


def test_a_username_on_a_contact_not_linked_to_any_student_is_the_wrong_contact(school_a):
    contact = make_contact(school_a, students=[])
    assert state_of(school_a, contact) == ContactStatus.READY_TO_REVOKE
    assert reason_of(school_a, contact).label == (
        "Username on a contact not linked to a student or not flagged for portal access"
    )


def test_a_username_on_a_contact_not_flagged_for_portal_access_is_the_wrong_contact(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)], portal_access=False)
    assert reason_of(school_a, contact).reason == RevokeReason.WRONG_CONTACT


def test_turning_the_links_portal_flag_off_gives_flag_changed(school_a):
    contact = make_contact(school_a, students=[make_student(school_a)])
    contact.student_links.update(portal_access=False)
    assert state_of(school_a, contact) == ContactStatus.READY_TO_REVOKE
    assert reason_of(school_a, contact).label == "The parent portal access flag changed"


def test_a_code_change_shows_the_newer_contact_with_the_same_email_as_replacement(school_a):
    student = make_student(school_a)
    old = make_contact(school_a, students=[], email="pat@example.org", username="pat.old")
    new = make_contact(school_a, students=[student], activated=False, email="Pat@Example.org", username="pat.new")
    found = reason_of(school_a, old)
    assert found.reason == RevokeReason.REPLACED
    assert found.label == "Replaced by a newer account (code change or family split)"
    assert found.replacement.pk == new.pk
    assert state_of(school_a, new) == ContactStatus.READY_TO_PROVISION


def test_a_family_split_matches_the_replacement_by_name_and_a_shared_student(school_a):
    student = make_student(school_a)
    old = make_contact(school_a, students=[student], given_name="Sam", family_name="Lee", email="")
    old.student_links.update(portal_access=False)
    new = make_contact(school_a, students=[student], given_name="sam", family_name="LEE", email="sam@example.org")
    assert reason_of(school_a, old).replacement.pk == new.pk


def test_the_same_name_without_a_shared_student_is_not_a_replacement(school_a):
    old = make_contact(school_a, students=[], given_name="Sam", family_name="Lee", email="")
    make_contact(school_a, students=[make_student(school_a)], given_name="Sam", family_name="Lee", email="")
    assert reason_of(school_a, old).reason == RevokeReason.WRONG_CONTACT


def test_states_for_the_whole_school_cost_one_query_however_many_contacts(school_a):
    students = [make_student(school_a) for _ in range(3)]
    for i in range(12):
        make_contact(school_a, students=students[: i % 3], activated=bool(i % 2))
    with CaptureQueriesContext(connection) as few:
        contact_state_counts(school=school_a)
        rows = list(contact_list(school=school_a))
    for i in range(12):
        make_contact(school_a, students=students[: i % 3], activated=bool(i % 2))
    with CaptureQueriesContext(connection) as many:
        contact_state_counts(school=school_a)
        more = list(contact_list(school=school_a))
    assert len(more) == 2 * len(rows) and len(few) == len(many) == 2
    with CaptureQueriesContext(connection) as reasons:
        revoke_reasons(school=school_a, contacts=more)
    assert len(reasons) == 3  # candidates, links, and the links a sync ended for contacts left without one


def test_another_schools_contacts_are_not_listed(school_a, school_b):
    make_contact(school_b, students=[make_student(school_b)])
    assert list(contact_list(school=school_a)) == []


def test_a_contact_ready_to_revoke_sees_no_student_data_and_a_notice(client, school_a):
    student = make_student(school_a, given_name="Robin", family_name="Ash")
    contact = make_contact(school_a, students=[student])
    client.force_login(contact.account)
    assert "Robin Ash" in client.get("/me/profile/").content.decode()
    contact.student_links.update(portal_access=False)
    page = client.get("/me/profile/").content.decode()
    assert "Robin Ash" not in page and "parent portal access" in page
    assert not linked_students(school=school_a, contact_account=contact.account).exists()
