"""Support staff's Django admin: every school's rows, every change audited, nobody else inside."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_scopes import get_scope, scope

from accounts.models import Account, AuditEvent, ContactLink, SetPasswordLink, StarterCode, UsernameHold
from accounts.services import Actor, account_create, account_rename
from tenancy.middleware import SupportAdminMiddleware
from tenancy.models import ApiToken, Job
from tests.factories import AccountFactory, ContactLinkFactory, member, trust_role


def admin_url(obj, view="change"):
    meta = obj._meta
    if view == "changelist":
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[obj.pk])


@pytest.fixture
def two_schools_of_rows(school_a, school_b, centre_admin, other_school_admin):
    """At least one row of every registered model at each school."""
    for school in (school_a, school_b):
        link = ContactLinkFactory(school=school)
        StarterCode.objects.create(
            school=school, account=link.student.account, code_hash="a" * 64, expires_at=timezone.now()
        )
        SetPasswordLink.objects.create(
            school=school,
            account=link.contact.account,
            token_hash=f"{school.slug:b<64}"[:64],
            purpose=SetPasswordLink.Purpose.INVITATION,
            expires_at=timezone.now() + timedelta(days=7),
        )
        Job.objects.create(school=school, kind=Job.Kind.CENSUS)
        ApiToken.objects.create(
            school=school,
            name="MIS agent",
            prefix=school.slug[:8],
            token_hash=f"{school.slug:t<64}"[:64],
            account=link.contact.account,
        )
        AuditEvent.objects.create(school=school, action="accounts.account.created", target_label="someone")
    UsernameHold.objects.create(username_lower="old.name", held_until=timezone.now() + timedelta(days=365))
    trust_role(school_a.organisation, "trust_admin", username="trust.admin")


@pytest.fixture
def support(login, support_user):
    return login(support_user)


def registered_models():
    return [m for m in apps.get_models() if m._meta.app_label in ("accounts", "tenancy")]


def form_data(response) -> dict:
    """What the browser would send back from an admin change page, unchanged."""
    data = {}
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        for sub in inline.formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                if value is not None and value is not False:
                    data[f"{sub.prefix}-{name}"] = "on" if value is True else value
    return data


def test_every_accounts_and_tenancy_model_is_registered(db):
    missing = [m.__name__ for m in registered_models() if not admin.site.is_registered(m)]
    assert missing == []


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m.__name__)
def test_support_opens_every_changelist_and_change_page_across_schools(support, two_schools_of_rows, model):
    rows = list(model._base_manager.all())
    response = support.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    assert response.status_code == 200

    schools = set()
    for obj in rows:
        assert support.get(admin_url(obj)).status_code == 200, obj
        schools.add(getattr(obj, "school_id", None))
    if rows and hasattr(model, "school"):
        assert len(schools) == 2


def test_the_changelist_names_the_school(support, two_schools_of_rows):
    body = support.get(reverse("admin:accounts_membership_changelist")).content.decode()
    assert "Alder Academy" in body
    assert "Birch High" in body


def test_it_searches_accounts_across_schools(support, centre_admin, other_school_admin):
    response = support.get(reverse("admin:accounts_account_changelist"), {"q": "ca."})
    found = {a.username for a in response.context["cl"].result_list}
    assert found == {"ca.alder", "ca.birch"}


def test_editing_an_accounts_email_is_audited_with_before_and_after(support, support_user, other_school_admin):
    page = support.get(admin_url(other_school_admin))
    data = form_data(page)
    old_email = data["email"]
    data["email"] = "new.address@birch.sch.uk"

    response = support.post(admin_url(other_school_admin), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""

    other_school_admin.refresh_from_db()
    assert other_school_admin.email == "new.address@birch.sch.uk"
    event = AuditEvent.objects.get(action="accounts.account.updated", target_id=str(other_school_admin.pk))
    assert event.actor == support_user
    assert event.changes == {"email": [old_email, "new.address@birch.sch.uk"]}


def test_a_centre_admins_email_can_be_changed_by_support(support, centre_admin):
    data = form_data(support.get(admin_url(centre_admin)))
    data["email"] = "ca.renamed@alder.sch.uk"
    assert support.post(admin_url(centre_admin), data).status_code == 302
    centre_admin.refresh_from_db()
    assert centre_admin.email == "ca.renamed@alder.sch.uk"


def test_other_account_fields_changed_in_the_admin_are_audited_too(support, eo_user, school_b):
    data = form_data(support.get(admin_url(eo_user)))
    data["username"] = "eo.renamed"
    data["home_school"] = str(school_b.pk)
    data["locked_out"] = "on"
    assert support.post(admin_url(eo_user), data).status_code == 302

    eo_user.refresh_from_db()
    assert (eo_user.username, eo_user.home_school, eo_user.locked_out) == ("eo.renamed", school_b, True)
    service_event = AuditEvent.objects.get(action="accounts.account.updated", target_id=str(eo_user.pk))
    assert service_event.changes == {"locked_out": [False, True]}
    rename_event = AuditEvent.objects.get(action="accounts.account.renamed", target_id=str(eo_user.pk))
    assert rename_event.changes == {"username": ["eo.alder", "eo.renamed"]}
    admin_event = AuditEvent.objects.get(action="admin.account.changed", target_id=str(eo_user.pk))
    assert admin_event.changes == {"home_school": ["Alder Academy", "Birch High"]}


def test_a_username_renamed_in_the_admin_is_held_from_anyone_else_for_a_year(support, support_user, eo_user, school_a):
    data = form_data(support.get(admin_url(eo_user)))
    data["username"] = "eo.renamed"
    assert support.post(admin_url(eo_user), data).status_code == 302

    hold = UsernameHold.objects.get(username_lower="eo.alder")
    assert hold.account == eo_user
    assert hold.held_until - timezone.now() > timedelta(days=364)
    with pytest.raises(ValidationError, match="already taken"):
        account_create(school=school_a, actor=Actor(account=support_user), username="EO.Alder", person_type="student")
    event = AuditEvent.objects.get(action="accounts.account.renamed", target_id=str(eo_user.pk))
    assert (event.actor, event.school) == (support_user, school_a)
    assert event.changes == {"username": ["eo.alder", "eo.renamed"]}


def test_a_held_username_is_refused_on_the_admin_form(support, eo_user, school_a):
    released = member(school_a, username="gone.away").account
    account_rename(actor=Actor(account=None), account=released, username="still.here")

    data = form_data(support.get(admin_url(eo_user)))
    data["username"] = "Gone.Away"
    response = support.post(admin_url(eo_user), data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["username"] == ["The username Gone.Away is already taken."]
    eo_user.refresh_from_db()
    assert eo_user.username == "eo.alder"
    assert not AuditEvent.objects.filter(action="accounts.account.renamed", target_id=str(eo_user.pk)).exists()


def test_a_rename_that_only_changes_case_holds_nothing(support, eo_user):
    data = form_data(support.get(admin_url(eo_user)))
    data["username"] = "EO.Alder"
    assert support.post(admin_url(eo_user), data).status_code == 302

    eo_user.refresh_from_db()
    assert eo_user.username == "EO.Alder"
    assert not UsernameHold.objects.exists()


def test_changing_a_membership_is_audited_against_its_school(support, support_user, school_b):
    membership = member(school_b, person_type="student", username="pupil.b")
    membership.year_group = "Year 7"
    membership.save()
    data = form_data(support.get(admin_url(membership)))
    data["year_group"] = "Year 8"
    assert support.post(admin_url(membership), data).status_code == 302

    event = AuditEvent.objects.get(action="admin.membership.changed")
    assert (event.school, event.actor) == (school_b, support_user)
    assert event.changes == {"year_group": ["Year 7", "Year 8"]}


def test_deleting_a_contact_link_is_audited(support, school_a):
    link = ContactLinkFactory(school=school_a)
    response = support.post(admin_url(link, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not ContactLink.objects.filter(pk=link.pk).exists()
    event = AuditEvent.objects.get(action="admin.contactlink.deleted")
    assert event.school == school_a
    assert event.target_id == str(link.pk)


def test_adding_a_school_is_audited(support, organisation):
    data = {
        "organisation": str(organisation.pk),
        "name": "Cedar School",
        "slug": "cedar",
        "urn": "999001",
        "time_zone": "Europe/London",
        "is_active": "on",
        "email_domains": "cedar.sch.uk",
    }
    response = support.post(reverse("admin:tenancy_school_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(action="admin.school.added")
    assert event.changes["name"] == [None, "Cedar School"]
    assert event.school.slug == "cedar"


def test_accounts_cannot_be_deleted_or_added_in_the_admin(support, eo_user):
    assert support.get(admin_url(eo_user, "delete")).status_code == 403
    assert support.get(reverse("admin:accounts_account_add")).status_code == 403
    body = support.get(admin_url(eo_user)).content.decode()
    assert "deletes a person in the school&#x27;s Users screen" in body
    assert Account.objects.filter(pk=eo_user.pk).exists()


def test_audit_events_and_credentials_are_read_only(support, two_schools_of_rows):
    for model in (AuditEvent, StarterCode, SetPasswordLink, Job):
        obj = model._base_manager.first()
        assert support.post(admin_url(obj), {}).status_code == 403
        assert support.get(admin_url(obj, "delete")).status_code == 403


def test_credential_hashes_are_not_shown(support, two_schools_of_rows):
    code = StarterCode._base_manager.first()
    link = SetPasswordLink._base_manager.first()
    assert code.code_hash not in support.get(admin_url(code)).content.decode()
    assert link.token_hash not in support.get(admin_url(link)).content.decode()


def test_support_staff_need_not_be_superusers(login, two_schools_of_rows):
    helper = AccountFactory(username="helpdesk", is_staff=True, is_superuser=False)
    client = login(helper)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:accounts_membership_changelist")).status_code == 200


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/account/", "/admin/accounts/membership/"])
def test_a_signed_in_non_staff_user_cannot_reach_the_admin(login, centre_admin, other_school_admin, path):
    response = login(centre_admin).get(path, follow=True)
    assert response.status_code == 403
    assert "ca.birch" not in response.content.decode()
    assert "Site administration" not in response.content.decode()


def test_the_admins_own_password_form_is_never_offered(client, centre_admin, support_user):
    client.force_login(centre_admin)
    assert client.get("/admin/login/").status_code == 403
    assert client.post("/admin/login/", {"username": "support", "password": "x"}).status_code == 403


def test_a_support_user_signed_in_goes_straight_through_the_admin_login(login, support_user):
    response = login(support_user).get("/admin/login/?next=/admin/accounts/account/")
    assert response.status_code == 302
    assert response.url == "/admin/accounts/account/"


def test_an_anonymous_visitor_is_sent_to_rollcalls_sign_in(client, db):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


@pytest.mark.scoped
@pytest.mark.parametrize(
    "path,staff,scoping_on",
    [("/admin/accounts/membership/", True, False), ("/me/profile/", True, True), ("/admin/", False, True)],
)
def test_scoping_is_switched_off_only_for_support_staff_in_the_admin(rf, path, staff, scoping_on):
    seen = {}

    def view(request):
        seen["enabled"] = get_scope().get("_enabled", True)

    request = rf.get(path)
    request.user = Account(username="someone", is_staff=staff)
    with scope():  # scoping on, no school: what SchoolScopeMiddleware sets up outside /s/<school>/
        SupportAdminMiddleware(view)(request)
    assert seen["enabled"] is scoping_on


def test_a_role_cannot_be_given_through_another_schools_membership(support, school_a, school_b):
    birch_person = member(school_b, username="t.birch")
    data = {"school": str(school_a.pk), "membership": str(birch_person.pk), "role": "eo"}
    response = support.post(reverse("admin:accounts_roleassignment_add"), data)
    assert response.status_code == 200
    assert "belongs to Birch High, not Alder Academy" in response.content.decode()
    assert not AuditEvent.objects.filter(action="admin.roleassignment.added").exists()


def test_a_role_is_given_in_the_admin_within_one_school_and_audited(support, school_b):
    birch_person = member(school_b, username="t.birch")
    data = {"school": str(school_b.pk), "membership": str(birch_person.pk), "role": "eo"}
    assert support.post(reverse("admin:accounts_roleassignment_add"), data).status_code == 302
    event = AuditEvent.objects.get(action="admin.roleassignment.added")
    assert event.school == school_b
    assert event.changes["role"] == [None, "Exams Officer (EO)"]  # the role as PRODUCT.md names it


def test_a_rows_school_cannot_be_changed_in_the_admin(support, school_a):
    membership = member(school_a, username="stays.put")
    form = support.get(admin_url(membership)).context["adminform"].form
    assert "school" not in form.fields
