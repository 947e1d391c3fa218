"""Nights of random change: each night's plan from the changed lines must be exactly the plan of comparing the
whole feed, night after night, as the school's state drifts through the applied runs.

The scenario tests beside this one hold the cases someone thought of; these walk seeded random sequences of what
an MIS export does between nights (renames, year changes, leavers and re-joiners, newcomers, links gained, lost
and edited, duplicate and reordered lines, inactive flags, leaving dates) and, on PostgreSQL, edits by hand in
between. A failure prints its seed and night; rerun that seed to reproduce it (-k 'full[239]').
"""

import os
import random
from datetime import date, timedelta

import pytest
from django.db import connection

from accounts.models import Account, ContactLink, Membership
from tests.factories import RoleAssignmentFactory
from tests.provisioning.sync_helpers import contact, feed_zip, staff, student
from tests.provisioning.test_sync_incremental import applied, both_ways, comparable

pytestmark = pytest.mark.django_db

NAMES = ["Ann", "Bob", "Zoë", "Łukasz", "Mary, Jo", "Eve", "Sam"]
FAMILIES = ["Smith", "Ó'Brien", "Patel", "Nguyen", 'O"Hara', "Khan"]
YEARS = ["7", "8", "9", "10"]
RELATIONSHIPS = ["Mother", "Father", "Carer", "Aunt"]


class Export:
    """What the MIS exports: people by code, and relationship lines in file order."""

    def __init__(self, rnd: random.Random):
        self.rnd, self.serial = rnd, 0
        self.students = {c: self.new_student(c) for c in self.codes("S", 14)}
        self.staff = {c: staff(c, rnd.choice(NAMES), rnd.choice(FAMILIES), roles=rnd.choice(["", "eo"]))
                      for c in self.codes("T", 4)}  # fmt: skip
        self.contacts = {c: self.new_contact(c) for c in self.codes("C", 10)}
        self.links = []
        for code in self.students:
            for _ in range(rnd.choice([1, 1, 2])):
                self.add_link(student_code=code)
        self.gone: dict[str, dict[str, list]] = {"students": {}, "staff": {}, "contacts": {}}

    def codes(self, prefix: str, n: int) -> list[str]:
        out = []
        for _ in range(n):
            self.serial += 1
            out.append(f"{prefix}{self.serial}")
        return out

    def new_student(self, code: str) -> list:
        rnd = self.rnd
        year = rnd.choice(YEARS)
        return student(code, rnd.choice(NAMES), rnd.choice(FAMILIES), upn=f"U{code}" if rnd.random() < 0.7 else "",
                       email=f"{code.lower()}@pupils.example" if rnd.random() < 0.4 else "", year=year,
                       form=f"{year}{rnd.choice('AB')}")  # fmt: skip

    def new_contact(self, code: str) -> list:
        rnd = self.rnd
        return contact(code, rnd.choice(NAMES), rnd.choice(FAMILIES),
                       email=f"{code.lower()}@home.example" if rnd.random() < 0.5 else "",
                       portal=rnd.choice(["yes", "yes", "no"]))  # fmt: skip

    def add_link(self, *, student_code=None, contact_code=None) -> None:
        if not self.students or not self.contacts:
            return
        rnd = self.rnd
        self.links.append([contact_code or rnd.choice(sorted(self.contacts)),
                           student_code or rnd.choice(sorted(self.students)),
                           rnd.choice(RELATIONSHIPS), rnd.choice(["yes", "no"])])  # fmt: skip

    def feed(self) -> bytes:
        self.links = [link for link in self.links if link[0] in self.contacts and link[1] in self.students]
        return feed_zip(students=list(self.students.values()), staff_rows=list(self.staff.values()),
                        contacts=list(self.contacts.values()), links=self.links)  # fmt: skip

    # --- what changes between two nights ----------------------------------------------------------------

    def night(self) -> list[str]:
        """A few random changes; returns their names (for the failure message)."""
        done = []
        for _ in range(self.rnd.randint(1, 6)):
            change = self.rnd.choice(CHANGES)
            if change(self) is not False:
                done.append(change.__name__)
        return done

    def pick(self, kind: str):
        people = getattr(self, kind)
        return self.rnd.choice(sorted(people)) if people else None


def rename(s: Export):
    kind = s.rnd.choice(["students", "staff", "contacts"])
    code = s.pick(kind)
    if code is None:
        return False
    row = getattr(s, kind)[code]
    row[2 if kind == "students" else 1] = s.rnd.choice(NAMES)
    row[3 if kind == "students" else 2] = s.rnd.choice(FAMILIES)


def new_year(s: Export):
    code = s.pick("students")
    if code is None:
        return False
    year = s.rnd.choice(YEARS)
    s.students[code][5:7] = [year, f"{year}{s.rnd.choice('AB')}"]


def new_email(s: Export):
    kind = s.rnd.choice(["students", "staff", "contacts"])
    code = s.pick(kind)
    if code is None:
        return False
    getattr(s, kind)[code][4 if kind == "students" else 3] = f"{code.lower()}.{s.rnd.randint(1, 99)}@new.example"


def inactive_flag(s: Export):
    code = s.pick("students")
    if code is None:
        return False
    row = s.students[code]
    row[9] = "" if row[9] else "yes"


def leaving_date(s: Export):
    code = s.pick("students")
    if code is None:
        return False
    days = s.rnd.choice([-30, -1, 1, 40])
    s.students[code][8] = (date.today() + timedelta(days=days)).isoformat()


def leaves(s: Export):
    kind = s.rnd.choice(["students", "students", "staff", "contacts"])
    code = s.pick(kind)
    if code is None:
        return False
    s.gone[kind][code] = getattr(s, kind).pop(code)


def rejoins(s: Export):
    kind = s.rnd.choice([k for k, v in s.gone.items() if v] or ["students"])
    if not s.gone[kind]:
        return False
    code = s.rnd.choice(sorted(s.gone[kind]))
    row = s.gone[kind].pop(code)
    if kind == "students":
        row[8] = row[9] = ""
        s.add_link(student_code=code)
    getattr(s, kind)[code] = row


def joins(s: Export):
    kind = s.rnd.choice(["students", "students", "staff", "contacts"])
    (code,) = s.codes(kind[0].upper(), 1)
    if kind == "students":
        s.students[code] = s.new_student(code)
        s.add_link(student_code=code)
    elif kind == "staff":
        s.staff[code] = staff(code, s.rnd.choice(NAMES), s.rnd.choice(FAMILIES))
    else:
        s.contacts[code] = s.new_contact(code)
        s.add_link(contact_code=code)


def link_gained(s: Export):
    s.add_link()


def link_lost(s: Export):
    if not s.links:
        return False
    s.links.pop(s.rnd.randrange(len(s.links)))


def link_edited(s: Export):
    if not s.links:
        return False
    link = s.links[s.rnd.randrange(len(s.links))]
    if s.rnd.random() < 0.5:
        link[2] = s.rnd.choice(RELATIONSHIPS)
    else:
        link[3] = "no" if link[3] == "yes" else "yes"


def link_duplicated(s: Export):
    if not s.links:
        return False
    link = list(s.links[s.rnd.randrange(len(s.links))])
    link[2] = s.rnd.choice(RELATIONSHIPS)
    s.links.insert(s.rnd.randrange(len(s.links) + 1), link)


def contact_portal(s: Export):
    code = s.pick("contacts")
    if code is None:
        return False
    row = s.contacts[code]
    row[4] = "no" if row[4] == "yes" else "yes"


def staff_roles(s: Export):
    code = s.pick("staff")
    if code is None:
        return False
    s.staff[code][4] = s.rnd.choice(["", "eo", "inv"])


def reordered(s: Export):
    for kind in ("students", "contacts"):
        rows = list(getattr(s, kind).items())
        s.rnd.shuffle(rows)
        setattr(s, kind, dict(rows))
    s.rnd.shuffle(s.links)


CHANGES = [rename, new_year, new_email, inactive_flag, leaving_date, leaves, rejoins, joins, link_gained, link_lost,
           link_edited, link_duplicated, contact_portal, staff_roles, reordered]  # fmt: skip


# --- edits by hand between two nights (PostgreSQL's change rows name them) ----------------------------------


def edit_by_hand(school, rnd: random.Random) -> str:
    members = list(Membership.objects.filter(school=school).exclude(mis_code="").order_by("mis_code"))
    if not members:
        return "none"
    member = rnd.choice(members)
    edit = rnd.choice(["rename", "year", "status", "role", "link"])
    if edit == "rename":
        Account.objects.filter(pk=member.account_id).update(family_name="By hand")
    elif edit == "year" and member.person_type == "student":
        Membership.objects.filter(pk=member.pk).update(year_group="13")
    elif edit == "status":
        Membership.objects.filter(pk=member.pk).update(status="archived")
    elif edit == "role":
        if not member.role_assignments.filter(role_id="inv").exists():
            RoleAssignmentFactory(school=school, membership=member, role_id="inv")
    elif edit == "link":
        ContactLink.objects.filter(school=school, contact=member).delete()
        ContactLink.objects.filter(school=school, student=member).update(portal_access=False)
    return f"{edit} {member.mis_code}"


def taken_by_another_school(other, world: Export, taken: list, rnd: random.Random) -> str:
    """Another school's sync takes over one of the students by UPN (a transfer): the first school's export may
    still list them, and its next night must plan them as the full comparison does."""
    held = {row[0][1:] for row in taken}
    upns = sorted(code for code, row in world.students.items() if row[1] and code not in held)
    if not upns:
        return "none"
    code = rnd.choice(upns)
    taken.append([f"B{code}", *world.students[code][1:]])
    applied(other, feed_zip(students=taken))
    return code


def _difference(quick, full) -> str:
    (quick_counts, quick_items), (full_counts, full_items) = comparable(quick), comparable(full)
    only_quick = [i for i in quick_items if i not in full_items]
    only_full = [i for i in full_items if i not in quick_items]
    return (
        f"counts {quick_counts} against {full_counts}; "
        f"only planned from the changes: {only_quick}; only in full: {only_full}"
    )


# Eight walks in CI; ROLLCALL_RANDOM_SEEDS=500 for a longer hunt (every seed is reproducible on its own).
SEEDS = int(os.environ.get("ROLLCALL_RANDOM_SEEDS", "8"))
POLICIES = [
    {},
    {"year_groups": ["7", "9"]},
    {"overwrite_existing": False},
    {"archive_inactive": False},
    {"username_method": "first_last"},
    {"username_method": "initial_surname", "lowercase": False},
    {"username_method": "surname_initial", "prepend_text": "p", "year_groups": ["8", "10"]},
]


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_nights_plan_from_the_changes_as_in_full(school_a, school_b, seed):
    rnd = random.Random(seed)
    policy = POLICIES[seed % len(POLICIES)]
    world = Export(rnd)
    policy = {**policy, "guard_threshold": 10**6}  # a school this small trips the default at once
    applied(school_a, world.feed(), **policy)
    planned_quick, taken = 0, []
    for night in range(8):
        changes = world.night()
        if connection.vendor == "postgresql" and rnd.random() < 0.3:
            changes.append("by hand: " + edit_by_hand(school_a, rnd))
        if night >= 5 and rnd.random() < 0.3:
            changes.append("taken by another school: " + taken_by_another_school(school_b, world, taken, rnd))
        content = world.feed()
        today = date.today() + timedelta(days=rnd.choice([0, 0, 0, 2, 45]))  # leaving dates come due
        quick, full = both_ways(school_a, content, today=today)
        where = f"seed {seed}, night {night}, {today}, after {changes}"
        if quick is not None:
            planned_quick += 1
            assert comparable(quick) == comparable(full), f"{where}: {_difference(quick, full)}"
            assert (quick.guard_count, quick.guard_threshold) == (full.guard_count, full.guard_threshold), where
        applied(school_a, content, **policy)
    # Stepping aside is always allowed, but a walk that never planned from the changes would test nothing.
    assert planned_quick >= 3, f"seed {seed}: planned from the changes on only {planned_quick} of 8 nights"
