"""The provider as a relying party sees it, through Authlib: discovery, keys, the code flow with PKCE and a
nonce, the ID token's signature, issuer and audience, userinfo, refresh, revocation and introspection."""

from accounts.models import AuditEvent
from tests.factories import ContactLinkFactory, member
from tests.signon.conftest import ISSUER, SignIn


def test_it_publishes_discovery_with_every_endpoint(sign_in_to):
    flow = sign_in_to()
    d = flow.discovery
    assert d["issuer"] == ISSUER
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ):
        assert d[key].startswith(f"{ISSUER}/"), key
    assert "RS256" in d["id_token_signing_alg_values_supported"]
    assert "S256" in d["code_challenge_methods_supported"]
    assert {"openid", "profile", "email", "schools", "linked_students"} <= set(d["scopes_supported"])
    assert "introspection" not in d["scopes_supported"]


def test_it_signs_a_student_in_with_a_validated_id_token_and_userinfo(sign_in_to, school_a):
    student = member(school_a, "student_portal", person_type="student", email="s@alder.example")
    student.year_group = "Year 9"
    student.save()
    account = student.account
    flow = sign_in_to()

    answer = flow.authorize(account)
    assert answer.status_code == 302
    assert answer["Location"].startswith("https://rp.example.org/callback?")
    token = flow.token(answer)
    claims = flow.id_claims(token)  # signature (JWKS), issuer, audience, nonce, at_hash: Authlib checks them

    assert claims["sub"] == str(account.pk)
    assert claims["preferred_username"] == account.username
    assert claims["aud"] == flow.rp.client_id and claims["nonce"] == flow.nonce
    info = flow.userinfo(token).json()
    assert info["sub"] == str(account.pk)
    assert info["given_name"] == account.given_name and info["family_name"] == account.family_name
    assert info["email"] == "s@alder.example" and info["email_verified"] is False
    assert info["schools"] == [
        {
            "school": "alder",
            "school_name": school_a.name,
            "person_type": "student",
            "year_group": "Year 9",
            "roles": ["student_portal"],
        }
    ]


def test_the_sub_stays_when_the_username_changes(sign_in_to, school_a):
    account = member(school_a, "inv").account
    flow = sign_in_to()
    first = flow.id_claims(flow.token(flow.authorize(account)))["sub"]
    account.username = "renamed.person"
    account.save()
    again = SignIn(flow.service, flow.secret)
    claims = again.id_claims(again.token(again.authorize(account)))
    assert claims["sub"] == first and claims["preferred_username"] == "renamed.person"


def test_email_verified_is_true_only_when_rollcall_verified_it(sign_in_to, school_a):
    account = member(school_a, "inv", email="inv@alder.example", email_verified=True).account
    flow = sign_in_to()
    assert flow.userinfo(flow.token(flow.authorize(account))).json()["email_verified"] is True


def test_scopes_decide_the_claims(sign_in_to, school_a):
    account = member(school_a, "inv", email="inv@alder.example").account
    flow = sign_in_to(scope="openid")
    info = flow.userinfo(flow.token(flow.authorize(account))).json()
    assert set(info) == {"sub"}


def test_a_service_cannot_ask_for_a_scope_it_was_not_given(register, school_a):
    service, secret = register(scopes=["profile"])
    flow = SignIn(service, secret, scope="openid profile schools")
    answer = flow.authorize(member(school_a, "inv").account)
    assert answer.status_code == 302
    assert "error=invalid_scope" in answer["Location"]


def test_a_parent_gets_linked_students_only_with_that_scope(sign_in_to, school_a):
    link = ContactLinkFactory(school=school_a, contact__portal_access=True, student__year_group="Year 8")
    from accounts.models import RoleAssignment

    RoleAssignment.objects.create(school=school_a, membership=link.contact, role_id="parent")
    RoleAssignment.objects.create(school=school_a, membership=link.student, role_id="student_portal")
    parent = link.contact.account

    without = sign_in_to(scope="openid schools")
    entry = without.userinfo(without.token(without.authorize(parent))).json()["schools"][0]
    assert entry["person_type"] == "contact" and "students" not in entry

    with_students = sign_in_to(scope="openid schools linked_students", name="Parent app")
    entry = with_students.userinfo(with_students.token(with_students.authorize(parent))).json()["schools"][0]
    assert entry["students"] == [
        {"sub": str(link.student.account_id), "name": link.student.account.full_name, "year_group": "Year 8"}
    ]


def test_the_schools_claim_lists_only_the_services_organisation(sign_in_to, school_a, school_b):
    membership = member(school_a, "inv")
    member_b = member(school_b, "inv")
    member_b.account.delete()
    from accounts.models import Membership, RoleAssignment

    other = Membership.objects.create(school=school_b, account=membership.account, person_type="staff")
    RoleAssignment.objects.create(school=school_b, membership=other, role_id="inv")
    flow = sign_in_to()
    schools = flow.userinfo(flow.token(flow.authorize(membership.account))).json()["schools"]
    assert [s["school"] for s in schools] == ["alder"]


def test_it_refreshes_and_the_old_refresh_token_is_spent(sign_in_to, school_a):
    account = member(school_a, "inv").account
    flow = sign_in_to()
    token = flow.token(flow.authorize(account))
    fresh = flow.rp.refresh_token(flow.discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert fresh["access_token"] != token["access_token"]
    assert flow.userinfo(fresh).status_code == 200
    assert flow.userinfo(token).status_code == 401  # the old access token went with its refresh
    reused = flow.rp.post(
        flow.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(flow.rp.client_id, flow.secret),
    )
    assert reused.status_code == 400


def test_revocation_and_introspection(sign_in_to, school_a):
    account = member(school_a, "inv").account
    flow = sign_in_to()
    token = flow.token(flow.authorize(account))
    auth = (flow.rp.client_id, flow.secret)
    seen = flow.rp.post(flow.discovery["introspection_endpoint"], data={"token": token["access_token"]}, auth=auth)
    assert seen.json()["active"] is True
    assert seen.json()["sub"] == str(account.pk) and "username" not in seen.json()

    flow.rp.revoke_token(flow.discovery["revocation_endpoint"], token["access_token"])
    seen = flow.rp.post(flow.discovery["introspection_endpoint"], data={"token": token["access_token"]}, auth=auth)
    assert seen.json() == {"active": False}


def test_a_public_client_signs_in_with_pkce_alone(register, school_a):
    service, secret = register(confidential=False)
    assert secret == ""
    flow = SignIn(service, secret)
    flow.id_claims(flow.token(flow.authorize(member(school_a, "inv").account)))


def test_another_service_learns_nothing_from_introspecting_a_token(sign_in_to, school_a):
    flow = sign_in_to()
    token = flow.token(flow.authorize(member(school_a, "inv").account))
    other = sign_in_to(name="Other service")
    seen = other.rp.post(
        other.discovery["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(other.rp.client_id, other.secret),
    )
    assert seen.json() == {"active": False}


def test_rp_initiated_logout_ends_the_session_and_returns_to_a_registered_address(sign_in_to, school_a):
    flow = sign_in_to()
    account = member(school_a, "inv").account
    token = flow.token(flow.authorize(account))
    stranger = flow.browser.get(
        "/o/logout/",
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example.net/"},
    )
    assert "evil.example.net" not in stranger.get("Location", "")
    answer = flow.browser.get(
        "/o/logout/",
        {
            "id_token_hint": token["id_token"],
            "client_id": flow.rp.client_id,
            "post_logout_redirect_uri": "https://rp.example.org/signed-out",
            "state": "xyz",
        },
    )
    assert answer.status_code == 302 and answer["Location"].startswith("https://rp.example.org/signed-out")
    assert flow.browser.get("/me/profile/").status_code == 302  # Rollcall's session ended too
    assert flow.userinfo(token).status_code == 401
    event = AuditEvent.objects.get(action="signon.tokens.revoked", target_id=str(account.pk))
    assert event.changes["reason"] == [None, "signed out from Exams Office Hub"]


def test_discovery_advertises_only_what_the_provider_does(client):
    """Found by trying it: hybrid response types and HS256 were advertised, and refused when used."""
    data = client.get("/.well-known/openid-configuration").json()
    assert data["response_types_supported"] == ["code"]
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "none" in data["token_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in data["token_endpoint_auth_methods_supported"]
    assert "schools" in data["claims_supported"]
