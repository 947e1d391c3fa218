"""Reads of the registry that several screens share. The first argument is the school."""

from django.db.models import Count, QuerySet

from accounts.models import Account, AuditEvent, ContactLink, Membership, RoleAssignment
from accounts.permissions import Perm, grantable_roles_for, permissions_for_roles
from tenancy.models import School


def accounts_with_email(email: str) -> QuerySet[Account]:
    """Accounts using this address, whatever its case: MIS exports keep "Jane.Smith@...", and a family
    address may be shared by several accounts. Sign-in, password reset and social sign-in use it."""
    email = (email or "").strip()
    if not email:
        return Account.objects.none()
    return Account.objects.filter(email__iexact=email).order_by("date_joined")


def role_codes_for(*, school: School, account: Account) -> frozenset[str]:
    """Roles the account holds at the school through memberships that still count."""
    if not account.is_authenticated:
        return frozenset()
    codes = RoleAssignment.objects.filter(
        school=school,
        membership__account=account,
        membership__status__in=[Membership.Status.ACTIVE, Membership.Status.LEFT],
    ).values_list("role_id", flat=True)
    return frozenset(codes)


def permissions_for(*, school: School, account: Account) -> frozenset[Perm]:
    return permissions_for_roles(role_codes_for(school=school, account=account))


def grantable_roles(*, school: School, account: Account) -> frozenset[str]:
    return grantable_roles_for(role_codes_for(school=school, account=account))


def membership_get(*, school: School, membership_id) -> Membership:
    """Look a membership up through the school: another school's id is simply not found."""
    return Membership.objects.select_related("account").get(school=school, id=membership_id)


def memberships_of(*, school: School, account: Account) -> QuerySet[Membership]:
    return Membership.objects.filter(school=school, account=account)


def membership_counts(*, school: School) -> dict[tuple[str, str], int]:
    rows = Membership.objects.filter(school=school).values("person_type", "status").annotate(n=Count("id")).order_by()
    return {(row["person_type"], row["status"]): row["n"] for row in rows}


def portal_links(*, school: School) -> QuerySet[ContactLink]:
    """Links that give a contact the parent portal: a current contact flagged for Parent portal access,
    linked (with the link's flag on) to a current student. The one rule for contact eligibility:
    the profile and the Account Manager's contact states (provisioning.contacts.selectors) both use it."""
    return ContactLink.objects.filter(
        school=school,
        portal_access=True,
        contact__status=Membership.Status.ACTIVE,
        contact__portal_access=True,
        student__person_type="student",
        student__status=Membership.Status.ACTIVE,
    )


def linked_students(*, school: School, contact_account: Account) -> QuerySet[ContactLink]:
    """The students a parent sees: none at all once the contact is no longer eligible (Ready to
    Revoke Access), even before an admin revokes the sign-in."""
    return (
        portal_links(school=school)
        .filter(contact__account=contact_account)
        .select_related("student__account", "student__school")
    )


def contact_without_portal_access(*, school: School, account: Account) -> bool:
    """The account is a contact here but no longer eligible for the parent portal (the profile's notice)."""
    contacts = Membership.objects.filter(school=school, account=account, person_type="contact")
    return contacts.exists() and not portal_links(school=school).filter(contact__account=account).exists()


def audit_for_account(*, school: School, account: Account) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(school=school, target_type="account", target_id=str(account.pk))
