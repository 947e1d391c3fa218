"""Demo data for `make run`: one trust, two schools, students in year groups, staff in every
role, and parents linked to students. Safe to run twice (it does nothing the second time)."""

import random

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scope, scopes_disabled

from accounts.models import Account, ContactLink, Membership, PersonType
from accounts.services import Actor, account_create, membership_add, organisation_role_grant, role_assign
from tenancy.models import Organisation, School

DEMO_PASSWORD = "rollcall-demo-2026"

GIVEN = [
    "Amelia",
    "Oliver",
    "Zoë",
    "Mohammed",
    "Priya",
    "Fang",
    "Isla",
    "Noah",
    "Aisha",
    "Jack",
    "Freya",
    "Arjun",
    "Chloe",
    "Kwame",
    "Sofia",
    "Leo",
    "Maya",
    "Ethan",
    "Hana",
    "Oscar",
    "Nia",
    "Theo",
    "Lily",
    "Yusuf",
]
FAMILY = [
    "Smith",
    "Jones",
    "Ó'Brien",
    "Patel",
    "Khan",
    "Wang",
    "Taylor",
    "Brown",
    "Williams",
    "Evans",
    "Okafor",
    "Nowak",
    "Thomas",
    "Roberts",
    "Ahmed",
    "Walker",
    "Wright",
    "Hughes",
    "Green",
    "Hall",
    "Begum",
    "Davies",
]

SCHOOLS = [
    {
        "slug": "northfield",
        "name": "Northfield Academy",
        "urn": "137001",
        "domain": "northfield.sch.uk",
        "years": ["7", "8", "9", "10", "11"],
        "students_per_year": 28,
    },
    {
        "slug": "riverside",
        "name": "Riverside Primary",
        "urn": "137002",
        "domain": "riverside.sch.uk",
        "years": ["3", "4", "5", "6"],
        "students_per_year": 15,
    },
]

# username, school slugs, given, family, roles
STAFF = [
    ("demo.admin", ["northfield", "riverside"], "Helen", "Carter", ["centre_admin"]),
    ("nc.northfield", ["northfield"], "Sam", "Okafor", ["nominated_contact"]),
    ("eo.northfield", ["northfield"], "Priya", "Sharma", ["eo"]),
    ("slt.northfield", ["northfield"], "David", "Nowak", ["slt"]),
    ("inv.northfield", ["northfield"], "Zoë", "Ó'Brien", ["inv"]),
    ("level1.northfield", ["northfield"], "Grace", "Hughes", ["admin_level_one"]),
    ("security.northfield", ["northfield"], "Omar", "Farouk", ["admin_security"]),
    ("leaders.northfield", ["northfield"], "Ruth", "Evans", ["access_slt"]),
    ("teacher.northfield", ["northfield"], "Tom", "Wright", ["teacher_security"]),
    ("admin.riverside", ["riverside"], "Wang", "Fang", ["centre_admin"]),
    ("inv.riverside", ["riverside"], "Kwame", "Mensah", ["inv"]),
]

# The trust's own logins (issue 24): organisation roles over every school, at none. username, given, family, role.
TRUST_LOGINS = [
    ("trust.admin", "Alex", "Morgan", "trust_admin"),
    ("trust.viewer", "Jo", "Patel", "trust_viewer"),
]


class Command(BaseCommand):
    help = "Load the demo trust, schools and people (idempotent)."

    def handle(self, *args, **options):
        with scopes_disabled():
            if Organisation.objects.filter(slug="northfield-trust").exists():
                self.stdout.write("Demo data already loaded.")
                with transaction.atomic():
                    _trust_logins(Organisation.objects.get(slug="northfield-trust"))
                call_command("load_demo_assessments", stdout=self.stdout)
                call_command("load_demo_sync", stdout=self.stdout)
                return
        with transaction.atomic():
            self._load()
            with scopes_disabled():
                _trust_logins(Organisation.objects.get(slug="northfield-trust"))
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        call_command("load_demo_assessments", stdout=self.stdout)
        # The sync policy lives in provisioning, above accounts: its own command, called by name.
        call_command("load_demo_sync", stdout=self.stdout)

    def _load(self):
        rng = random.Random(2026)
        org = Organisation.objects.create(
            name="Northfield Learning Trust",
            slug="northfield-trust",
            support_contact="Northfield Trust IT: 01632 960 123, support@northfield-trust.org.uk",
            privacy_notice="We hold your name, school and sign-in details to give you access to school services.",
        )
        schools = {}
        for spec in SCHOOLS:
            schools[spec["slug"]] = School.objects.create(
                organisation=org, name=spec["name"], urn=spec["urn"], slug=spec["slug"], email_domains=spec["domain"]
            )
        Account.objects.create_superuser(
            "support", DEMO_PASSWORD, given_name="Rollcall", family_name="Support", email="support@rollcall.invalid"
        )
        system = Actor(account=None)
        staff_memberships = {}
        for username, slugs, given, family, roles in STAFF:
            first = schools[slugs[0]]
            domain = next(s["domain"] for s in SCHOOLS if s["slug"] == slugs[0])
            for n, slug in enumerate(slugs):
                school = schools[slug]
                with scope(school=school):
                    if n == 0:
                        membership = account_create(
                            school=first,
                            actor=Actor(account=None, school=first),
                            username=username,
                            person_type=PersonType.STAFF,
                            given_name=given,
                            family_name=family,
                            email=f"{username}@{domain}",
                            mis_code=f"T{rng.randint(1000, 9999)}",
                            password=DEMO_PASSWORD,
                            must_change_password=False,
                        )
                    else:
                        membership = membership_add(
                            school=school,
                            actor=Actor(account=None, school=school),
                            account=Account.objects.get(username=username),
                            person_type=PersonType.STAFF,
                        )
                    for role in roles:
                        role_assign(school=school, actor=system, membership=membership, role_code=role)
                    staff_memberships[(username, slug)] = membership
        student_no = 1000
        for spec in SCHOOLS:
            school = schools[spec["slug"]]
            with scope(school=school):
                students = []
                for year in spec["years"]:
                    for i in range(spec["students_per_year"]):
                        student_no += 1
                        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
                        code = f"S{student_no}"
                        students.append(
                            account_create(
                                school=school,
                                actor=Actor(account=None, school=school),
                                username=f"{spec['slug'][:2]}{code.lower()}",
                                person_type=PersonType.STUDENT,
                                given_name=given,
                                family_name=family,
                                mis_code=code,
                                year_group=f"Year {year}",
                                form=f"{year}{'ABC'[i % 3]}",
                                upn=f"A{rng.randint(10**11, 10**12 - 1)}",
                                role_codes=("student_portal",),
                            )
                        )
                contacts = self._parents(school, students, rng, spec["slug"])
                if spec["slug"] == "northfield":
                    self._states(school, students, contacts, rng)

    def _parents(self, school, students, rng, slug):
        system = Actor(account=None, school=school)
        contacts = []
        for n, student in enumerate(students[::2]):
            family = student.account.family_name
            username = "parent.demo" if (slug == "northfield" and n == 0) else f"{slug[:2]}p{n:04d}"
            contact = account_create(
                school=school,
                actor=system,
                username=username,
                person_type=PersonType.CONTACT,
                given_name=rng.choice(GIVEN),
                family_name=family,
                email=f"{username}@example.org",
                mis_code=f"C{n:05d}",
                password=DEMO_PASSWORD if username == "parent.demo" else None,
                must_change_password=False,
                role_codes=("parent",),
                portal_access=True,
            )
            ContactLink.objects.create(school=school, contact=contact, student=student, relationship="Parent")
            contacts.append(contact)
            if username == "parent.demo":
                sibling = students[1]
                ContactLink.objects.create(school=school, contact=contact, student=sibling, relationship="Parent")
        return contacts

    def _states(self, school, students, contacts, rng):
        """Northfield's people in every Account Manager state, each Ready to Revoke Access reason among them:
        contacts who chose a password (Active, or holding credentials they should no longer have), students
        and staff signed in or not, one locked out, one left."""
        for contact in contacts[1:6]:  # Active, beside parent.demo
            _chose_password(contact.account)
        # Ready to Revoke Access, one per reason: their student left; not flagged for portal access; the
        # link's own flag turned off; replaced by a newer contact (same email, the same student).
        left_student = ContactLink.objects.filter(contact=contacts[6]).first().student
        Membership.objects.filter(pk=left_student.pk).update(status=Membership.Status.LEFT)
        Membership.objects.filter(pk=contacts[7].pk).update(portal_access=False)
        ContactLink.objects.filter(contact=contacts[8]).update(portal_access=False)
        old = contacts[9]
        replacement = account_create(
            school=school,
            actor=Actor(account=None, school=school),
            username=f"new.{old.account.username}",  # the email's local part: the demo's username policy
            person_type=PersonType.CONTACT,
            given_name=old.account.given_name,
            family_name=old.account.family_name,
            email=f"new.{old.account.email}",
            mis_code="C10009",
            role_codes=("parent",),
            portal_access=True,
        )
        for link in ContactLink.objects.filter(contact=old):
            ContactLink.objects.create(school=school, contact=replacement, student=link.student, relationship="Parent")
        Membership.objects.filter(pk=old.pk).update(portal_access=False)
        for contact in contacts[6:10]:
            _chose_password(contact.account)
        # No Access: not flagged and never given a way in.
        Membership.objects.filter(pk__in=[c.pk for c in contacts[10:13]]).update(portal_access=False)
        for student in students[:20]:
            _chose_password(student.account)
        Account.objects.filter(pk=students[20].account_id).update(locked_out=True)
        Membership.objects.filter(pk=students[21].pk).update(status=Membership.Status.LEFT)
        account_create(
            school=school,
            actor=Actor(account=None, school=school),
            username="newstaff.northfield",
            person_type=PersonType.STAFF,
            given_name="Jo",
            family_name="Newman",
            email="newstaff.northfield@northfield.sch.uk",
            mis_code="T9001",
            role_codes=("teacher_security",),
        )


def _trust_logins(org) -> None:
    """The Trust Admin and Trust Viewer, given by support as in real life (audited); a demo loaded before them
    gets them too. The demo trust lets its Trust Admins act as Centre Admin, so the two logins differ."""
    if not org.trust_admins_act_as_centre_admin:
        org.trust_admins_act_as_centre_admin = True
        org.save(update_fields=["trust_admins_act_as_centre_admin"])
    support = Account.objects.get(username="support")
    for username, given, family, role in TRUST_LOGINS:
        account = Account.objects.filter(username=username).first()
        if account is None:
            account = Account.objects.create_user(
                username,
                DEMO_PASSWORD,
                given_name=given,
                family_name=family,
                email=f"{username}@northfield-trust.org.uk",
            )
        organisation_role_grant(organisation=org, account=account, role=role, actor=support)


def _chose_password(account) -> None:
    """As if the person had signed in and chosen their own password: activated."""
    account.set_password(DEMO_PASSWORD)
    account.must_change_password = False
    account.save(update_fields=["password", "must_change_password"])
