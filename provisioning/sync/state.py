"""The school state: everything a school holds that the plan compares with the feed, read once per plan.

Memberships with their accounts, role assignments and contact links are read in a handful of set-based
queries, with the state's fingerprint (fingerprint.py on PostgreSQL; a digest of the rows on SQLite): Apply
refuses a plan when the fingerprint moved since, and the nightly run plans from the changed feed lines alone
only when it is still the one the last applied run left (incremental.py).
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from accounts.models import ContactLink, Membership, RoleAssignment
from provisioning.sync import fingerprint

ACTIVE = Membership.Status.ACTIVE
STATE_FIELDS = (
    "id",
    "account_id",
    "person_type",
    "mis_code",
    "status",
    "year_group",
    "form",
    "portal_access",
    "account__username",
    "account__given_name",
    "account__family_name",
    "account__email",
    "account__upn",
    "account__home_school_id",
)


@dataclass
class SchoolState:
    """The school's accounts as the sync sees them, read once per plan."""

    members: dict[tuple[str, str], dict] = field(default_factory=dict)  # (person_type, mis_code) -> row
    uncoded: dict[tuple[str, str], dict] = field(default_factory=dict)  # (person_type, account_id) -> row
    roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # membership id -> roles
    links: dict[tuple[str, str], dict] = field(default_factory=dict)  # (contact mid, student mid) -> link
    fingerprint: str = ""
    active_count: int = 0
    # incremental.py hands over only the held links a full snapshot no longer has (already filtered).
    links_prefiltered: bool = False


STATE_KEYS = [f.replace("account__", "") for f in STATE_FIELDS]


def state_row(values: tuple) -> dict:
    """A values_list(*STATE_FIELDS) row as the planner reads it (ids as text)."""
    row = dict(zip(STATE_KEYS, values, strict=True))
    row["id"], row["account_id"] = str(row["id"]), str(row["account_id"])
    row["home_school_id"] = str(row["home_school_id"])
    return row


def load_state(school) -> SchoolState:
    if connection.vendor == "postgresql":
        return _load_state_pg(school)
    state = SchoolState()
    digest = hashlib.sha256()
    rows = Membership.objects.filter(school=school).order_by("id").values_list(*STATE_FIELDS)
    for values in rows.iterator(chunk_size=5000):
        digest.update(repr(values).encode())
        _keep(state, state_row(values))
    roles = RoleAssignment.objects.filter(school=school).order_by("membership_id", "role_id")
    for membership_id, role_id in roles.values_list("membership_id", "role_id").iterator(chunk_size=5000):
        digest.update(f"{membership_id}:{role_id}".encode())
        state.roles[str(membership_id)].add(role_id)
    links = ContactLink.objects.filter(school=school).order_by("id")
    for values in links.values_list("id", "contact_id", "student_id", "relationship", "portal_access").iterator(
        chunk_size=5000
    ):
        digest.update(repr(values).encode())
        link_id, contact_id, student_id, relationship, portal = values
        state.links[(str(contact_id), str(student_id))] = {
            "id": str(link_id),
            "relationship": relationship,
            "portal_access": portal,
        }
    state.fingerprint = digest.hexdigest()
    return state


def _keep(state: SchoolState, row: dict) -> None:
    if row["status"] == ACTIVE:
        state.active_count += 1
    if row["mis_code"]:
        state.members[(row["person_type"], row["mis_code"])] = row
    else:
        state.uncoded[(row["person_type"], row["account_id"])] = row


PG_MEMBERS = """
SELECT m.id::text, m.account_id::text, m.person_type, m.mis_code, m.status, m.year_group, m.form, m.portal_access,
       a.username, a.given_name, a.family_name, a.email, a.upn, a.home_school_id::text
FROM accounts_membership m JOIN accounts_account a ON a.id = m.account_id WHERE m.school_id = %s
"""


def _load_state_pg(school) -> SchoolState:
    state = SchoolState()
    keys = [f.replace("account__", "") for f in STATE_FIELDS]
    with connection.cursor() as cursor:
        # The fingerprint first: each read below sees what was committed when it started, so a change
        # committed between them may be in the state but not in the fingerprint, and Apply's check then
        # refuses the plan. Read after, it could count a change the state missed: a stale plan applied.
        state.fingerprint = fingerprint.fingerprint_pg(cursor, school)
        cursor.execute(PG_MEMBERS, [school.pk])
        for values in cursor.fetchall():
            _keep(state, dict(zip(keys, values, strict=True)))
        cursor.execute("SELECT membership_id::text, role_id FROM accounts_roleassignment WHERE school_id = %s",
                       [school.pk])  # fmt: skip
        roles = state.roles
        for membership_id, role_id in cursor.fetchall():
            roles[membership_id].add(role_id)
        cursor.execute(
            "SELECT id::text, contact_id::text, student_id::text, relationship, portal_access"
            " FROM accounts_contactlink WHERE school_id = %s",
            [school.pk],
        )
        for link_id, contact_id, student_id, relationship, portal in cursor.fetchall():
            state.links[(contact_id, student_id)] = {"id": link_id, "relationship": relationship,
                                                     "portal_access": portal}  # fmt: skip
    return state


def current_fingerprint(school) -> str:
    """The fingerprint as it is now, for Apply's check that nothing changed since the plan."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return fingerprint.fingerprint_pg(cursor, school)
    return load_state(school).fingerprint


def fingerprint_and_active(school) -> tuple[str, int]:
    """The fingerprint and the number of active memberships (the guard's 10%), read in the same pass."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            return fingerprint.fingerprint_and_active_pg(cursor, school)
    state = load_state(school)
    return state.fingerprint, state.active_count


def applied_fingerprint(school, planned: str, *, wrote: bool = True) -> str:
    """The fingerprint the school will have once this sync commits, if no one else writes to it from the
    reading `planned` on; for the next run to tell whether it may plan from the changed lines alone. Folds
    the school's change rows into its version (PostgreSQL): call it under the SyncPolicy lock, after the
    sync's last write to the school. It folds after a run that wrote nothing too, so the rows of a school
    whose nights change nothing do not pile up."""
    if connection.vendor != "postgresql":
        return current_fingerprint(school) if wrote else planned
    applied = fingerprint.fold_into_version(school, planned)
    return current_fingerprint(school) if applied is None else applied
