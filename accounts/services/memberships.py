"""What a school holds about a person: adding an account to a school and changing its membership."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record, diff_fields
from accounts.models import Account, Membership
from accounts.services.actor import Actor
from tenancy.models import School

MEMBERSHIP_FIELDS = ("mis_code", "year_group", "form", "status", "portal_access")


def _check_mis_code_free(*, school: School, person_type: str, mis_code: str, exclude=None) -> None:
    if not mis_code:
        return
    taken = Membership.objects.filter(school=school, person_type=person_type, mis_code=mis_code)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError({"mis_code": f"The MIS code {mis_code} is already used by another person here."})


@transaction.atomic
def membership_add(
    *,
    school: School,
    actor: Actor,
    account: Account,
    person_type: str,
    mis_code: str = "",
    year_group: str = "",
    form: str = "",
    portal_access: bool = False,
) -> Membership:
    """Add an existing account (perhaps held by another school) to this school: never a duplicate."""
    _check_mis_code_free(school=school, person_type=person_type, mis_code=mis_code)
    membership = Membership.objects.create(
        school=school,
        account=account,
        person_type=person_type,
        mis_code=mis_code,
        year_group=year_group,
        form=form,
        portal_access=portal_access,
    )
    audit_record(
        action="accounts.membership.added",
        actor=actor.account,
        school=school,
        target=account,
        job=actor.job,
        changes={"person_type": [None, person_type], "mis_code": [None, mis_code]},
    )
    return membership


@transaction.atomic
def membership_update(*, school: School, actor: Actor, membership: Membership, **fields) -> None:
    """Change what the school holds about the person (MIS code, year group...)."""
    unknown = set(fields) - set(MEMBERSHIP_FIELDS)
    if unknown:
        raise ValueError(f"Not membership fields: {sorted(unknown)}")
    changes = diff_fields({name: getattr(membership, name) for name in fields}, fields)
    if not changes:
        return
    if "mis_code" in changes:
        _check_mis_code_free(
            school=school, person_type=membership.person_type, mis_code=fields["mis_code"], exclude=membership
        )
    for name, value in fields.items():
        setattr(membership, name, value)
    membership.save(update_fields=[*changes, "updated_at"])
    audit_record(
        action="accounts.membership.updated",
        actor=actor.account,
        school=school,
        target=membership.account,
        job=actor.job,
        changes=changes,
    )
