"""What a school holds about a person: adding an account to a school and changing its membership."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record, diff_fields
from accounts.models import Account, Membership
from accounts.services.actor import Actor
from accounts.services.names import mis_code_clash, mis_code_problem, mis_code_text, year_group_clean
from tenancy.models import School

MEMBERSHIP_FIELDS = ("mis_code", "year_group", "form", "status", "portal_access")


def _check_mis_code_free(*, school: School, person_type: str, mis_code: str, exclude=None) -> None:
    """One rule for the screen and the API: a code clashes whatever its case and spacing (s1038, S1038)."""
    taken = mis_code_clash(school=school, person_type=person_type, mis_code=mis_code, exclude=exclude)
    if taken is not None:
        raise ValidationError(
            {"mis_code": f"The MIS code {mis_code} is already used by another person here ({taken.mis_code})."}
        )


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
    mis_code = mis_code_text(mis_code)
    check_mis_code(mis_code)
    _check_mis_code_free(school=school, person_type=person_type, mis_code=mis_code)
    year_group = year_group_clean(school=school, year_group=year_group)
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
    if "mis_code" in fields:
        fields["mis_code"] = mis_code_text(fields["mis_code"])
        check_mis_code(fields["mis_code"])
    if "year_group" in fields and fields["year_group"] != membership.year_group:
        fields["year_group"] = year_group_clean(school=school, year_group=fields["year_group"])
    if "status" in fields and fields["status"] != membership.status:
        # A leaver's timers (grace, archive, erase: provisioning/sync/leavers.py) count from the day they left;
        # someone back is nobody's leaver.
        left = fields["status"] == Membership.Status.LEFT
        fields["left_on"] = timezone.localdate() if left else None
        if fields["status"] == Membership.Status.ACTIVE:
            fields["archived_on"] = None
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
        changes={name: [_text(v) for v in pair] for name, pair in changes.items()},
    )


def _text(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def check_mis_code(code: str) -> None:
    problem = mis_code_problem(code)
    if problem:
        raise ValidationError({"mis_code": f"The MIS code {problem}."})
