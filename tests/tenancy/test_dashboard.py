from datetime import timedelta

from django.utils import timezone

from accounts.credentials import starter_code_issue
from accounts.models import StarterCode
from tests.factories import ContactLinkFactory, member


def test_it_counts_contacts_ready_to_revoke_and_expiring_codes(login, centre_admin, school_a):
    link = ContactLinkFactory(school=school_a, contact__portal_access=True)
    contact = link.contact.account
    contact.set_password("a-password-they-chose")
    contact.save()
    link.student.status = "left"  # the contact's only student has gone: Ready to Revoke Access
    link.student.save()
    student = member(school_a, "student_portal", person_type="student").account
    starter_code_issue(school=school_a, account=student)
    StarterCode.objects.filter(account=student).update(expires_at=timezone.now() + timedelta(days=3))

    response = login(centre_admin).get(f"/s/{school_a.slug}/")
    items = {i["label"]: i["count"] for i in response.context["attention"]}
    assert items["Contacts Ready to Revoke Access"] == 1
    assert items["Starter codes expiring within 7 days"] == 1
    assert items["Sync runs waiting for confirmation"] == 0


def test_it_shows_no_action_counts_a_role_cannot_act_on(login, school_a):
    slt = member(school_a, "slt").account
    response = login(slt).get(f"/s/{school_a.slug}/")
    assert response.context["attention"] == []


def test_every_page_footer_shows_the_organisations_support_contact(login, centre_admin, school_a):
    client = login(centre_admin)
    assert "Trust IT 01632 960 000" in client.get(f"/s/{school_a.slug}/").content.decode()
    assert "Trust IT 01632 960 000" in client.get("/me/profile/").content.decode()  # no school in the URL
