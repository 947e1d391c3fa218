"""OneRoster CSV bundles, versions 1.1 and 1.2, read into the same ParsedFeed as Rollcall's export.

- manifest.csv says, per file, bulk (a full snapshot: anyone missing has left), delta (only
  status=tobedeleted removes anyone) or absent.
- 1.1 keeps one role per person on users.csv; 1.2 keeps roles in roles.csv (several, in several orgs).
- Students become students; teachers, administrators and the like become staff; parents, guardians and
  relatives become contacts, linked to students through agentSourcedIds only where the other end really is
  a student.
- userIds ("{LDAP:12},{Fed:23}") are parsed into pairs, never used as usernames.
- Unknown columns and files are ignored with a warning; a non-ISO date or a reference to a missing user or
  org is an error on that row, never a crash.
"""

import csv
import io
import re
import zipfile
from datetime import date, datetime

from accounts.services.names import UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE, mis_code_problem, mis_code_text
from provisioning.sync.feeds import FeedUnreadable, ParsedFeed

STAFF_ROLES = {
    "teacher", "administrator", "aide", "proctor", "principal", "siteadministrator", "districtadministrator",
    "systemadministrator", "counselor", "teachingassistant",
}  # fmt: skip
CONTACT_ROLES = {"parent", "guardian", "relative"}
KNOWN_FILES = {
    "manifest", "users", "orgs", "roles", "enrollments", "classes", "courses", "academicsessions", "demographics",
    "categories", "classresources", "courseresources", "lineitems", "resources", "results", "userprofiles",
    "lineitemlearningobjectiveids", "lineitemscoresets", "resultlearningobjectiveids", "resultscoresets",
    "scorescales", "assessmentlineitems", "assessmentresults",
}  # fmt: skip
USER_COLUMNS = {
    "1.1": ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
            "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
            "agentSourcedIds", "grades", "password"],
    "1.2": ["sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
            "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
            "password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
            "preferredFamilyName", "primaryOrgSourcedId", "pronouns"],
}  # fmt: skip
USER_REQUIRED = {
    "1.1": ["sourcedId", "role", "givenName", "familyName"],
    "1.2": ["sourcedId", "givenName", "familyName"],
}
ROLE_COLUMNS = ["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
                "endDate", "orgSourcedId", "userProfileSourcedId"]  # fmt: skip
ORG_COLUMNS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"]
USER_ID = re.compile(r"\{([^:{}]*):([^{}]*)\}")


def parse_user_ids(text: str) -> list[tuple[str, str]]:
    """ "{LDAP:12},{Fed:23}" -> [("LDAP", "12"), ("Fed", "23")]."""
    return [(kind.strip(), value.strip()) for kind, value in USER_ID.findall(text or "")]


def manifest_version(archive: zipfile.ZipFile) -> str:
    manifest = _read_manifest(archive)
    version = manifest.get("oneroster.version", "1.1").strip()
    return "oneroster_1.2" if version.startswith("1.2") else "oneroster_1.1"


def _member_name(archive: zipfile.ZipFile, base: str) -> str | None:
    for name in archive.namelist():
        if name.rsplit("/", 1)[-1].lower() == base:
            return name
    return None


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, str]:
    name = _member_name(archive, "manifest.csv")
    if name is None:
        raise FeedUnreadable("The OneRoster bundle has no manifest.csv.")
    rows = list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
    return {row[0].strip().lower(): row[1].strip().lower() for row in rows[1:] if len(row) >= 2}


def _table(feed: ParsedFeed, archive, file: str, known: list[str], required: list[str]):
    """(rows as dicts keyed by the spec's column names, with the file's row numbers) or None."""
    name = _member_name(archive, f"{file}.csv")
    if name is None:
        return None
    reader = csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))
    header = next(reader, [])
    lookup = {c.lower(): c for c in known}
    index = {}
    for i, column in enumerate(header):
        spec = lookup.get(column.strip().lower())
        if spec is None:
            feed.warnings.append(f"{file}.csv: column {column!r} is not part of OneRoster, ignored.")
        elif spec not in index:
            index[spec] = i
    missing = [c for c in required if c not in index]
    for column in missing:
        feed.error(f"{file}.csv", 1, column, f"The required column {column} is missing.")
    if missing:
        return []
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        rows.append((number, {c: (row[i].strip() if i < len(row) else "") for c, i in index.items()}))
    return rows


def _check_datetime(feed, file, number, column, text) -> None:
    if not text:
        return
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        feed.error(file, number, column, f"{text!r} is not an ISO 8601 date and time.")


def _check_date(feed, file, number, column, text) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        feed.error(file, number, column, f"{text!r} is not an ISO 8601 date (YYYY-MM-DD).")
        return None


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_oneroster(content: bytes, *, file_format: str, today: date | None = None, org_identifier: str = ""):
    today = today or date.today()
    version = "1.2" if file_format.endswith("1.2") else "1.1"
    feed = ParsedFeed(file_format=file_format)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        manifest = _read_manifest(archive)
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1].lower()
            if base.endswith(".csv") and base[:-4] not in KNOWN_FILES:
                feed.warnings.append(f"{base}: not a OneRoster file, ignored.")
        users_mode = manifest.get("file.users", "absent")
        if users_mode not in ("bulk", "delta", "absent"):
            feed.error("manifest.csv", None, "file.users", f"{users_mode!r} is not bulk, delta or absent.")
            users_mode = "absent"
        for person_type in ("student", "staff", "contact", "link"):
            feed.modes[person_type] = users_mode
        if users_mode == "absent":
            return feed
        orgs = _table(feed, archive, "orgs", ORG_COLUMNS, ["sourcedId", "name"])
        users = _table(feed, archive, "users", USER_COLUMNS[version], USER_REQUIRED[version])
        roles = _table(feed, archive, "roles", ROLE_COLUMNS, ["userSourcedId", "role", "orgSourcedId"]) \
            if version == "1.2" else None  # fmt: skip
    if users is None:
        feed.error("users.csv", None, "", "The manifest says users.csv is sent, but it is not in the bundle.")
        return feed
    if version == "1.2" and roles is None and manifest.get("file.roles", "absent") != "absent":
        feed.error("roles.csv", None, "", "The manifest says roles.csv is sent, but it is not in the bundle.")
    org_ids = _orgs(feed, orgs or [])
    user_roles = _roles_12(feed, roles or [], org_ids, today) if version == "1.2" else {}
    _users(feed, version, users, user_roles, org_ids, today, users_mode, org_identifier)
    return feed


def _orgs(feed, orgs) -> dict[str, str]:
    ids = {}
    for number, row in orgs:
        _check_datetime(feed, "orgs.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        ids[row["sourcedId"]] = row.get("identifier", "")
    return ids


def _roles_12(feed, roles, org_ids, today) -> dict[str, list[tuple[str, str]]]:
    """1.2: each person's current roles, as (role, org) pairs."""
    found: dict[str, list[tuple[str, str]]] = {}
    for number, row in roles:
        _check_datetime(feed, "roles.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        begin = _check_date(feed, "roles.csv", number, "beginDate", row.get("beginDate", ""))
        end = _check_date(feed, "roles.csv", number, "endDate", row.get("endDate", ""))
        if row["orgSourcedId"] not in org_ids:
            feed.error("roles.csv", number, "orgSourcedId", f"No org {row['orgSourcedId']} in orgs.csv.")
            continue
        if row.get("status", "").lower() == "tobedeleted" or (begin and begin > today) or (end and end < today):
            continue
        found.setdefault(row["userSourcedId"], []).append((row["role"].lower(), row["orgSourcedId"]))
    return found


def _person_type(roles: list[str]) -> str | None:
    names = {r.lower() for r in roles}
    if "student" in names:
        return "student"
    if names & STAFF_ROLES:
        return "staff"
    if names & CONTACT_ROLES:
        return "contact"
    return None


def _users(feed, version, users, user_roles, org_ids, today, mode, org_identifier):
    ours = {sid for sid, ident in org_ids.items() if org_identifier and ident == org_identifier}
    known_users = {row["sourcedId"]: number for number, row in users}
    kinds: dict[str, str] = {}
    people: dict[str, dict] = {}
    agents: dict[str, list[str]] = {}
    for number, row in users:
        sid = row["sourcedId"]
        before = feed.error_total
        _check_datetime(feed, "users.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        if version == "1.1":
            user_orgs = _split(row.get("orgSourcedIds", ""))
            roles = [(row.get("role", "").lower(), org) for org in user_orgs] or [(row.get("role", "").lower(), "")]
        else:
            roles = user_roles.get(sid, [])
            primary = row.get("primaryOrgSourcedId", "")
            user_orgs = [org for _, org in roles] + ([primary] if primary else [])
        for org in user_orgs:
            if org not in org_ids:
                feed.error("users.csv", number, "orgSourcedIds", f"No org {org} in orgs.csv.")
        for agent in _split(row.get("agentSourcedIds", "")):
            if agent not in known_users:
                feed.error("users.csv", number, "agentSourcedIds", f"No user {agent} in users.csv.")
        email = row.get("email", "")
        if email and ("@" not in email or " " in email):
            feed.error("users.csv", number, "email", f"{email!r} is not an email address.")
        names = [row.get(k, "") for k in ("givenName", "familyName", "preferredGivenName", "preferredFamilyName")]
        if UNSAFE_TEXT.search("".join(names)):
            feed.error("users.csv", number, "givenName", f"A name {UNSAFE_TEXT_MESSAGE}.")
        code_problem = mis_code_problem(mis_code_text(row.get("identifier") or sid))
        if code_problem:
            feed.error("users.csv", number, "identifier", f"The MIS code {code_problem}.")
        if feed.error_total != before:
            continue
        kind = _person_type([r for r, _ in roles])
        if kind is None:
            if version == "1.2" and not roles:
                feed.warnings.append(f"users.csv row {number}: {sid} has no current role in roles.csv, ignored.")
            else:
                feed.warnings.append(f"users.csv row {number}: role {roles[0][0]!r} is not synchronised, ignored.")
            continue
        if ours and kind != "contact" and not ours & set(user_orgs):
            continue  # another school's person in a district-wide bundle
        if kind == "staff" and not email:
            feed.error("users.csv", number, "email", "Email is required for staff.")
            continue
        status = row.get("status", "").lower()
        enabled = row.get("enabledUser", "true").lower() not in ("false", "0", "no")
        grades = _split(row.get("grades", ""))
        year = grades[0].lstrip("0") or grades[0] if grades else ""
        kinds[sid] = kind
        agents[sid] = _split(row.get("agentSourcedIds", ""))
        people[sid] = {
            "mis_code": mis_code_text(row.get("identifier") or sid)[:64],
            "upn": "",
            "given_name": row.get("preferredGivenName") or row["givenName"],
            "family_name": row.get("preferredFamilyName") or row["familyName"],
            "email": email,
            "year_group": year[:20],
            "form": "",
            "portal_access": True,
            "active": enabled and status != "tobedeleted",
            "deleted": mode == "delta" and status == "tobedeleted",
            "roles": [],
            "user_ids": parse_user_ids(row.get("userIds", "")),
            "row": number,
            "kind": kind,
            "relationship": next((r for r, _ in roles if r in CONTACT_ROLES), ""),
        }
    _link(feed, people, kinds, agents)
    seen_codes: dict[tuple[str, str], int] = {}
    for person in people.values():
        key = (person["kind"], person["mis_code"])
        if key in seen_codes:
            feed.error(
                "users.csv", person["row"], "identifier", f"{person['mis_code']} is also on row {seen_codes[key]}."
            )
            continue
        seen_codes[key] = person["row"]
        feed.people.setdefault(person["kind"], []).append(person)
    for kind in ("student", "staff", "contact"):
        feed.people.setdefault(kind, [])


def _link(feed, people, kinds, agents) -> None:
    """Contacts to students, from either end's agentSourcedIds, only where the other end is a student."""
    pairs = set()
    for sid, others in agents.items():
        for other in others:
            if kinds.get(sid) == "contact" and kinds.get(other) == "student":
                pairs.add((sid, other))
            elif kinds.get(sid) == "student" and kinds.get(other) == "contact":
                pairs.add((other, sid))
            elif other in kinds and {kinds.get(sid), kinds.get(other)} & {"contact"}:
                feed.warnings.append(f"{sid} -> {other}: a contact is linked only to students; link ignored.")
    for contact, student in sorted(pairs):
        feed.links.append({
            "contact_code": people[contact]["mis_code"],
            "student_code": people[student]["mis_code"],
            "relationship": people[contact]["relationship"].title(),
            "portal_access": True,
        })  # fmt: skip
