"""Account Manager's bulk actions leave out people whose roles (here or at another school) the actor may not
grant, and say so: a Nominated Contact acts on parents, not on a parent who is Centre Admin elsewhere."""

from rest_framework.test import APIClient

from accounts.models import StarterCode
from provisioning.models import ContactJobItem
from tenancy.models import Job
from tests.factories import MembershipFactory, RoleAssignmentFactory
from tests.provisioning.contacts.conftest import make_contact

URL = "/s/alder/account-manager/"


def _centre_admin_elsewhere(contact, school):
    RoleAssignmentFactory(
        membership=MembershipFactory(school=school, account=contact.account, person_type="staff"),
        role_id="centre_admin",
    )
    return contact


def test_revoke_leaves_out_a_centre_admin_of_another_school_and_says_so(client, school_a, school_b, nominated_contact):
    parent = make_contact(school_a, students=[])
    admin_elsewhere = _centre_admin_elsewhere(make_contact(school_a, students=[]), school_b)
    client.force_login(nominated_contact)
    ids = [str(parent.pk), str(admin_elsewhere.pk)]
    confirm = client.post(URL + "confirm/", {"action": "revoke", "type": "contact", "ids": ids}).content.decode()
    assert "1 of the selected is left out: they hold roles you may not grant" in confirm
    page = client.post(URL + "revoke/", {"type": "contact", "ids": ids}, follow=True).content.decode()
    assert "Revoke Access started for 1 contact." in page and "1 of the selected was left out" in page
    assert list(ContactJobItem.objects.values_list("membership_id", flat=True)) == [parent.pk]


def test_a_selection_of_only_people_out_of_reach_starts_nothing(client, school_a, school_b, nominated_contact):
    admin_elsewhere = _centre_admin_elsewhere(make_contact(school_a, students=[]), school_b)
    client.force_login(nominated_contact)
    page = client.post(URL + "revoke/", {"type": "contact", "ids": [str(admin_elsewhere.pk)]}, follow=True)
    assert "You may not act on the selected person: they hold roles you may not grant" in page.content.decode()
    assert not Job.objects.exists()


def test_the_api_says_how_many_were_left_out(school_a, school_b, nominated_contact):
    parent = make_contact(school_a, students=[])
    admin_elsewhere = _centre_admin_elsewhere(make_contact(school_a, students=[]), school_b)
    api = APIClient()
    api.force_login(nominated_contact)
    body = {"contact_ids": [str(parent.pk), str(admin_elsewhere.pk)]}
    response = api.post("/api/s/alder/contacts/revoke/", body, format="json")
    assert response.status_code == 202 and response.json()["left_out"] == 1 and response.json()["progress_total"] == 1


def test_reissue_starter_code_gives_no_code_to_someone_out_of_reach(client, school_a, school_b, nominated_contact):
    parent = make_contact(school_a, students=[], given_name="Pat", family_name="Parent")
    admin_elsewhere = _centre_admin_elsewhere(
        make_contact(school_a, students=[], given_name="Ada", family_name="Admin"), school_b
    )
    client.force_login(nominated_contact)
    ids = [str(parent.pk), str(admin_elsewhere.pk)]
    page = client.post(URL + "starter-codes/", {"type": "contact", "ids": ids}).content.decode()
    assert "No code for 1 of the selected: they hold roles you may not grant" in page and "Ada Admin" in page
    assert StarterCode.objects.filter(account=parent.account).exists()
    assert not StarterCode.objects.filter(account=admin_elsewhere.account).exists()
