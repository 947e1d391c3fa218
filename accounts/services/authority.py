"""Who may act on whose account: the one rule every screen, the API, Account Manager, upload and the
admin ask (PRODUCT.md, Later decisions).

An actor may set or reset a password, issue a starter code or a set-password link, lock, approve, change
the email, roles or details of, delete, or set the Assessment Access of an account only if they may grant
every role that account holds at ANY school (accounts.permissions.GRANTABLE_ROLES): an account shared by
two schools is as protected as its most powerful role. Support staff may act on anyone; jobs acting as the
system (nightly sync) keep their own rule; your own account is yours (but a Centre Admin never changes
their own email, and nobody deletes themselves).
"""

import functools
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from django_scopes import scopes_disabled

from accounts.models import Account, Role, RoleAssignment
from accounts.permissions import ACTION_PERMS, AccountAction, roles_beyond
from accounts.selectors import ROLES_COUNT_WHILE, role_codes_for
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


def accounts_out_of_reach(*, actor: Actor, account_ids: Iterable) -> dict:
    """Of these accounts, those the actor may not act on: {account id: the roles (held at any school) the
    actor may not grant}. One query for the actor's roles and one per 5,000 accounts, whatever the callers
    (a whole upload file, an Account Manager selection) hand in."""
    if _acts_as_system(actor):
        return {}
    ids = {pk for pk in account_ids if pk != actor.account.pk}
    if not ids:
        return {}
    mine = role_codes_for(school=actor.school, account=actor.account) if actor.school is not None else frozenset()
    beyond = roles_beyond(mine)
    if not beyond:
        return {}
    found: dict = {}
    ids = list(ids)
    with scopes_disabled():  # the rule is about every school the account belongs to
        for start in range(0, len(ids), _CHUNK):
            rows = RoleAssignment.objects.filter(
                membership__account_id__in=ids[start : start + _CHUNK],
                membership__status__in=ROLES_COUNT_WHILE,
                role_id__in=beyond,
            ).values_list("membership__account_id", "role_id")
            for account_id, role_id in rows:
                found.setdefault(account_id, set()).add(role_id)
    return {pk: frozenset(codes) for pk, codes in found.items()}


def out_of_reach_message(role_codes: Iterable[str]) -> str:
    roles = Role.objects.filter(code__in=list(role_codes)).order_by("sort_order")
    names = ", ".join(roles.values_list("name", flat=True))
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
    if actor.account.pk == account.pk:
        return
    out = accounts_out_of_reach(actor=actor, account_ids=[account.pk])
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
