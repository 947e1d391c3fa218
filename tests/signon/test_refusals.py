"""Who may sign in to a service: one test per refusal rule, at the sign-in page and again at the token and
userinfo endpoints; locking, un-approving, revoking or deleting an account ends its tokens at once."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from accounts.models import Account, AuditEvent, Membership, RoleAssignment
from accounts.services import Actor, account_delete, account_update
from signon import services
from signon.models import ServiceSignIn
from tests.factories import PASSWORD, SchoolFactory, member
from tests.provisioning.contacts.conftest import make_contact
from tests.provisioning.contacts.test_jobs import start_revoke
from tests.signon.conftest import SignIn


def _refused(answer, words: str):
    assert answer.status_code == 403
    assert words in answer.content.decode()
    assert "Location" not in answer
    assert not Grant.objects.exists()


def _sent_to_sign_in(answer):
    """Rollcall's middleware ends the session of an account that may no longer sign in, with the reason."""
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert not Grant.objects.exists()


@pytest.fixture
def flow(sign_in_to):
    return sign_in_to()


@pytest.fixture
def inv(school_a):
    return member(school_a, "inv", username="inv.alder").account


def test_it_signs_in_an_account_holding_a_role_of_the_service(flow, inv):
    answer = flow.authorize(inv)
    assert "code" in parse_qs(urlsplit(answer["Location"]).query)
    event = AuditEvent.objects.get(action="signon.authorization.granted")
    assert event.target_id == str(inv.pk) and event.changes["service"] == [None, "Exams Office Hub"]
    assert ServiceSignIn.objects.filter(account=inv, service=flow.service).exists()


@pytest.mark.parametrize(
    "change, words",
    [
        ({"locked_out": True}, "locked out"),
        ({"approved": False}, "waiting for approval"),
        ({"is_active": False}, ""),  # Django's session no longer finds an inactive account: simply signed out
    ],
    ids=["locked out", "not approved", "revoked or inactive"],
)
def test_an_account_rollcall_refuses_gets_no_code(flow, inv, client, change, words):
    Account.objects.filter(pk=inv.pk).update(**change)
    inv.refresh_from_db()
    answer = flow.authorize(inv)
    _sent_to_sign_in(answer)
    if words:
        assert words in " ".join(str(m) for m in answer.wsgi_request._messages)


def test_a_deleted_account_gets_no_code(flow, inv, school_a, centre_admin):
    flow.browser.force_login(inv)
    account_delete(school=school_a, actor=Actor(account=centre_admin, school=school_a), account=inv)
    _sent_to_sign_in(flow.authorize(None))


def test_an_archived_place_gets_no_code(flow, inv):
    Membership.objects.filter(account=inv).update(status=Membership.Status.ARCHIVED)
    _refused(flow.authorize(inv), "your account is not at one of them")


def test_an_account_without_the_services_roles_is_told_which_roles(flow, school_a):
    teacher = member(school_a, "teacher_security").account
    answer = flow.authorize(teacher)
    _refused(answer, "only for people with one of these roles")
    assert "Invigilator" in answer.content.decode()
    event = AuditEvent.objects.get(action="signon.authorization.refused")
    assert event.target_id == str(teacher.pk) and event.changes["at"] == [None, "sign-in page"]


def test_a_person_at_another_organisations_school_is_refused(flow, school_b):
    _refused(flow.authorize(member(school_b, "inv").account), "not at one of them")


def test_a_shared_service_lets_in_every_organisations_people(register, school_b):
    service, secret = register(organisation=None, name="Shared app")
    answer = SignIn(service, secret).authorize(member(school_b, "inv").account)
    assert answer.status_code == 302 and "code=" in answer["Location"]


def test_a_school_that_switched_the_service_off_refuses_its_people(flow, inv, school_a, centre_admin):
    services.service_switch(school=school_a, actor=centre_admin, service=flow.service, on=False)
    _refused(flow.authorize(inv), "has switched Exams Office Hub off")


def test_switched_off_at_one_school_still_lets_in_through_another(flow, inv, school_a, organisation, centre_admin):
    other = SchoolFactory(organisation=organisation, slug="oak")
    place = Membership.objects.create(school=other, account=inv, person_type="staff")
    RoleAssignment.objects.create(school=other, membership=place, role_id="inv")
    services.service_switch(school=school_a, actor=centre_admin, service=flow.service, on=False)
    claims = flow.userinfo(flow.token(flow.authorize(inv))).json()
    assert [s["school"] for s in claims["schools"]] == ["oak"]


def test_the_token_endpoint_asks_again_and_refuses_a_code_of_an_account_since_refused(flow, inv):
    answer = flow.authorize(inv)
    RoleAssignment.objects.filter(membership__account=inv).delete()
    with pytest.raises(Exception, match="invalid_grant"):
        flow.token(answer)
    assert AuditEvent.objects.filter(action="signon.authorization.refused").exists()


def test_refresh_and_userinfo_ask_again(flow, inv):
    token = flow.token(flow.authorize(inv))
    Membership.objects.filter(account=inv).update(status=Membership.Status.ARCHIVED)
    assert flow.userinfo(token).status_code == 401
    with pytest.raises(Exception, match="invalid_grant"):
        flow.rp.refresh_token(flow.discovery["token_endpoint"], refresh_token=token["refresh_token"])


@pytest.mark.parametrize(
    "fields, reason", [({"locked_out": True}, "locked out"), ({"approved": False}, "no longer approved")]
)
def test_locking_or_unapproving_revokes_the_accounts_tokens_at_once(flow, inv, school_a, centre_admin, fields, reason):
    token = flow.token(flow.authorize(inv))
    account_update(actor=Actor(account=centre_admin, school=school_a), account=inv, **fields)
    assert not AccessToken.objects.filter(user=inv).exists()
    assert not RefreshToken.objects.filter(user=inv, revoked__isnull=True).exists()
    assert flow.userinfo(token).status_code == 401
    event = AuditEvent.objects.get(action="signon.tokens.revoked", target_id=str(inv.pk))
    assert event.changes["reason"] == [None, reason]
    assert token["access_token"] not in str(event.changes) and token["refresh_token"] not in str(event.changes)


def test_deleting_an_account_revokes_its_tokens(flow, inv, school_a, centre_admin):
    flow.token(flow.authorize(inv))
    account_delete(school=school_a, actor=Actor(account=centre_admin, school=school_a), account=inv)
    assert not AccessToken.objects.filter(user=inv).exists()
    assert AuditEvent.objects.filter(action="signon.tokens.revoked", changes__reason=[None, "account deleted"]).exists()


def test_revoke_access_revokes_the_contacts_tokens(
    sign_in_to, school_a, nominated_contact, django_capture_on_commit_callbacks
):
    contact = make_contact(school_a, students=[])  # Ready to Revoke Access: no students any more
    flow = sign_in_to()
    token = flow.token(flow.authorize(contact.account))
    start_revoke(school_a, nominated_contact, [contact], django_capture_on_commit_callbacks)
    assert not AccessToken.objects.filter(user=contact.account).exists()
    assert flow.userinfo(token).status_code == 401


def test_a_person_who_must_change_their_password_changes_it_first_then_goes_on(flow, inv):
    Account.objects.filter(pk=inv.pk).update(must_change_password=True)
    inv.refresh_from_db()
    answer = flow.authorize(inv)
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/password/change/")
    assert not Grant.objects.exists()
    changed = flow.browser.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "a-new-pass-9876", "password2": "a-new-pass-9876"},
    )
    assert changed.status_code == 302 and changed["Location"].startswith("/o/authorize/")
    answer = flow.browser.get(changed["Location"])
    assert answer["Location"].startswith("https://rp.example.org/callback?") and "code=" in answer["Location"]


def test_a_starter_code_signs_in_to_a_service_through_rollcalls_sign_in(flow, school_a):
    from accounts.credentials import starter_code_issue

    student = member(school_a, "student_portal", person_type="student", username="new.student").account
    student.set_unusable_password()
    student.save()
    code = starter_code_issue(school=school_a, account=student)
    signed_out = flow.authorize(None)
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/accounts/login/")
    signed_in = flow.browser.post(signed_out["Location"], {"login": "new.student", "password": code})
    assert signed_in.status_code == 302 and signed_in["Location"].startswith("/o/authorize/")
    held = flow.browser.get(signed_in["Location"])
    assert held["Location"].startswith("/accounts/password/change/")
    chosen = flow.browser.post(
        "/accounts/password/set/", {"password1": "my-own-pass-2468", "password2": "my-own-pass-2468"}
    )
    assert chosen["Location"].startswith("/o/authorize/")
    answer = flow.browser.get(chosen["Location"])
    assert "code=" in answer["Location"]
    flow.id_claims(flow.token(answer))


def test_the_authorize_endpoint_is_no_open_redirect(flow, inv):
    flow.browser.force_login(inv)
    client_id = flow.rp.client_id
    stranger = "https://evil.example.net/steal"
    for query in (
        f"client_id={client_id}&response_type=code&redirect_uri={stranger}&code_challenge=x" + "x" * 43,
        f"client_id=unknown&response_type=code&redirect_uri={stranger}",
        f"response_type=code&redirect_uri={stranger}",
    ):
        answer = flow.browser.get(f"/o/authorize/?{query}&scope=openid&code_challenge_method=S256")
        assert answer.status_code in (400, 403), query
        assert "evil.example.net" not in answer.get("Location", "")


def test_tokens_and_codes_never_reach_the_log(flow, inv, caplog):
    caplog.set_level(logging.DEBUG)
    answer = flow.authorize(inv)
    token = flow.token(answer)
    flow.userinfo(token)
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    for secret in (code, token["access_token"], token["refresh_token"], token["id_token"], flow.secret):
        assert secret not in caplog.text


def test_the_refusal_page_keeps_the_content_security_policy(flow, school_a):
    answer = flow.authorize(member(school_a, "teacher_security").account)
    policy = answer["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_the_provider_asks_the_one_sign_in_method_hook_after_a_password_sign_in(flow, inv, monkeypatch):
    """signon.services.password_sign_in_refusal is where the school's "Microsoft 365 or Google only" rule
    answers; a password (or starter code) sign-in asks it before any code, a linked sign-in does not."""
    asked = []

    def refuse(*, request, account):
        asked.append(account)
        return "Your school signs in with Microsoft 365 or Google only."

    monkeypatch.setattr(services, "password_sign_in_refusal", refuse)
    signed_out = flow.authorize(None)
    signed_in = flow.browser.post(signed_out["Location"], {"login": inv.username, "password": PASSWORD})
    _refused(flow.browser.get(signed_in["Location"]), "Microsoft 365 or Google only")
    assert asked == [inv]

    asked.clear()
    other = SignIn(flow.service, flow.secret)
    other.authorize(inv)  # a session not signed in with a password (here: force_login) is not asked
    assert asked == []


def test_expired_tokens_are_purged(flow, inv):
    from datetime import timedelta

    from django.utils import timezone

    from signon.tasks import expired_tokens_purge_task

    token = flow.token(flow.authorize(inv))
    RefreshToken.objects.filter(user=inv).update(revoked=timezone.now() - timedelta(days=30))
    AccessToken.objects.filter(user=inv).update(expires=timezone.now() - timedelta(days=30))
    expired_tokens_purge_task()
    assert not AccessToken.objects.exists() and not RefreshToken.objects.exists()
    assert flow.userinfo(token).status_code == 401


def test_the_browsers_own_fetches_do_not_become_where_the_person_goes_after_the_change(flow, inv):
    Account.objects.filter(pk=inv.pk).update(must_change_password=True)
    flow.authorize(inv)
    flow.browser.get("/favicon.ico", headers={"Sec-Fetch-Mode": "no-cors"})
    changed = flow.browser.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "a-new-pass-9876", "password2": "a-new-pass-9876"},
    )
    assert changed["Location"].startswith("/o/authorize/")


@pytest.mark.parametrize("override", [False, True], ids=["refused", "override network authentication"])
def test_a_password_session_is_refused_once_the_school_signs_in_with_microsoft_or_google_only(
    flow, inv, school_a, override
):
    """The real rule behind the hook: a session begun with a Rollcall password before the school moved to
    Microsoft 365 or Google goes on to no service, unless the account keeps a password by Override Network
    Authentication (PRODUCT.md)."""
    signed_out = flow.authorize(None)
    signed_in = flow.browser.post(signed_out["Location"], {"login": inv.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    type(school_a).objects.filter(pk=school_a.pk).update(sign_in_microsoft_google_only=True)
    Account.objects.filter(pk=inv.pk).update(override_network_auth=override)
    answer = flow.browser.get(signed_in["Location"])
    if override:
        assert "code" in parse_qs(urlsplit(answer["Location"]).query)
    else:
        _refused(answer, "Microsoft 365 or Google")
