"""Your own profile: details, linked sign-ins, change password, and a parent's own students only."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from accounts.models import AuditEvent
from tests.factories import ContactLinkFactory, MembershipFactory, member

PROFILE = "/me/profile/"


def contact(school, username, **account_fields):
    """A parent flagged for Parent portal access, as the MIS sends them."""
    membership = member(school, "parent", person_type="contact", username=username, **account_fields)
    membership.portal_access = True
    membership.save()
    return membership


@pytest.fixture
def parent(school_a):
    return contact(school_a, "p.green", email="pat@example.org")


def link(parent_membership, *, given_name, year_group, school=None):
    school = school or parent_membership.school
    contact_membership = parent_membership
    if contact_membership.school_id != school.id:
        contact_membership = MembershipFactory(
            school=school, account=parent_membership.account, person_type="contact", portal_access=True
        )
    student = MembershipFactory(
        school=school, person_type="student", year_group=year_group, account__given_name=given_name
    )
    return ContactLinkFactory(school=school, contact=contact_membership, student=student)


def test_it_needs_signing_in(client, db):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_it_shows_the_persons_own_details(login, centre_admin):
    body = login(centre_admin).get(PROFILE).content.decode()
    assert "ca.alder" in body
    assert centre_admin.email in body
    assert "Alder Academy" in body


def test_it_links_to_change_password_and_linked_sign_ins(login, eo_user):
    body = login(eo_user).get(PROFILE).content.decode()
    assert reverse("account_change_password") in body
    assert reverse("socialaccount_connections") in body


def test_it_lists_linked_sign_ins_with_the_providers_name(login, eo_user):
    SocialAccount.objects.create(user=eo_user, provider="microsoft", uid="ms-1", extra_data={"mail": "eo@alder.sch.uk"})
    SocialAccount.objects.create(user=eo_user, provider="google", uid="g-1", extra_data={"email": "eo@gmail.com"})
    body = login(eo_user).get(PROFILE).content.decode()
    assert "Microsoft 365: eo@alder.sch.uk" in body
    assert "Google: eo@gmail.com" in body
    assert "No Microsoft 365 or Google sign-in is linked" not in body


def test_it_does_not_list_someone_elses_linked_sign_in(login, eo_user, centre_admin):
    SocialAccount.objects.create(user=centre_admin, provider="google", uid="g-2", extra_data={"email": "ca@gmail.com"})
    body = login(eo_user).get(PROFILE).content.decode()
    assert "ca@gmail.com" not in body
    assert "No Microsoft 365 or Google sign-in is linked" in body


def test_a_parent_sees_their_students_name_year_group_and_school(login, parent):
    link(parent, given_name="Robin", year_group="Year 7")
    response = login(parent.account).get(PROFILE)
    students = response.context["linked_students"]
    assert [(s["name"].split()[0], s["year_group"], s["school"]) for s in students] == [
        ("Robin", "Year 7", "Alder Academy")
    ]
    assert "Your students" in response.content.decode()


def test_a_parent_sees_students_at_each_of_their_schools(login, parent, school_b):
    link(parent, given_name="Robin", year_group="Year 7")
    link(parent, given_name="Sky", year_group="Year 10", school=school_b)
    students = login(parent.account).get(PROFILE).context["linked_students"]
    assert sorted((s["name"].split()[0], s["school"]) for s in students) == [
        ("Robin", "Alder Academy"),
        ("Sky", "Birch High"),
    ]


def test_a_parent_sees_no_other_familys_children(login, parent, school_a, school_b):
    link(parent, given_name="Robin", year_group="Year 7")
    other_family = contact(school_a, "o.family")
    link(other_family, given_name="Quentin", year_group="Year 8")
    elsewhere = contact(school_b, "b.family")
    link(elsewhere, given_name="Zara", year_group="Year 9")

    body = login(parent.account).get(PROFILE).content.decode()
    assert "Robin" in body
    assert "Quentin" not in body
    assert "Zara" not in body


def test_a_parent_does_not_see_a_student_who_has_left(login, parent):
    gone = link(parent, given_name="Former", year_group="Year 11")
    gone.student.status = "left"
    gone.student.save()
    body = login(parent.account).get(PROFILE).content.decode()
    assert "Former" not in body


def test_staff_without_linked_students_see_no_students_section(login, eo_user):
    body = login(eo_user).get(PROFILE).content.decode()
    assert "Your students" not in body


def test_the_linked_sign_ins_page_renders_inside_rollcall(login, eo_user):
    SocialAccount.objects.create(user=eo_user, provider="google", uid="g-1", extra_data={"email": "eo@gmail.com"})
    response = login(eo_user).get(reverse("socialaccount_connections"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="topbar"' in body
    assert "<h1>Linked sign-ins</h1>" in body
    assert "Google: eo@gmail.com" in body


def test_it_unlinks_a_sign_in_when_the_account_keeps_a_password(login, eo_user, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": [{"client_id": "c", "secret": "s"}]}}
    linked = SocialAccount.objects.create(user=eo_user, provider="google", uid="g-1")
    client = login(eo_user)
    response = client.post(reverse("socialaccount_connections"), {"account": linked.pk})
    assert response.status_code == 302
    assert not SocialAccount.objects.filter(pk=linked.pk).exists()
    event = AuditEvent.objects.get(action="accounts.linked_signin.removed", target_id=str(eo_user.pk))
    assert (event.actor, event.changes) == (eo_user, {"linked_signin": ["google", None]})


def test_it_unlinks_a_sign_in_whose_provider_is_no_longer_set_up(login, eo_user, settings):
    # Microsoft sign-in was switched off (no SOCIALACCOUNT_PROVIDERS entry, no SocialApp) after the link.
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APPS": [{"client_id": "c", "secret": "s"}]}}
    linked = SocialAccount.objects.create(user=eo_user, provider="microsoft", uid="ms-1", extra_data={"mail": "eo@x"})
    client = login(eo_user)
    assert "Microsoft 365: eo@x" in client.get(PROFILE).content.decode()
    assert "Microsoft 365: eo@x" in client.get(reverse("socialaccount_connections")).content.decode()

    response = client.post(reverse("socialaccount_connections"), {"account": linked.pk}, follow=True)

    assert response.status_code == 200
    assert not SocialAccount.objects.filter(pk=linked.pk).exists()
    assert "has been disconnected" in response.content.decode()
    event = AuditEvent.objects.get(action="accounts.linked_signin.removed", target_id=str(eo_user.pk))
    assert (event.actor, event.changes) == (eo_user, {"linked_signin": ["microsoft", None]})


def test_it_keeps_the_only_sign_in_of_an_account_without_a_password(login, eo_user):
    eo_user.set_unusable_password()
    eo_user.save()
    linked = SocialAccount.objects.create(user=eo_user, provider="google", uid="g-1")
    response = login(eo_user).post(reverse("socialaccount_connections"), {"account": linked.pk})
    assert response.status_code == 200
    assert SocialAccount.objects.filter(pk=linked.pk).exists()
    assert "no password" in response.content.decode().lower()


def test_supports_school_switcher_offers_no_school_it_would_be_refused_at(client, support_user, school_a, school_b):
    """Found by trying it: support's switcher listed every school, and each led to 403 Not allowed."""
    client.force_login(support_user)
    page = client.get("/me/profile/").content.decode()
    assert 'id="school-switcher"' not in page
