"""Granting and taking back organisation roles (Trust Admin, Trust Viewer), audited.

Support staff grant either (the support admin); a Trust Admin grants and takes back Trust Viewer for people of
their own organisation's schools (the trust console). Nobody else does: an organisation role opens every school
of the organisation (accounts.selectors.schools_of).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_scopes import scope

from accounts.audit import audit_record
from accounts.models import Account, Membership, OrganisationRole
from accounts.permissions import ORGANISATION_ROLE_NAMES, organisation_roles_out_of_reach
from tenancy.models import Organisation, School

_REFUSAL = "Only support, or a Trust Admin of this organisation for Trust Viewer, can change this person's trust role."


def _check_may_grant(*, actor: Account, organisation: Organisation, roles: set[str]) -> None:
    if actor.is_staff:
        return
    mine = {
        organisation.pk: set(
            OrganisationRole.objects.filter(account=actor, organisation=organisation).values_list("role", flat=True)
        )
    }
    if organisation_roles_out_of_reach(mine, [(organisation.pk, role) for role in roles]):
        raise PermissionDenied(_REFUSAL)


def _check_in_organisation(*, actor: Account, organisation: Organisation, account: Account) -> None:
    """A Trust Admin chooses among their own schools' staff; support may name anyone."""
    if actor.is_staff:
        return
    with scope(school=list(School.objects.filter(organisation=organisation))):
        staff_here = Membership.objects.filter(account=account, person_type="staff").exclude(
            status=Membership.Status.ARCHIVED
        )
        if not staff_here.exists():
            raise ValidationError({"username": "Choose a member of staff at one of the organisation's schools."})


@transaction.atomic
def organisation_role_grant(
    *, organisation: Organisation, account: Account, role: str, actor: Account
) -> OrganisationRole:
    """Give `account` the organisation role over `organisation` (replacing the one it held there)."""
    if role not in ORGANISATION_ROLE_NAMES:
        raise ValidationError({"role": "Choose Trust Admin or Trust Viewer."})
    current = OrganisationRole.objects.select_for_update().filter(organisation=organisation, account=account).first()
    _check_may_grant(actor=actor, organisation=organisation, roles={role} | ({current.role} if current else set()))
    # Whether the person is one of ours first: a Trust Admin learns nothing about other organisations' accounts.
    _check_in_organisation(actor=actor, organisation=organisation, account=account)
    if account.deleted_at is not None or not account.is_active:
        raise ValidationError({"username": "This account cannot sign in."})
    before = current.role if current else None
    if current is None:
        current = OrganisationRole.objects.create(
            organisation=organisation, account=account, role=role, granted_by=actor
        )
    elif current.role != role:
        current.role, current.granted_by = role, actor
        current.save(update_fields=["role", "granted_by"])
    else:
        return current
    _audit(actor=actor, organisation=organisation, account=account, before=before, after=role, verb="granted")
    return current


@transaction.atomic
def organisation_role_revoke(*, organisation: Organisation, account: Account, actor: Account) -> None:
    current = OrganisationRole.objects.select_for_update().filter(organisation=organisation, account=account).first()
    if current is None:
        return
    _check_may_grant(actor=actor, organisation=organisation, roles={current.role})
    current.delete()
    _audit(actor=actor, organisation=organisation, account=account, before=current.role, after=None, verb="revoked")


def _audit(*, actor, organisation, account, before, after, verb) -> None:
    names = ORGANISATION_ROLE_NAMES
    audit_record(
        action=f"accounts.organisation_role.{verb}",
        actor=actor,
        target=account,
        changes={
            "organisation": [organisation.name, organisation.name],
            "organisation_role": [names.get(before), names.get(after)],
        },
    )
