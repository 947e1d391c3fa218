"""Who may act on whose account, generated from the role table (accounts.permissions): every acting role x
every target (each role held here, each role held only at ANOTHER school of a shared account, no role) x
every account action, on the screens and the API. It fails on any allow the table does not give and on any
refusal it should allow.

The table's answer: the actor's roles give the action's permission, and every role the target holds at any
school is one the actor may grant (GRANTABLE_ROLES). An Exams Officer once took over a Centre Admin's
account with Users > Edit > "Issue a one-time starter code".

The organisation roles are actors too: a Trust Viewer, a Trust Admin whose organisation keeps them read-only,
and one it lets act as Centre Admin (the same per-school rules as a Centre Admin of school A, and of no school
of another organisation). Two more targets hold an organisation role over school A's organisation (Trust Viewer,
Trust Admin) with no role at any school: only a Trust Admin acting for that organisation reaches a Trust Viewer,
and nobody but support a Trust Admin.

Each case runs every target through one route and reads what changed in the database, so the answer does
not depend on how a refusal looks. An actor without the route's permission is tried on the easiest target
(no role anywhere): refused there, it is refused everywhere.
"""

from collections import defaultdict
from dataclasses import dataclass

import pytest
from django_scopes import scopes_disabled

from accounts.models import Account, Membership, OrganisationRole, RoleAssignment, SetPasswordLink, StarterCode
from accounts.permissions import (
    ACCOUNT_WIDE_ACTIONS,
    ACTION_PERMS,
    PERSON_ROLES,
    ROLE_PERMISSIONS,
    AccountAction,
    Perm,
    acting_roles_for_organisation,
    grantable_roles_for,
    organisation_roles_out_of_reach,
    organisation_school_perms,
)
from accounts.permissions import may_act_on_roles as table_allows
from provisioning.models import ContactJobItem
from tests.factories import AccountFactory, ContactLinkFactory, MembershipFactory, RoleAssignmentFactory

A = AccountAction
NEW_PASSWORD = "fresh-passphrase-1"


@dataclass(frozen=True)
class Route:
    """One way to do an action: the permission the route itself asks, and the person type it works on."""

    action: AccountAction
    channel: str  # "screen" or "api"
    perm: Perm
    person_type: str = "staff"
    bulk: bool = False  # one request for every target (Account Manager)

    @property
    def name(self) -> str:
        return f"{self.channel}-{self.action}-{self.perm}"


ROUTES = [
    *(Route(action, "screen", Perm.USERS_EDIT) for action in (A.DETAILS, A.LOCK, A.APPROVE, A.EMAIL, A.ROLES)),
    *(Route(action, "screen", Perm.USERS_EDIT) for action in (A.PASSWORD, A.STARTER_CODE, A.LINK)),
    Route(A.DELETE, "screen", Perm.USERS_DELETE),
    Route(A.ASSESSMENT_ACCESS, "screen", Perm.ASSESSMENTS_ACCESS),
    Route(A.STARTER_CODE, "screen", Perm.ACCOUNT_MANAGER_ACT, bulk=True),  # Re-issue Starter Code
    Route(A.LINK, "screen", Perm.WELCOME_EMAIL_SEND, bulk=True),  # Send Welcome Email (staff)
    Route(A.REVOKE, "screen", Perm.ACCOUNT_MANAGER_ACT, person_type="contact", bulk=True),
    *(Route(action, "api", Perm.USERS_EDIT) for action in (A.DETAILS, A.LOCK, A.APPROVE, A.EMAIL, A.ROLES)),
    Route(A.DELETE, "api", Perm.USERS_DELETE),
    Route(A.REVOKE, "api", Perm.ACCOUNT_MANAGER_ACT, person_type="contact", bulk=True),
    Route(A.LINK, "api", Perm.WELCOME_EMAIL_SEND, person_type="contact", bulk=True),  # Send Welcome Email
]
ACTORS = sorted(PERSON_ROLES)
# Organisation roles as actors: name -> (organisation role, the organisation lets Trust Admins act as Centre Admin).
TRUST_ACTORS = {
    "trust_admin_acting": ("trust_admin", True),
    "trust_admin_read_only": ("trust_admin", False),
    "trust_viewer": ("trust_viewer", False),
}
ALL_ACTORS = ACTORS + sorted(TRUST_ACTORS)
ORG = "organisation of school A"


def school_roles(actor: str) -> frozenset:
    """The school roles the actor acts with at school A (none at school B, another organisation's)."""
    if actor in TRUST_ACTORS:
        org_role, allowed = TRUST_ACTORS[actor]
        return acting_roles_for_organisation([org_role], act_as_centre_admin=allowed)
    return frozenset({actor})


def perms_of(actor: str) -> frozenset:
    if actor in TRUST_ACTORS:
        org_role, allowed = TRUST_ACTORS[actor]
        return organisation_school_perms([org_role], act_as_centre_admin=allowed)
    return ROLE_PERMISSIONS[actor]


def grants(actor: str) -> frozenset:
    return grantable_roles_for(school_roles(actor))


def org_roles(actor: str) -> set:
    return {TRUST_ACTORS[actor][0]} if actor in TRUST_ACTORS else set()


def test_every_account_action_has_a_route_on_the_screens():
    assert {route.action for route in ROUTES if route.channel == "screen"} == set(AccountAction)


def role_to_grant(actor_role: str, held_here: frozenset) -> str:
    """A role the actor may grant that the target lacks here (the roles action adds it)."""
    choices = sorted(grants(actor_role) - held_here - {"centre_admin"})
    return choices[0] if choices else "inv"


def expected(actor_role: str, target_roles: frozenset, route: Route, held_here: frozenset, org_role=None) -> bool:
    perms = perms_of(actor_role)
    if route.perm not in perms or ACTION_PERMS.get(route.action, route.perm) not in perms:
        return False
    if route.action == A.ROLES and role_to_grant(actor_role, held_here) not in grants(actor_role):
        return False
    if org_role and organisation_roles_out_of_reach({ORG: org_roles(actor_role)}, [(ORG, org_role)]):
        return False
    # The actor holds their role at school A only; the target holds `held_here` at A and the rest at B.
    held = [("A", role) for role in held_here] + [("B", role) for role in target_roles - held_here]
    return table_allows({"A": school_roles(actor_role)}, "A", held, strict=route.action in ACCOUNT_WIDE_ACTIONS)


@dataclass
class Target:
    label: str
    membership: Membership
    roles: frozenset  # at every school
    here: frozenset  # at school A
    org_role: str | None = None  # over school A's organisation


def role_classes() -> list[list[str]]:
    """The roles that no acting role's grant rights tell apart (GRANTABLE_ROLES): the rule answers the same
    for every role of a class, so each case tries two of each class (one held here, one at the other school)
    and the choice turns with the acting role, so that the whole matrix holds every role."""
    classes = defaultdict(list)
    for role in sorted(PERSON_ROLES):
        classes[tuple(role in grantable_roles_for({actor}) for actor in ACTORS)].append(role)
    return list(classes.values())


def target_roles(turn: int) -> list[tuple[str, frozenset, frozenset]]:
    """(label, roles at every school, roles here) of each target for the turn-th acting role."""
    specs = [("none", frozenset(), frozenset())]
    for members in role_classes():
        here, elsewhere = members[turn % len(members)], members[(turn + 1) % len(members)]
        specs += [(f"{here}-here", frozenset({here}), frozenset({here}))]
        specs += [(f"{elsewhere}-elsewhere", frozenset({elsewhere}), frozenset())]
    return specs


def test_the_targets_hold_every_role_here_and_elsewhere_over_the_matrix():
    specs = [spec for turn in range(len(ACTORS)) for spec in target_roles(turn)]
    assert {role for label, roles, here in specs if here for role in roles} == PERSON_ROLES
    assert {role for label, roles, here in specs if roles and not here for role in roles} == PERSON_ROLES


def make_targets(school_a, school_b, *, turn: int, person_type: str, student=None) -> list[Target]:
    """Someone holding a role here; someone here with no role who holds one at the other school (one
    account, two schools); someone with no role at all. Contacts are linked to `student` when given."""
    targets = []
    for label, roles, here in target_roles(turn):
        membership = MembershipFactory(
            school=school_a,
            person_type=person_type,
            portal_access=student is not None,
            account__username=f"t.{label}",
            account__email=f"t.{label}@alder.sch.uk",
        )
        for role in here:
            RoleAssignmentFactory(membership=membership, role_id=role)
        if roles and not here:
            other = MembershipFactory(school=school_b, account=membership.account, person_type="staff")
            RoleAssignmentFactory(membership=other, role_id=next(iter(roles)))
        if student is not None:
            ContactLinkFactory(school=school_a, contact=membership, student=student, portal_access=True)
        targets.append(Target(label, membership, roles, here))
    for org_role in ("trust_viewer", "trust_admin"):  # a member here with no role, and a trust role
        membership = MembershipFactory(
            school=school_a,
            person_type=person_type,
            portal_access=student is not None,
            account__username=f"t.{org_role}-org",
            account__email=f"t.{org_role}-org@alder.sch.uk",
        )
        OrganisationRole.objects.create(organisation=school_a.organisation, account=membership.account, role=org_role)
        if student is not None:
            ContactLinkFactory(school=school_a, contact=membership, student=student, portal_access=True)
        targets.append(Target(f"{org_role}-org", membership, frozenset(), frozenset(), org_role))
    return targets


# --- Doing each action, and reading whether it was done --------------------------------------------


def _edit_form(target: Target, actor_role: str, **overrides) -> dict:
    account = Account.objects.get(pk=target.membership.account_id)
    data = {
        "given_name": account.given_name,
        "family_name": account.family_name,
        "email": account.email,
        "mis_code": target.membership.mis_code,
        "year_group": "",
        "approved": "on",
        "roles": sorted(target.here & grants(actor_role)),
        "password_method": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


SCREEN_EDITS = {
    A.DETAILS: lambda t, role: {"given_name": "Changed"},
    A.LOCK: lambda t, role: {"locked_out": "on"},
    A.APPROVE: lambda t, role: {"approved": None},
    A.EMAIL: lambda t, role: {"email": f"new.{t.label}@alder.sch.uk"},
    A.ROLES: lambda t, role: {"roles": sorted((t.here & grants(role)) | {role_to_grant(role, t.here)})},
    A.PASSWORD: lambda t, role: {"password_method": "set", "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
    A.STARTER_CODE: lambda t, role: {"password_method": "starter_code"},
    A.LINK: lambda t, role: {"password_method": "link"},
}
API_PATCHES = {
    A.DETAILS: lambda t: {"given_name": "Changed"},
    A.LOCK: lambda t: {"locked_out": True},
    A.APPROVE: lambda t: {"approved": False},
    A.EMAIL: lambda t: {"email": f"new.{t.label}@alder.sch.uk"},
}


def done(target: Target, route: Route, actor_role: str, response) -> bool:
    """Whether the action happened to the target, read from the database (Assessment Access: from the
    response, as nobody here is offered an assessment to hide)."""
    if route.action == A.ASSESSMENT_ACCESS:
        return response.status_code == 302
    account = Account.objects.get(pk=target.membership.account_id)
    membership = Membership.objects.get(pk=target.membership.pk)
    match route.action:
        case A.DETAILS:
            return account.given_name == "Changed"
        case A.LOCK:
            return account.locked_out
        case A.APPROVE:
            return not account.approved
        case A.EMAIL:
            return account.email.startswith("new.")
        case A.ROLES:
            grant = role_to_grant(actor_role, target.here)
            return RoleAssignment.objects.filter(membership=membership, role_id=grant).exists()
        case A.PASSWORD:
            return account.check_password(NEW_PASSWORD)
        case A.STARTER_CODE:
            return StarterCode.objects.filter(account=account).exists()
        case A.LINK if not route.bulk:
            return SetPasswordLink.objects.filter(account=account).exists()
        case A.LINK | A.REVOKE:
            return ContactJobItem.objects.filter(membership=membership).exists()
        case A.DELETE:
            return membership.status == Membership.Status.ARCHIVED
    raise AssertionError(route)


def act(client, school, target: Target, route: Route, actor_role: str):
    """One request doing the action to one target; returns the response."""
    m = target.membership
    if route.channel == "screen":
        if route.action == A.DELETE:
            return client.post(f"/s/{school.slug}/users/{m.pk}/delete/", {"confirm": "DELETE"})
        if route.action == A.ASSESSMENT_ACCESS:
            return client.post(f"/s/{school.slug}/assessments/access/{m.pk}/", {"hidden": []})
        form = _edit_form(target, actor_role, **SCREEN_EDITS[route.action](target, actor_role))
        return client.post(f"/s/{school.slug}/users/{m.pk}/edit/", form)
    url = f"/api/s/{school.slug}/accounts/{m.pk}/"
    if route.action == A.DELETE:
        return client.delete(url)
    if route.action == A.ROLES:
        return client.post(url + "roles/", {"role": role_to_grant(actor_role, target.here)}, "application/json")
    return client.patch(url, API_PATCHES[route.action](target), "application/json")


def act_on_all(client, school, targets: list[Target], route: Route):
    ids = [str(t.membership.pk) for t in targets]
    if route.channel == "api":
        path = "revoke/" if route.action == A.REVOKE else "welcome-email/"
        return client.post(f"/api/s/{school.slug}/contacts/{path}", {"contact_ids": ids}, "application/json")
    path = {A.STARTER_CODE: "starter-codes/", A.LINK: "welcome-email/", A.REVOKE: "revoke/"}[route.action]
    return client.post(f"/s/{school.slug}/account-manager/{path}", {"type": route.person_type, "ids": ids})


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("actor_role", ALL_ACTORS)
def test_an_actor_acts_only_on_accounts_whose_every_role_they_may_grant(client, school_a, school_b, actor_role, route):
    if actor_role in TRUST_ACTORS:  # a trust role holds no place at any school
        actor_account = AccountFactory(username="actor")
        org_role, allowed = TRUST_ACTORS[actor_role]
        OrganisationRole.objects.create(organisation=school_a.organisation, account=actor_account, role=org_role)
        school_a.organisation.trust_admins_act_as_centre_admin = allowed
        school_a.organisation.save()
    else:
        actor = MembershipFactory(school=school_a, account__username="actor")
        RoleAssignmentFactory(membership=actor, role_id=actor_role)
        actor_account = actor.account
    if actor_role != "centre_admin":  # the school keeps a Centre Admin (deleting one asks for another)
        RoleAssignmentFactory(membership=MembershipFactory(school=school_a), role_id="centre_admin")
    student = None
    if route.action == A.LINK and route.person_type == "contact":  # Welcome Email: contacts linked to a student
        student = MembershipFactory(school=school_a, person_type="student")
    targets = make_targets(
        school_a, school_b, turn=ALL_ACTORS.index(actor_role), person_type=route.person_type, student=student
    )
    if route.perm not in perms_of(actor_role):
        targets = targets[:1]  # refused on the easiest target, refused on all
    client.force_login(actor_account)

    responses = {}
    if route.bulk:
        act_on_all(client, school_a, targets, route)
    else:
        responses = {target.label: act(client, school_a, target, route, actor_role) for target in targets}

    wrong = []
    with scopes_disabled():
        for target in targets:
            want = expected(actor_role, target.roles, route, target.here, target.org_role)
            if done(target, route, actor_role, responses.get(target.label)) != want:
                wrong.append(f"{target.label}: {'should be allowed' if want else 'should be refused'}")
    assert not wrong, f"{actor_role} via {route.name}: {wrong}"
