"""Granting and removing roles: each checked against what the actor may grant."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account, Membership, Role, RoleAssignment
from accounts.permissions import AccountAction
from accounts.selectors import grantable_roles
from accounts.services.actor import Actor
from accounts.services.authority import check_may_act_on_account
from tenancy.models import School


def _check_may_grant(*, school: School, actor: Actor, membership: Membership, role_code: str) -> None:
    if actor.is_support or actor.account is None:
        return
    if role_code not in grantable_roles(school=school, account=actor.account):
        role = Role.objects.filter(code=role_code).first()
        raise PermissionDenied(f"You may not grant the role {role or role_code}.")
    # Granting a role is acting on the account: not on someone holding a role you may not grant elsewhere.
    check_may_act_on_account(actor=actor, account=membership.account, action=AccountAction.ROLES)


@transaction.atomic
def role_assign(*, school: School, actor: Actor, membership: Membership, role_code: str) -> RoleAssignment:
    _check_may_grant(school=school, actor=actor, membership=membership, role_code=role_code)
    assignment, created = RoleAssignment.objects.get_or_create(
        school=school,
        membership=membership,
        role_id=role_code,
        defaults={"granted_by": actor.account if actor.account and actor.account.is_authenticated else None},
    )
    if created:
        audit_record(
            action="accounts.role.assigned",
            actor=actor.account,
            school=school,
            target=membership.account,
            job=actor.job,
            changes={"role": [None, role_code]},
        )
    return assignment


@transaction.atomic
def role_remove(*, school: School, actor: Actor, membership: Membership, role_code: str) -> None:
    _check_may_grant(school=school, actor=actor, membership=membership, role_code=role_code)
    if role_code == "centre_admin":
        _refuse_losing_last_centre_admin(school=school, account=membership.account)
    deleted, _ = RoleAssignment.objects.filter(school=school, membership=membership, role_id=role_code).delete()
    if deleted:
        audit_record(
            action="accounts.role.removed",
            actor=actor.account,
            school=school,
            target=membership.account,
            job=actor.job,
            changes={"role": [role_code, None]},
        )


def _refuse_losing_last_centre_admin(*, school: School, account: Account) -> None:
    others = (
        RoleAssignment.objects.filter(
            school=school, role_id="centre_admin", membership__status=Membership.Status.ACTIVE
        )
        .exclude(membership__account=account)
        .exists()
    )
    if not others:
        raise ValidationError("This is the school's last Centre Admin; give the role to someone else first.")


@transaction.atomic
def membership_roles_set(*, school: School, actor: Actor, membership: Membership, role_codes) -> None:
    """Make the membership hold exactly `role_codes`; each grant and removal is checked on its own."""
    wanted = set(role_codes)
    current = set(RoleAssignment.objects.filter(school=school, membership=membership).values_list("role_id", flat=True))
    for code in sorted(wanted - current):
        role_assign(school=school, actor=actor, membership=membership, role_code=code)
    for code in sorted(current - wanted):
        role_remove(school=school, actor=actor, membership=membership, role_code=code)
