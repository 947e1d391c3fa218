"""The sign-on's screens: support registers a service (secret shown once), a Centre Admin sees and switches
the school's services, a person lists the services they signed in to and signs out of one."""

from django.contrib import admin
from oauth2_provider.models import AccessToken, Application

from accounts.models import AuditEvent
from signon import services
from signon.models import ConnectedService, ServiceSwitchedOff
from tests.factories import member


def test_support_registers_a_service_and_sees_its_secret_once(login, support_user, organisation):
    client = login(support_user)
    answer = client.post(
        "/admin/signon/connectedservice/add/",
        {
            "name": "Parent app",
            "organisation": organisation.pk,
            "roles": ["parent"],
            "redirect_uris": "https://parents.example.org/callback",
            "post_logout_redirect_uris": "",
            "scope_choices": ["profile", "schools", "linked_students"],
            "confidential": "on",
        },
    )
    assert answer.status_code == 200, answer.content.decode()[:2000]
    service = ConnectedService.objects.get(name="Parent app")
    secret = answer.context["secret"]
    assert secret and secret in answer.content.decode()
    assert service.application.client_secret != secret  # only a hash is kept
    assert service.application.client_id in answer.content.decode()
    assert list(service.roles.values_list("code", flat=True)) == ["parent"]
    assert service.scope_list == ["openid", "profile", "schools", "linked_students"]
    event = AuditEvent.objects.get(action="signon.service.registered")
    assert event.actor == support_user and secret not in str(event.changes)

    again = client.get(f"/admin/signon/connectedservice/{service.pk}/change/")
    assert again.status_code == 200 and secret not in again.content.decode()


def test_support_cannot_register_a_redirect_uri_that_is_not_an_address(login, support_user, organisation):
    answer = login(support_user).post(
        "/admin/signon/connectedservice/add/",
        {"name": "Bad", "organisation": organisation.pk, "roles": ["inv"], "redirect_uris": "javascript:alert(1)"},
    )
    assert answer.status_code == 200 and answer.context["adminform"].form.errors
    assert not ConnectedService.objects.exists()


def test_the_toolkits_own_admin_pages_are_gone():
    for model in (Application, AccessToken):
        assert not admin.site.is_registered(model)


def test_a_centre_admin_sees_the_schools_services_and_switches_one_off(
    login, register, school_a, centre_admin, organisation
):
    service, _ = register()
    member(school_a, "inv")
    member(school_a, "student_portal", person_type="student")
    member(school_a, "eo")
    client = login(centre_admin)
    page = client.get(f"/s/{school_a.slug}/services/")
    assert page.status_code == 200
    row = page.context["rows"][0]
    assert row["service"] == service and row["on"] and row["people"] == 2

    answer = client.post(f"/s/{school_a.slug}/services/{service.pk}/switch/", {"on": "0"})
    assert answer.status_code == 302
    assert ServiceSwitchedOff.objects.filter(school=school_a, service=service).exists()
    assert AuditEvent.objects.filter(action="signon.service.switched_off", school=school_a).exists()
    assert "Off" in client.get(f"/s/{school_a.slug}/services/").content.decode()
    client.post(f"/s/{school_a.slug}/services/{service.pk}/switch/", {"on": "1"})
    assert not ServiceSwitchedOff.objects.exists()


def test_switching_off_signs_out_the_schools_people(register, school_a, centre_admin, sign_in_to):
    flow = sign_in_to()
    inv = member(school_a, "inv").account
    token = flow.token(flow.authorize(inv))
    services.service_switch(school=school_a, actor=centre_admin, service=flow.service, on=False)
    assert not AccessToken.objects.filter(user=inv).exists()
    assert flow.userinfo(token).status_code == 401


def test_only_a_centre_admin_opens_the_services_page(login, school_a):
    assert login(member(school_a, "inv").account).get(f"/s/{school_a.slug}/services/").status_code == 403


def test_another_organisations_service_cannot_be_switched(login, register, school_b):
    service, _ = register()
    other_admin = member(school_b, "centre_admin").account
    answer = login(other_admin).post(f"/s/{school_b.slug}/services/{service.pk}/switch/", {"on": "0"})
    assert answer.status_code == 404
    assert not ServiceSwitchedOff.objects.exists()


def test_the_profile_lists_services_signed_in_to_and_signs_out_of_one(sign_in_to, school_a):
    flow = sign_in_to()
    inv = member(school_a, "inv").account
    token = flow.token(flow.authorize(inv))
    profile = flow.browser.get("/me/profile/")
    assert "Exams Office Hub" in profile.content.decode()
    assert "Sign out of Exams Office Hub" in profile.content.decode()

    answer = flow.browser.post(f"/me/services/{flow.service.pk}/sign-out/")
    assert answer.status_code == 302
    assert flow.userinfo(token).status_code == 401
    assert "Signed out" in flow.browser.get("/me/profile/").content.decode()
    event = AuditEvent.objects.get(action="signon.tokens.revoked")
    assert event.changes["reason"] == [None, "signed out"]


def test_nobody_signs_out_of_a_service_for_someone_else(sign_in_to, school_a, login):
    flow = sign_in_to()
    flow.token(flow.authorize(member(school_a, "inv").account))
    stranger = login(member(school_a, "inv").account)
    assert stranger.post(f"/me/services/{flow.service.pk}/sign-out/").status_code == 404
    assert AccessToken.objects.count() == 1


def test_support_opens_the_sign_on_pages_of_the_admin(login, support_user, register, school_a, centre_admin):
    service, _ = register()
    services.service_switch(school=school_a, actor=centre_admin, service=service, on=False)
    client = login(support_user)
    for page in ("connectedservice", "serviceswitchedoff", "servicesignin"):
        assert client.get(f"/admin/signon/{page}/").status_code == 200, page
    assert client.get(f"/admin/signon/connectedservice/{service.pk}/change/").status_code == 200
