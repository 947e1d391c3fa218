"""Reads of the SCIM push: what a service should hold (the desired state), and its log.

What a service should hold is read across every school of its organisation at once (one person, several
schools, one user at the service), so these reads run with scoping off: listed in
tests/tenancy/test_scopes_allow_list.py.

The leaver timers are the school's own (provisioning's sync policy): a leaver in their grace period (Left) can
still sign in, so stays active at the service; archived after the grace, the user is deactivated (active=false);
erased after "erase after N days" (or deleted by hand, or no longer holding one of the service's roles there),
the user is deleted. The push follows the memberships those timers move, so it never keeps timers of its own.
"""

import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django_scopes import scopes_disabled

from accounts.models import Account, Membership, RoleAssignment
from outbound.models import ScimExchange, ScimRun, ScimTarget
from signon.models import ServiceSwitchedOff
from signon.selectors import service_schools
from tenancy.models import School

_CURRENT = {Membership.Status.ACTIVE, Membership.Status.LEFT}
_HELD = (Membership.Status.ACTIVE, Membership.Status.LEFT, Membership.Status.ARCHIVED)


@dataclass
class DesiredUser:
    account_id: str
    user_name: str
    given_name: str
    family_name: str
    email: str
    active: bool
    groups: set = field(default_factory=set)  # "school id:role code", current memberships only

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.user_name

    def attributes(self) -> dict:
        """What the service is told and what a reconciliation compares: the same few attributes."""
        return {
            "userName": self.user_name,
            "givenName": self.given_name,
            "familyName": self.family_name,
            "email": self.email.lower(),
            "active": self.active,
        }

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.attributes())


def fingerprint(attributes: dict) -> str:
    return hashlib.sha256(json.dumps(attributes, sort_keys=True).encode()).hexdigest()


@dataclass
class DesiredGroup:
    key: str
    display_name: str
    account_ids: set = field(default_factory=set)


def desired_users(*, target: ScimTarget) -> dict[str, DesiredUser]:
    """Every account the service should hold, by account id: those holding one of its roles at a school of its
    organisation (Left and Archived leavers included; Archived, switched off or unable to sign in: inactive).

    A service shared with every organisation has no SCIM push: one endpoint would receive every organisation's
    people. Nothing is desired for it (ScimTarget refuses it too)."""
    service = target.service
    if service.organisation_id is None:
        return {}
    role_codes = list(service.roles.values_list("code", flat=True))
    with scopes_disabled():
        schools = list(service_schools(service).values_list("pk", flat=True))
        off = set(ServiceSwitchedOff.objects.filter(service=service).values_list("school_id", flat=True))
        rows = RoleAssignment.objects.filter(
            school_id__in=schools, role_id__in=role_codes, membership__status__in=_HELD
        ).values_list("membership__account_id", "school_id", "role_id", "membership__status")
        held: dict = {}
        for account_id, school_id, role_code, status in rows:
            current = status in _CURRENT and school_id not in off
            entry = held.setdefault(account_id, [False, set()])
            if current:
                entry[0] = True
                entry[1].add(f"{school_id}:{role_code}")
        accounts = Account.objects.filter(pk__in=list(held), deleted_at__isnull=True).only(
            "id", "username", "given_name", "family_name", "email", "is_active", "approved", "locked_out"
        )
        desired = {}
        for account in accounts:
            current, groups = held[account.pk]
            can_sign_in = account.is_active and account.approved and not account.locked_out
            desired[str(account.pk)] = DesiredUser(
                account_id=str(account.pk),
                user_name=account.username,
                given_name=account.given_name,
                family_name=account.family_name,
                email=account.email,
                active=current and can_sign_in,
                groups=groups if can_sign_in else set(),
            )
    return desired


def desired_groups(*, target: ScimTarget, users: dict[str, DesiredUser]) -> dict[str, DesiredGroup]:
    """One group per school and role of the service, named "<school>: <role>", its members the active users
    holding that role there."""
    service = target.service
    if service.organisation_id is None:
        return {}
    schools = {str(pk): name for pk, name in service_schools(service).values_list("pk", "name")}
    roles = list(service.roles.all())
    groups = {
        f"{school_id}:{role.code}": DesiredGroup(key=f"{school_id}:{role.code}", display_name=f"{name}: {role.name}")
        for school_id, name in schools.items()
        for role in roles
    }
    for user in users.values():
        for key in user.groups:
            if key in groups:
                groups[key].account_ids.add(user.account_id)
    return groups


def targets_enabled() -> QuerySet[ScimTarget]:
    return ScimTarget.objects.filter(enabled=True, service__organisation__isnull=False).select_related("service")


def organisations_of(*, account_ids: list) -> set:
    """The organisations where these accounts hold a place, at any school of them."""
    with scopes_disabled():
        memberships = Membership.objects.filter(account_id__in=account_ids)
        return set(memberships.values_list("school__organisation_id", flat=True))


def run_open(*, target: ScimTarget, kind: str) -> ScimRun | None:
    """The run that a new one of this kind would clash with. A push waits for another push and for a
    reconciliation being applied (both send); a plan waiting for confirmation does not stop the pushes."""
    runs = ScimRun.objects.filter(target=target)
    if kind == ScimRun.Kind.PUSH:
        sending = (ScimRun.State.CONFIRMED, ScimRun.State.APPLYING)
        runs = runs.filter(
            Q(kind=ScimRun.Kind.PUSH, state__in=ScimRun.OPEN_STATES) | Q(kind=ScimRun.Kind.RECONCILE, state__in=sending)
        )
    else:
        runs = runs.filter(kind=kind, state__in=ScimRun.OPEN_STATES)
    return runs.first()


def exchanges_of(*, target: ScimTarget, limit: int = 200) -> list[ScimExchange]:
    return list(ScimExchange.objects.filter(target=target).order_by("-at", "-id")[:limit])


def pushes_for_school(*, school: School) -> list[dict]:
    """A Centre Admin's view of the SCIM pushes of their organisation's services: whether each is on, how many
    of this school's people the service holds, and the last push (its state, when, and why it failed)."""
    here = Membership.objects.filter(school=school).values("account_id")
    rows = []
    targets = ScimTarget.objects.filter(service__organisation_id=school.organisation_id).select_related("service")
    for target in targets.order_by("service__name"):
        last = ScimRun.objects.filter(target=target, kind=ScimRun.Kind.PUSH).order_by("-created_at").first()
        rows.append(
            {
                "service": target.service,
                "on": target.enabled and target.token_is_set,
                "groups": target.push_groups,
                "held": target.users.filter(account_id__in=here).count(),
                "last": last,
            }
        )
    return rows
