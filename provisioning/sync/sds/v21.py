"""School Data Sync v2.1: orgs.csv, users.csv, roles.csv and relationships.csv.

The MIS code is the user's sourcedId (SDS v2.1 has no other identifier). Only roles at the school's own org
(and the orgs below it) count, and only while current (roleStartDate to roleEndDate, read in the school's
"Dates in feeds" order). relationships.csv names the student first (userSourcedId) and the related person
second; anyone who is not a student here may be a student's contact, staff included (one membership per
person type).
"""

from collections import Counter
from datetime import date

from accounts.services.names import mis_code_text
from provisioning.sync.feed_dates import read_feed_date
from provisioning.sync.feeds import ParsedFeed
from provisioning.sync.sds.common import (
    PARENT_ROLES,
    STAFF_ROLES,
    V21_COLUMNS,
    V21_FILES,
    V21_REQUIRED,
    V21_UNUSED,
    Tables,
    as_email,
    deferred_problems,
    person_row,
    pick_schools,
    refuse_missing_files,
    relationship_label,
    report,
    warn_unused_files,
    year_group,
)

CONTACT_ROLES = {"parent", "guardian", "relative"}  # a vendor's roles.csv may hold these: never staff


def read_v21(feed: ParsedFeed, tables: Tables, *, today: date, org_identifier: str, date_order: str) -> None:
    if refuse_missing_files(feed, tables, V21_REQUIRED, "School Data Sync v2.1"):
        return
    warn_unused_files(feed, tables, V21_FILES, V21_UNUSED, "v2.1")
    has_links = "relationships" in tables.files
    feed.modes.update(student="bulk", staff="bulk", contact="bulk" if has_links else "absent",
                      link="bulk" if has_links else "absent")  # fmt: skip
    read = {key: tables.read(feed, key, V21_COLUMNS[key], "v2.1") for key in V21_REQUIRED + ("relationships",)}
    if feed.structural_total:
        return
    orgs = read["orgs"]
    ours = _our_orgs(feed, tables.name("orgs"), orgs, org_identifier)
    if ours is None:
        return
    users = _users(feed, tables.name("users"), read["users"])
    roles = _Roles(feed, tables.name("roles"), users, {row["sourcedId"] for _, row in orgs}, ours)
    roles.read(read["roles"], today, date_order)
    students = _people(feed, tables.name("users"), users, roles)
    if has_links:
        _contacts(feed, tables.name("relationships"), read["relationships"], users, students, roles)
    _unplaced(feed, tables.name("users"), users, roles)


def _our_orgs(feed, file, orgs, org_identifier) -> set[str] | None:
    """The school's own org, found by its URN / DfE number, and the orgs below it (a sixth-form campus)."""
    schools = [(n, row) for n, row in orgs if row.get("type", "").lower() == "school"] or orgs
    ours = pick_schools(feed, file, orgs, id_column="sourcedId", org_identifier=org_identifier,
                        label="sourcedId or identifier", candidates=schools)  # fmt: skip
    if ours is None:
        return None
    below: dict[str, list[str]] = {}
    for _, row in orgs:
        below.setdefault(row.get("parentSourcedId", ""), []).append(row["sourcedId"])
    todo = list(ours)
    while todo:
        for child in below.get(todo.pop(), []):
            if child not in ours:
                ours.add(child)
                todo.append(child)
    return ours


def _users(feed, file, rows) -> dict[str, dict]:
    """users.csv by sourcedId; a user whose row has a problem is kept, marked bad, so their memberships are
    kept as they are rather than read as gone."""
    found: dict[str, dict] = {}
    for number, row in rows:
        sid = mis_code_text(row["sourcedId"])
        email = row.get("email", "") or as_email(row.get("username", ""))
        problems = deferred_problems(feed, file, number, code=sid, code_column="sourcedId", given=row["givenName"],
                                     family=row["familyName"], name_column="givenName", email=email,
                                     email_column="email" if row.get("email") else "username")  # fmt: skip
        if sid in found:
            feed.error(file, number, "sourcedId", f"sourcedId {sid} is also on row {found[sid]['row']}.")
            continue
        if sid:
            found[sid] = {"row": number, "given": row["givenName"], "family": row["familyName"], "email": email,
                          "bad": bool(problems), "problems": problems}  # fmt: skip
    return found


def _kind(role: str) -> str | None:
    name = role.strip().lower()
    if name == "student":
        return "student"
    if name in STAFF_ROLES:
        return "staff"
    if name in CONTACT_ROLES:
        return "contact"
    return None


class _Roles:
    """roles.csv: each user's current roles at the school, and the roles whose rows were refused."""

    def __init__(self, feed, file, users, org_ids, ours):
        self.feed, self.file, self.users, self.org_ids, self.ours = feed, file, users, org_ids, ours
        self.current: dict[str, dict[str, str]] = {}  # sourcedId -> {person type: year group}
        self.refused: dict[str, set[str]] = {}  # sourcedId -> person types whose role row was refused
        self.listed: set[str] = set()  # everyone with a student or staff role anywhere in the file
        self.students_anywhere: set[str] = set()  # at this school or another
        self.named: set[str] = set()  # everyone with any row in the file

    def read(self, rows, today: date, date_order: str) -> None:
        feed, file = self.feed, self.file
        not_synchronised: Counter = Counter()
        for number, row in rows:
            sid, org, kind = mis_code_text(row["userSourcedId"]), row["orgSourcedId"], _kind(row["role"])
            self.named.add(sid)
            if kind in ("student", "staff"):
                self.listed.add(sid)
            if kind == "student":
                self.students_anywhere.add(sid)
            if org not in self.org_ids:
                feed.warnings.append(f"{file} row {number}: no org {org} in orgs.csv; the role is ignored.")
                continue
            if org not in self.ours:
                continue  # another school's role
            if sid not in self.users:
                feed.warnings.append(f"{file} row {number}: no user {sid} in users.csv; the role is ignored.")
                continue
            if kind is None:
                not_synchronised[row["role"]] += 1
            if kind in (None, "contact"):
                continue
            start, start_ok = read_feed_date(
                feed, file, number, "roleStartDate", row.get("roleStartDate", ""), date_order
            )
            end, end_ok = read_feed_date(feed, file, number, "roleEndDate", row.get("roleEndDate", ""), date_order)
            if not (start_ok and end_ok):
                self.refused.setdefault(sid, set()).add(kind)
                continue
            if (start and start > today) or (end and end < today):
                continue  # not current: gone from the school once no current role is left
            self.current.setdefault(sid, {}).setdefault(kind, year_group(row.get("grade", "")))
        for role, count in sorted(not_synchronised.items()):
            feed.warnings.append(f"{file}: role {role!r} is not synchronised ({count} rows), ignored.")


def _people(feed, file, users, roles: _Roles) -> set[str]:
    """Students and staff from their current roles; returns the school's students (listed or kept)."""
    students = set()
    for sid in sorted(set(roles.current) | set(roles.refused)):
        user = users[sid]
        for kind in sorted(set(roles.current.get(sid, {})) | roles.refused.get(sid, set())):
            if kind == "student":
                students.add(sid)
            if user["bad"] or kind in roles.refused.get(sid, set()):
                report(feed, user["problems"])
                feed.reject(kind, sid)
                continue
            if kind == "staff" and not user["email"]:
                feed.error(file, user["row"], "email", "Email is required for staff.")
                feed.reject(kind, sid)
                continue
            year = roles.current[sid][kind] if kind == "student" else ""
            feed.people.setdefault(kind, []).append(
                person_row(sid, user["given"], user["family"], user["email"], year=year, row=user["row"])
            )
    return students


def _contacts(feed, file, rows, users, students: set[str], roles: _Roles) -> None:
    """The students' contacts and links. Parents and guardians get parent portal access; other relationships
    are links without it."""
    links: dict[tuple[str, str], dict] = {}
    for number, row in rows:
        student = mis_code_text(row["userSourcedId"])
        other = mis_code_text(row["relationshipUserSourcedId"])
        role = row["relationshipRole"]
        if student not in students and other in students and student not in roles.listed:
            student, other = other, student  # sent the other way round: the student is the one with the role
        if student not in students:
            if student not in users:
                feed.warnings.append(f"{file} row {number}: no user {student} in users.csv; ignored.")
            continue  # another school's student
        if other not in users:
            feed.warnings.append(f"{file} row {number}: no user {other} in users.csv; the relationship is ignored.")
            continue
        if other in roles.students_anywhere:
            feed.warnings.append(f"{file} row {number}: {other} is a student, not a contact; ignored.")
            continue
        portal = role.strip().lower() in PARENT_ROLES
        link = links.setdefault((other, student), {
            "contact_code": other, "student_code": student, "relationship": relationship_label(role),
            "portal_access": False,
        })  # fmt: skip
        link["portal_access"] = link["portal_access"] or portal
    portal_by_contact: dict[str, bool] = {}
    for (contact, _), link in links.items():
        portal_by_contact[contact] = portal_by_contact.get(contact, False) or link["portal_access"]
    bad = set()
    for code, portal in sorted(portal_by_contact.items()):
        user = users[code]
        if user["bad"]:
            report(feed, user["problems"])
            feed.reject("contact", code)
            bad.add(code)
            continue
        feed.people.setdefault("contact", []).append(
            person_row(code, user["given"], user["family"], user["email"], portal=portal, row=user["row"])
        )
    feed.links.extend(link for (contact, _), link in sorted(links.items()) if contact not in bad)


def _unplaced(feed, file, users, roles: _Roles) -> None:
    placed = roles.named | {p["mis_code"] for p in feed.people.get("contact", [])}
    placed |= {code for codes in feed.rejected.values() for code in codes}
    count = sum(1 for sid in users if sid not in placed)
    if count:
        feed.warnings.append(f"{file}: {count} people have no role in roles.csv and no relationship to this "
                             "school's students; they are not synchronised.")  # fmt: skip
