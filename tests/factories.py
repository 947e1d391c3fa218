"""Factories that keep related objects in the same school."""

import factory
from factory.django import DjangoModelFactory

from accounts.models import Account, ContactLink, Membership, OrganisationRole, PersonType, RoleAssignment
from tenancy.models import Organisation, School

PASSWORD = "correct-horse-battery"


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Trust {n}")
    slug = factory.Sequence(lambda n: f"trust-{n}")


class SchoolFactory(DjangoModelFactory):
    class Meta:
        model = School

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"School {n}")
    slug = factory.Sequence(lambda n: f"school-{n}")
    urn = factory.Sequence(lambda n: f"{100000 + n}")
    email_domains = factory.LazyAttribute(lambda o: f"{o.slug}.sch.uk")


class AccountFactory(DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    school = factory.SubFactory(SchoolFactory)
    account = factory.SubFactory(AccountFactory, home_school=factory.SelfAttribute("..school"))
    person_type = PersonType.STAFF
    mis_code = factory.Sequence(lambda n: f"M{n:05d}")


class RoleAssignmentFactory(DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    membership = factory.SubFactory(MembershipFactory)
    school = factory.SelfAttribute("membership.school")
    role_id = "eo"


class ContactLinkFactory(DjangoModelFactory):
    class Meta:
        model = ContactLink

    school = factory.SubFactory(SchoolFactory)
    contact = factory.SubFactory(MembershipFactory, school=factory.SelfAttribute("..school"), person_type="contact")
    student = factory.SubFactory(MembershipFactory, school=factory.SelfAttribute("..school"), person_type="student")
    relationship = "Parent"


def member(school, *roles, person_type=PersonType.STAFF, **account_fields) -> Membership:
    """A person at `school` holding `roles`."""
    membership = MembershipFactory(
        school=school,
        person_type=person_type,
        account__home_school=school,
        **{f"account__{k}": v for k, v in account_fields.items()},
    )
    for role in roles:
        RoleAssignmentFactory(membership=membership, role_id=role)
    return membership


class OrganisationRoleFactory(DjangoModelFactory):
    class Meta:
        model = OrganisationRole

    organisation = factory.SubFactory(OrganisationFactory)
    account = factory.SubFactory(AccountFactory)
    role = OrganisationRole.Code.TRUST_VIEWER


def trust_role(organisation, role="trust_viewer", **account_fields) -> Account:
    """Someone holding an organisation role (Trust Admin, Trust Viewer) over `organisation`, at no school."""
    account = AccountFactory(**account_fields)
    OrganisationRoleFactory(organisation=organisation, account=account, role=role)
    return account
