"""Reads of the sign-on: who may use a service, what it learns about them, what a school's people reach.

An account's memberships in every school of a service's organisation are read at once (a read about one person
in several schools, like sign-in itself), so these run with scoping off: they are in the allow-list of
tests/tenancy/test_scopes_allow_list.py.
"""

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import Account, Membership, Role, RoleAssignment
from accounts.selectors import linked_students
from accounts.services import sign_in_refusal as rollcall_sign_in_refusal
from signon.models import ConnectedService, ServiceSignIn, ServiceSwitchedOff
from tenancy.models import School

_CURRENT = (Membership.Status.ACTIVE, Membership.Status.LEFT)


def service_for_client(client_id: str) -> ConnectedService | None:
    return (
        ConnectedService.objects.select_related("application", "organisation")
        .filter(application__client_id=client_id)
        .first()
    )


def service_for_application(application) -> ConnectedService | None:
    if application is None:
        return None
    return ConnectedService.objects.select_related("organisation").filter(application=application).first()


def service_schools(service: ConnectedService) -> QuerySet[School]:
    """The schools whose people the service is for: its organisation's, or every school for a shared one."""
    schools = School.objects.filter(is_active=True)
    if service.organisation_id is not None:
        schools = schools.filter(organisation_id=service.organisation_id)
    return schools


def usable_memberships(*, account: Account, service: ConnectedService) -> list[Membership]:
    """The account's current places at the service's schools that hold one of its roles, where the school has
    not switched it off."""
    role_codes = set(service.roles.values_list("code", flat=True))
    with scopes_disabled():
        off = ServiceSwitchedOff.objects.filter(service=service).values_list("school_id", flat=True)
        memberships = (
            Membership.objects.filter(account=account, status__in=_CURRENT, school__in=service_schools(service))
            .exclude(school_id__in=off)
            .filter(role_assignments__role_id__in=role_codes)
            .distinct()
            .select_related("school")
            .order_by("school__name", "person_type")
        )
        return list(memberships)


def sign_in_refusal(*, account: Account, service: ConnectedService) -> str | None:
    """Why this account may not sign in to this service now, in words for the person, or None."""
    refusal = rollcall_sign_in_refusal(account)
    if refusal:
        return refusal
    if usable_memberships(account=account, service=service):
        return None
    with scopes_disabled():
        places = Membership.objects.filter(
            account=account, status__in=_CURRENT, school__in=service_schools(service)
        ).select_related("school")
        places = list(places)
        off = set(ServiceSwitchedOff.objects.filter(service=service).values_list("school_id", flat=True))
    where = service.organisation.name if service.organisation_id else "Rollcall"
    if not places:
        return f"{service.name} is for people at {where}'s schools, and your account is not at one of them."
    if all(m.school_id in off for m in places):
        schools = ", ".join(sorted({m.school.name for m in places}))
        return f"{schools} has switched {service.name} off. Ask your school if you need it."
    roles = ", ".join(role.name for role in service.roles.order_by("name"))
    return (
        f"{service.name} is only for people with one of these roles: {roles}. Your account has none of them "
        "at your school. Ask your school if you need it."
    )


def schools_claim(*, account: Account, service: ConnectedService, with_students: bool) -> list[dict]:
    """The Rollcall claim: per place at the service's schools, the school, person type, year group and roles;
    a parent's linked students only when the service was given the linked_students scope."""
    memberships = usable_memberships(account=account, service=service)
    with scopes_disabled():
        roles: dict = {}
        for membership_id, code in RoleAssignment.objects.filter(membership__in=memberships).values_list(
            "membership_id", "role_id"
        ):
            roles.setdefault(membership_id, []).append(code)
        entries = []
        for m in memberships:
            entry = {
                "school": m.school.slug,
                "school_name": m.school.name,
                "person_type": m.person_type,
                "year_group": m.year_group,
                "roles": sorted(roles.get(m.pk, [])),
            }
            if with_students and m.person_type == "contact":
                links = linked_students(school=m.school, contact_account=account).filter(contact=m)
                entry["students"] = [
                    {
                        "sub": str(link.student.account_id),
                        "name": link.student.account.full_name,
                        "year_group": link.student.year_group,
                    }
                    for link in links
                ]
            entries.append(entry)
    return entries


def services_for_school(*, school: School) -> list[dict]:
    """The services the school's people can reach: each with its roles, whether the school switched it off, and
    how many of the school's people hold one of its roles."""
    services = ConnectedService.objects.filter(Q(organisation_id=school.organisation_id) | Q(organisation=None))
    off = set(ServiceSwitchedOff.objects.filter(school=school).values_list("service_id", flat=True))
    rows = []
    for service in services.prefetch_related("roles").order_by("name"):
        codes = [role.code for role in service.roles.all()]
        people = (
            RoleAssignment.objects.filter(school=school, role_id__in=codes, membership__status__in=_CURRENT)
            .aggregate(n=Count("membership__account", distinct=True))
            .get("n")
        )
        rows.append(
            {"service": service, "roles": list(service.roles.all()), "on": service.pk not in off, "people": people}
        )
    return rows


def service_for_school(*, school: School, service_id) -> ConnectedService | None:
    """A service the school's people can reach, by id; None for any other (another organisation's)."""
    return (
        ConnectedService.objects.filter(Q(organisation_id=school.organisation_id) | Q(organisation=None))
        .filter(pk=service_id)
        .first()
    )


def services_signed_in(*, account: Account) -> list[ServiceSignIn]:
    return list(ServiceSignIn.objects.filter(account=account).select_related("service").order_by("service__name"))


def signed_in_services_listed(*, account: Account) -> list[dict]:
    """The profile's list (accounts.extensions.signed_in_services_source)."""
    return [
        {
            "name": s.service.name,
            "last_at": s.last_at,
            "signed_out": s.signed_out_at is not None,
            "sign_out_url": reverse("signon_sign_out", kwargs={"service_id": s.service_id}),
        }
        for s in services_signed_in(account=account)
    ]


def roles_catalogue() -> QuerySet[Role]:
    return Role.objects.select_related("service").all()
