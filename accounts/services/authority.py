"""Who may act on whose account: the one rule every screen, the API, Account Manager, upload and the
admin ask (PRODUCT.md, Later decisions).

An actor may set or reset a password, issue a starter code or a set-password link, lock, approve, change
the email, roles or details of, delete, or set the Assessment Access of an account only if they may grant
every role that account holds, at the school where it is held (accounts.permissions.roles_out_of_reach): an
account shared by two schools is as protected as its most powerful role, and a Centre Admin of one school has
no say over another school's administrators. Support staff may act on anyone; jobs acting as the
system (nightly sync) keep their own rule; your own account is yours (but a Centre Admin never changes
their own email, and nobody deletes themselves).
"""

import functools
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django_scopes import scopes_disabled

from accounts.models import Account, Membership, OrganisationRole, Role, RoleAssignment
from accounts.permissions import (
    ACCOUNT_WIDE_ACTIONS,
    ACTION_PERMS,
    BULK_NEVER_GRANTS,
    ELSEWHERE,
    ORGANISATION_ROLE_NAMES,
    PERSON_ROLES,
    AccountAction,
    acting_roles_for_organisation,
    opens_others,
    organisation_roles_out_of_reach,
    roles_beyond,
    roles_out_of_reach,
)
from accounts.selectors import ROLES_COUNT_WHILE, through_token, token_limited
from accounts.services.actor import Actor

# Ids per query: well under SQLite's limit on bound parameters.
_CHUNK = 5000

_ACTION_REFUSALS = {
    AccountAction.APPROVE: "Only a Centre Admin or Nominated Contact can approve an account.",
    AccountAction.EMAIL: "Only a Centre Admin can change an email address.",
    AccountAction.DELETE: "Only a Centre Admin can delete an account.",
    AccountAction.ASSESSMENT_ACCESS: "Only a Centre Admin can set Assessment Access.",
}


def _acts_as_system(actor: Actor) -> bool:
    # A job (upload's apply, a sync) was checked when it was planned, or is the system's own (sync never
    # grants Centre Admin); a call with no account is the system itself (the demo loader).
    return actor.account is None or actor.job is not None or actor.is_support


def accounts_out_of_reach(*, actor: Actor, account_ids: Iterable, action: AccountAction | None = None) -> dict:
    """Of these accounts, those the actor may not act on: {account id: the roles the actor may not act over
    (accounts.permissions.roles_out_of_reach, per school)}. One query for the actor's roles at every school
    and one per 5,000 accounts, whatever the callers (a whole upload file, an Account Manager selection)
    hand in."""
    if _acts_as_system(actor):
        return {}
    # Your own account is yours, but not a token's: a token acts as its roles, not as its issuer.
    own = None if through_token(actor.account.pk) else actor.account.pk
    ids = [pk for pk in set(account_ids) if pk != own]
    if not ids:
        return {}
    here = actor.school.pk if actor.school is not None else None
    with scopes_disabled():  # the rule is about every school the account belongs to, and the actor's too
        # The actor's organisation roles, each with its organisation's schools (none through a token, which acts
        # as its roles at its school only): what they grant over the organisation, and act as at its schools.
        my_orgs = [] if through_token(actor.account.pk) else _organisation_roles_with_schools(actor.account.pk)
        mine: dict = {}
        if here is not None:  # acting at no school, the actor reaches only people who hold no role
            for school_id, role_id in _held(account_ids=[actor.account.pk]).values_list("school_id", "role_id"):
                mine.setdefault(school_id, set()).add(role_id)
            for role, _organisation_id, allowed, school_id in my_orgs:
                acting = acting_roles_for_organisation([role], act_as_centre_admin=allowed)
                if acting and school_id is not None:
                    mine.setdefault(school_id, set()).update(acting)
            mine = {school_id: token_limited(actor.account.pk, school_id, roles) for school_id, roles in mine.items()}
            if here not in mine and token_limited(actor.account.pk, here, ()):
                mine[here] = token_limited(actor.account.pk, here, ())
        # Roles held here are out of reach only if beyond the actor here; roles elsewhere are sorted in Python.
        relevant = Q(school_id=here, role_id__in=roles_beyond(mine.get(here, ()))) | ~Q(school_id=here)
        held: dict = {}
        org_held: dict = {}  # {account id: [(organisation id, organisation role)]}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = (
                _held(account_ids=chunk).filter(relevant).values_list("membership__account_id", "school_id", "role_id")
            )
            # Organisation roles in the same query: their codes are no school role's, so each row says which it is.
            org_rows = OrganisationRole.objects.filter(account_id__in=chunk).values_list(
                "account_id", "organisation_id", "role"
            )
            for account_id, where, role in rows.order_by().union(org_rows.order_by(), all=True):
                (org_held if role in ORGANISATION_ROLE_NAMES else held).setdefault(account_id, []).append((where, role))
        strict = action in ACCOUNT_WIDE_ACTIONS
        if strict:  # a membership elsewhere that holds no role counts too
            elsewhere = Membership.objects.filter(account_id__in=ids, status__in=ROLES_COUNT_WHILE).exclude(
                school_id=here
            )
            for account_id, school_id in elsewhere.values_list("account_id", "school_id"):
                held.setdefault(account_id, []).append((school_id, ELSEWHERE))
    found = {pk: roles_out_of_reach(mine, here, pairs, strict=strict) for pk, pairs in held.items()}
    grants_over: dict = {}
    for role, organisation_id, _allowed, _school_id in my_orgs:
        grants_over.setdefault(organisation_id, set()).add(role)
    for pk, pairs in org_held.items():
        found[pk] = found.get(pk, frozenset()) | organisation_roles_out_of_reach(grants_over, pairs)
    return {pk: roles for pk, roles in found.items() if roles}


def _organisation_roles_with_schools(account_id) -> list[tuple]:
    """(role, organisation id, whether it lets Trust Admins act as Centre Admin, school id) for each school of
    each organisation where the account holds an organisation role (school id None for one with no school)."""
    return list(
        OrganisationRole.objects.filter(account_id=account_id).values_list(
            "role",
            "organisation_id",
            "organisation__trust_admins_act_as_centre_admin",
            "organisation__schools__id",
        )
    )


def _held(*, account_ids):
    return RoleAssignment.objects.filter(
        membership__account_id__in=account_ids, membership__status__in=ROLES_COUNT_WHILE
    )


def out_of_reach_message(role_codes: Iterable[str]) -> str:
    role_codes = set(role_codes)
    if ELSEWHERE in role_codes and len(role_codes) == 1:
        return (
            "This person also belongs to another school where you have no rights; only someone with rights there, "
            "or support, can change their sign-in or details. A set-password link to their own email still works."
        )
    role_codes.discard(ELSEWHERE)
    roles = Role.objects.filter(code__in=list(role_codes)).order_by("sort_order")
    names = ", ".join(
        [
            *roles.values_list("name", flat=True),
            *sorted(ORGANISATION_ROLE_NAMES[c] for c in role_codes if c in ORGANISATION_ROLE_NAMES),
        ]
    )
    return (
        f"This person holds roles you may not grant ({names}), here or at another school; only someone who may "
        "grant them, or support, can change their account."
    )


_OWN_EMAIL_REFUSAL = "A Centre Admin cannot change their own email address; ask another Centre Admin or support."


def _action_refusal(*, actor: Actor, perms: Callable[[], frozenset], account_id, action: AccountAction) -> str | None:
    """The part of the rule about the actor's own rights (the action's permission; never one's own email).
    `perms` is called only when the action needs a permission: most actions need no query for it."""
    needed = ACTION_PERMS.get(action)
    if needed is not None and needed not in perms():
        return _ACTION_REFUSALS[action]
    if actor.account.pk == account_id and action == AccountAction.EMAIL:
        return _OWN_EMAIL_REFUSAL
    return None


def check_may_act_on_account(*, actor: Actor, account: Account, action: AccountAction) -> None:
    """Raise PermissionDenied, saying why, unless the actor may do `action` to the account."""
    if _acts_as_system(actor):
        return
    refusal = _action_refusal(actor=actor, perms=actor.perms, account_id=account.pk, action=action)
    if refusal:
        raise PermissionDenied(refusal)
    if actor.account.pk == account.pk and not through_token(actor.account.pk):
        return
    out = accounts_out_of_reach(actor=actor, account_ids=[account.pk], action=action)
    if out:
        raise PermissionDenied(out_of_reach_message(out[account.pk]))


def action_refusals(*, actor: Actor, action: AccountAction) -> Callable[[object], str | None]:
    """check_may_act_on_account's rule on the actor's own rights, for many accounts (a whole upload file): a
    function of an account id giving the reason it is refused, or None. The actor's rights are read once, and
    only if an account is asked about; whose roles are out of reach is accounts_out_of_reach, for the set."""
    if _acts_as_system(actor):
        return lambda account_id: None
    perms = functools.cache(actor.perms)
    return lambda account_id: _action_refusal(actor=actor, perms=perms, account_id=account_id, action=action)


def may_act_on_account(*, actor: Actor, account: Account, action: AccountAction) -> bool:
    try:
        check_may_act_on_account(actor=actor, account=account, action=action)
    except PermissionDenied:
        return False
    return True


def refusal_for(*, actor: Actor, account: Account, action: AccountAction) -> str:
    """The reason a screen shows beside what it offers, or "" when the actor may."""
    try:
        check_may_act_on_account(actor=actor, account=account, action=action)
    except PermissionDenied as exc:
        return str(exc)
    return ""


def sync_out_of_reach(*, school, may_give: Iterable[str], account_ids=None) -> dict[str, frozenset]:
    """The roles that put this school's people (or these accounts) out of its MIS sync's reach, as {account
    id (text): {(school id (text), role)}}. A sync is a job acting for the school, so it reaches what its
    policy may give: at this school, a role that reaches beyond its holder (accounts.permissions.opens_others)
    must be one of `may_give` (never Centre Admin); at another school, no such role is within a school's
    reach. Roles for their holder only (Parent, Student Portal, Teacher Security, Invigilator) never stop it.
    The planner decides which changes each pair stops (sync_plan.py).

    Found by an outside test: a Nominated Contact pushed a feed that renamed the trust's Centre Admin and
    gave them the Nominated Contact's own email, then reset the password through it. One query, whatever
    the school's size (people holding an administrator's role are few)."""
    opening = [code for code in PERSON_ROLES if opens_others(code)]
    within_here = set(may_give) - BULK_NEVER_GRANTS
    found: dict[str, set] = {}
    with scopes_disabled():  # the people's roles at every school, read from inside this school's job
        people = Membership.objects.filter(school=school).values("account_id") if account_ids is None else account_ids
        rows = (
            RoleAssignment.objects.filter(
                role_id__in=opening, membership__status__in=ROLES_COUNT_WHILE, membership__account_id__in=people
            )
            .exclude(school=school, role_id__in=within_here)
            .values_list("membership__account_id", "school_id", "role_id")
        )
        for account_id, school_id, role_id in rows:
            found.setdefault(str(account_id), set()).add((str(school_id), role_id))
    return {pk: frozenset(pairs) for pk, pairs in found.items()}


def organisation_token_refusal(*, organisation_id, may_give: Iterable[str], account: Account) -> str | None:
    """Why an organisation's SCIM token (scim/) may not change this account for every school (username, names,
    email, lock), or None when it may.

    The token acts for its organisation's identity provider with the roles support gave it (never Centre Admin):
    it reaches people wholly of its organisation whose roles there it could grant, or whose roles reach nobody
    else. Someone who also belongs to another organisation's school is that school's too; someone holding an
    administrator's role beyond the token is as protected as that role."""
    with scopes_disabled():  # the person's places at every school decide it
        live = Membership.objects.filter(account=account, status__in=ROLES_COUNT_WHILE)
        if live.exclude(school__organisation_id=organisation_id).exists():
            return (
                "This person also belongs to a school outside your organisation; only that school, or support, "
                "can change their account."
            )
        held = set(RoleAssignment.objects.filter(membership__in=live).values_list("role_id", flat=True))
    beyond = {code for code in held - set(may_give) if opens_others(code)}
    return out_of_reach_message(beyond) if beyond else None
