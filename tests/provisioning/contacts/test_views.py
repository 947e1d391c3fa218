"""The Account Manager screen: who may see and act, the filters, selections and Confirm pages."""

import pytest

from accounts.models import Account
from provisioning.contacts import services
from provisioning.models import ContactJobItem
from tenancy.models import Job
from tests.factories import member
from tests.provisioning.contacts.conftest import make_contact, make_student

URL = "/s/alder/account-manager/"


@pytest.fixture
def family(school_a):
    """One contact in each state, and a replaced one."""
    student = make_student(school_a)
    return {
        "active": make_contact(school_a, students=[student], given_name="Ada", family_name="Active"),
        "provision": make_contact(
            school_a, students=[student], activated=False, given_name="Pia", family_name="Provision"
        ),
        "revoke": make_contact(school_a, students=[], given_name="Rex", family_name="Revoke"),
        "none": make_contact(school_a, students=[], activated=False, given_name="Nia", family_name="None"),
    }


@pytest.mark.parametrize(
    "persona, status",
    [("centre_admin", 200), ("nominated_contact", 200), ("admin_level_one", 200), ("eo", 403), ("inv", 403)],
)
def test_who_may_open_the_account_manager(client, school_a, persona, status):
    client.force_login(member(school_a, persona).account)
    assert client.get(URL).status_code == status


def test_another_schools_admin_cannot_see_it(client, other_school_admin):
    client.force_login(other_school_admin)
    assert client.get(URL).status_code == 404


def test_it_lists_contacts_by_state_with_their_reason(client, nominated_contact, family):
    client.force_login(nominated_contact)
    page = client.get(URL, {"type": "contact", "status": "ready_to_revoke"}).content.decode()
    assert "<td>Revoke</td>" in page and "<td>Provision</td>" not in page and "<td>Active</td>" not in page
    assert "Username on a contact not linked to a student or not flagged for portal access" in page
    assert "Ready to Revoke Access (1)" in page
    assert "Actions..." in page and "Revoke Access" in page and "Send Welcome Email" in page


def test_students_and_staff_have_their_own_statuses(client, nominated_contact, school_a):
    make_student(school_a, given_name="Stu", family_name="Dent")
    client.force_login(nominated_contact)
    page = client.get(URL, {"type": "student"}).content.decode()
    assert "Not Yet Activated" in page and "Locked Out" in page and "Dent" in page
    assert ">Revoke Access<" not in page  # only for contacts


def test_admin_level_one_may_send_welcome_emails_but_not_revoke(client, school_a, family):
    client.force_login(member(school_a, "admin_level_one").account)
    page = client.get(URL).content.decode()
    assert "Send Welcome Email" in page and ">Revoke Access<" not in page
    ids = [str(family["revoke"].pk)]
    assert client.post(URL + "confirm/", {"action": "revoke", "ids": ids}).status_code == 403
    assert client.post(URL + "revoke/", {"ids": ids}).status_code == 403


def test_the_revoke_confirm_page_groups_by_reason_and_offers_the_replacement(client, school_a, nominated_contact):
    student = make_student(school_a)
    old = make_contact(school_a, students=[], email="kim@example.org", given_name="Kim", family_name="Old")
    new = make_contact(school_a, students=[student], activated=False, email="kim@example.org", username="kim.new")
    gone = make_contact(school_a, students=[], email="", given_name="Lou", family_name="Gone")
    client.force_login(nominated_contact)
    page = client.post(
        URL + "confirm/", {"action": "revoke", "type": "contact", "status": "ready_to_revoke", "all": "1"}
    ).content.decode()
    assert "Replaced by a newer account (code change or family split) (1)" in page
    assert "Username on a contact not linked to a student or not flagged for portal access (1)" in page
    assert "kim.new" in page and f'value="{new.pk}"' in page
    assert "Confirm" in page
    assert Account.objects.get(pk=old.account_id).is_active and Account.objects.get(pk=gone.account_id).is_active


def test_confirming_revoke_for_all_matching_starts_the_job_and_can_welcome_replacements(
    client, school_a, nominated_contact, django_capture_on_commit_callbacks, mailoutbox
):
    student = make_student(school_a)
    old = make_contact(school_a, students=[], email="kim@example.org")
    new = make_contact(school_a, students=[student], activated=False, email="kim@example.org")
    client.force_login(nominated_contact)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL + "revoke/",
            {"type": "contact", "status": "ready_to_revoke", "all": "1", "replacement_ids": [str(new.pk)]},
        )
    assert response.status_code == 302 and "job=" in response["Location"]
    assert not Account.objects.get(pk=old.account_id).is_active
    assert [m.to for m in mailoutbox] == [["kim@example.org"]]
    assert ContactJobItem.objects.get(membership=new).outcome == "sent"
    page = client.get(response["Location"]).content.decode()
    assert "job-progress" in page


def test_a_large_revoke_asks_for_the_number_typed(client, school_a, nominated_contact, monkeypatch):
    monkeypatch.setattr(services, "REVOKE_WARNING_OVER", 1)
    make_contact(school_a, students=[])
    make_contact(school_a, students=[])
    client.force_login(nominated_contact)
    form = {"type": "contact", "status": "ready_to_revoke", "all": "1"}
    page = client.post(URL + "confirm/", {**form, "action": "revoke"}).content.decode()
    assert "usually means a portal-access flag was changed" in page and "Type 2 to go on" in page
    refused = client.post(URL + "revoke/", {**form, "confirm_count": "1"}, follow=True)
    assert "Type 2 to go on" in refused.content.decode()
    assert not Job.objects.filter(kind="revoke").exists()
    client.post(URL + "revoke/", {**form, "confirm_count": "2"})
    assert Job.objects.filter(kind="revoke").count() == 1


def test_an_empty_or_bad_selection_gives_a_message_not_an_error(client, nominated_contact, family):
    client.force_login(nominated_contact)
    response = client.post(URL + "confirm/", {"action": "revoke", "ids": ["not-a-uuid"]}, follow=True)
    assert response.status_code == 200 and "Select at least one person first." in response.content.decode()
    response = client.post(URL + "confirm/", {"action": "explode", "ids": [str(family["revoke"].pk)]}, follow=True)
    assert "Choose an action" in response.content.decode()


def test_another_schools_contact_cannot_be_selected(client, nominated_contact, school_b):
    theirs = make_contact(school_b, students=[])
    client.force_login(nominated_contact)
    response = client.post(URL + "revoke/", {"type": "contact", "ids": [str(theirs.pk)]}, follow=True)
    assert "None of the selected people is Ready to Revoke Access." in response.content.decode()
    assert Account.objects.get(pk=theirs.account_id).is_active


def test_reissue_starter_code_shows_the_new_codes_once(client, school_a, nominated_contact):
    student = make_student(school_a, given_name="Cody", family_name="Starter")
    client.force_login(nominated_contact)
    page = client.post(URL + "confirm/", {"action": "starter_code", "type": "student", "ids": [str(student.pk)]})
    assert "Re-issue Starter Code" in page.content.decode()
    done = client.post(URL + "starter-codes/", {"type": "student", "ids": [str(student.pk)]})
    assert done["Cache-Control"] == "no-store" and "Starter" in done.content.decode()
    assert student.account.starter_codes.filter(used_at__isnull=True, revoked_at__isnull=True).count() == 1


def test_email_problems_are_listed_on_the_screen(client, school_a, nominated_contact):
    make_contact(school_a, students=[make_student(school_a)], activated=False, email="", given_name="Noe")
    client.force_login(nominated_contact)
    page = client.get(URL).content.decode()
    assert "Email problems" in page and "Noe" in page


def test_the_welcome_confirm_page_then_job_sends_to_ready_to_provision_contacts(
    client, nominated_contact, family, django_capture_on_commit_callbacks, mailoutbox
):
    client.force_login(nominated_contact)
    ids = [str(family["provision"].pk), str(family["revoke"].pk)]
    page = client.post(URL + "confirm/", {"action": "welcome_email", "type": "contact", "ids": ids}).content.decode()
    assert "1 of the selected cannot be sent one" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL + "welcome-email/", {"type": "contact", "ids": ids})
    assert [m.to for m in mailoutbox] == [[family["provision"].account.email]]
    assert mailoutbox[0].alternatives and "/welcome/" in mailoutbox[0].body


def test_the_screen_costs_the_same_queries_for_few_or_many_contacts(client, school_a, nominated_contact):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    student = make_student(school_a)
    client.force_login(nominated_contact)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, {"type": "contact"}).status_code == 200
        return len(captured)

    for _ in range(3):
        make_contact(school_a, students=[student])
        make_contact(school_a, students=[])
    few = queries()
    for _ in range(10):
        make_contact(school_a, students=[student], activated=False)
        make_contact(school_a, students=[], email="")
    assert queries() == few


def test_students_not_yet_activated_can_be_sent_a_welcome_email(
    client, school_a, nominated_contact, django_capture_on_commit_callbacks, mailoutbox
):
    student = make_student(school_a, email="stu@example.org")
    student.account.set_unusable_password()
    student.account.save()
    client.force_login(nominated_contact)
    page = client.get(URL, {"type": "student", "status": "not_yet_activated"}).content.decode()
    assert student.account.username in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL + "welcome-email/", {"type": "student", "ids": [str(student.pk)]})
    assert [m.to for m in mailoutbox] == [["stu@example.org"]]
