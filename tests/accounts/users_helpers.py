"""A person at a school with membership details too (tests.factories.member takes account fields only)."""

from tests.factories import MembershipFactory, RoleAssignmentFactory

MEMBERSHIP_FIELDS = {"mis_code", "year_group", "status", "form", "portal_access"}


def person(school, *roles, person_type="staff", **fields):
    membership_fields = {k: v for k, v in fields.items() if k in MEMBERSHIP_FIELDS}
    account_fields = {f"account__{k}": v for k, v in fields.items() if k not in MEMBERSHIP_FIELDS}
    membership = MembershipFactory(
        school=school, person_type=person_type, account__home_school=school, **membership_fields, **account_fields
    )
    for role in roles:
        RoleAssignmentFactory(membership=membership, role_id=role)
    return membership
