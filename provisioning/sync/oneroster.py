"""OneRoster CSV bundles, versions 1.1 and 1.2, read into the same ParsedFeed as Rollcall's export.

- manifest.csv says, per file, bulk (a full snapshot: anyone missing has left), delta (only
  status=tobedeleted removes anyone) or absent.
- 1.1 keeps one role per person on users.csv; 1.2 keeps roles in roles.csv (several, in several orgs).
- Students become students; teachers, administrators and the like become staff; parents and guardians
  become contacts, linked to students through agentSourcedIds only where the other end really is a
  student. Only parents and guardians get parent access: a relative, or any other agent, is not linked (a
  warning says so). A person with several roles (a teacher who is also a guardian) gets one membership per
  person type, on one account.
- userIds ("{LDAP:12},{Fed:23}") are parsed into pairs, never used as usernames; metadata.* extension
  columns are ignored.
- A problem on one person's row (an email that is not one, a teacher without email, a bad MIS code) leaves
  that person out and kept as they are; only a missing or unreadable required file or column refuses the
  bundle. Unknown or misspelled columns, files and manifest keys, dates in columns Rollcall does not use,
  and references to orgs, users, classes, courses or sessions not in the bundle are warnings on that row.
  docs/feed-oneroster.md says all of it for schools.
"""

import csv
import difflib
import io
import re
import zipfile
from datetime import date, datetime

from accounts.services.names import UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE, mis_code_problem, mis_code_text
from provisioning.sync.feed_dates import ISO, read_feed_date
from provisioning.sync.feeds import FeedUnreadable, ParsedFeed

STAFF_ROLES = {
    "teacher", "administrator", "aide", "proctor", "principal", "siteadministrator", "districtadministrator",
    "systemadministrator", "counselor", "teachingassistant",
}  # fmt: skip
CONTACT_ROLES = {"parent", "guardian"}  # parent access; "relative" and other agents are not linked
AGENT_ROLES = {"relative"}  # OneRoster agents that are neither parents nor guardians: not synchronised
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
CLASS_COLUMNS = ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
                 "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods",
                 "resources"]  # fmt: skip
ENROLMENT_COLUMNS = ["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId", "userSourcedId",
                     "role", "primary", "beginDate", "endDate"]  # fmt: skip
MANIFEST_KEYS = {"manifest.version", "oneroster.version", "source.systemname", "source.systemcode"} | {
    f"file.{name}" for name in KNOWN_FILES - {"manifest"}
}
MODES = ("bulk", "delta", "absent")
MAX_REFERENCE_WARNINGS = 20  # per file: a bundle from another district names hundreds of classes
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


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.8)
    if not close:
        return ""
    spelled = {k.lower(): k for k in known}[close[0]]
    return f" Did you mean {spelled}?"


def _table(feed: ParsedFeed, archive, file: str, known: list[str], required: list[str]):
    """(rows as dicts keyed by the spec's column names, with the file's row numbers) or None when the file is
    not in the bundle; [] when it cannot be read (refused)."""
    name = _member_name(archive, f"{file.lower()}.csv")
    if name is None:
        return None
    reader = csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))
    header = next(reader, [])
    if not any(cell.strip() for cell in header):
        feed.refuse(f"{file}.csv", None, "", "The file is empty: it needs a header row.")
        return []
    lookup = {c.lower(): c for c in known}
    index = {}
    for i, column in enumerate(header):
        spec = lookup.get(column.strip().lower())
        if spec is None:
            if not column.strip().lower().startswith("metadata."):  # extension columns: allowed, not read
                hint = _did_you_mean(column.strip(), known)
                feed.warnings.append(f"{file}.csv: column {column!r} is not part of OneRoster, ignored.{hint}")
        elif spec not in index:
            index[spec] = i
    missing = [c for c in required if c not in index]
    for column in missing:
        feed.refuse(f"{file}.csv", 1, column, f"The required column {column} is missing.")
    if missing:
        return []
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        rows.append((number, {c: (row[i].strip() if i < len(row) else "") for c, i in index.items()}))
    return rows


def _check_datetime(feed, file, number, column, text) -> None:
    """dateLastModified: not used by Rollcall, and often blank or local in bulk files: a warning at most."""
    if not text:
        return
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        feed.row_warning(file, number, column, f"{text!r} is not an ISO 8601 date and time; ignored.")


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _check_manifest(feed: ParsedFeed, manifest: dict[str, str], archive) -> None:
    """Unknown or misspelled keys and odd modes are said; a file the manifest lists as sent must be there."""
    for key, value in manifest.items():
        if key not in MANIFEST_KEYS:
            hint = _did_you_mean(key, MANIFEST_KEYS)
            feed.warnings.append(f"manifest.csv: {key!r} is not a OneRoster manifest key, ignored.{hint}")
        elif key.startswith("file.") and value not in MODES and key != "file.users":
            feed.warnings.append(f"manifest.csv: {key} is {value!r}, not bulk, delta or absent; the file is not read.")
    for name in archive.namelist():
        base = name.rsplit("/", 1)[-1].lower()
        if not base.endswith(".csv"):
            continue
        if base[:-4] not in KNOWN_FILES:
            feed.warnings.append(f"{base}: not a OneRoster file, ignored.")
        elif base != "manifest.csv" and manifest.get(f"file.{base[:-4]}", "absent") == "absent":
            feed.warnings.append(f"{base}: in the bundle, but the manifest says it is absent; ignored.")


def _sent(manifest: dict[str, str], file: str) -> bool:
    return manifest.get(f"file.{file.lower()}", "absent") in ("bulk", "delta")


def parse_oneroster(
    content: bytes, *, file_format: str, today: date | None = None, org_identifier: str = "", date_order: str = ISO
):
    today = today or date.today()
    version = "1.2" if file_format.endswith("1.2") else "1.1"
    feed = ParsedFeed(file_format=file_format)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        manifest = _read_manifest(archive)
        _check_manifest(feed, manifest, archive)
        users_mode = manifest.get("file.users", "absent")
        if users_mode not in MODES:
            feed.refuse("manifest.csv", None, "file.users", f"{users_mode!r} is not bulk, delta or absent.")
            users_mode = "absent"
        for person_type in ("student", "staff", "contact", "link"):
            feed.modes[person_type] = users_mode
        if users_mode == "absent":
            return feed
        tables = {}
        for file, known, required in (
            ("orgs", ORG_COLUMNS, ["sourcedId"]),
            ("users", USER_COLUMNS[version], USER_REQUIRED[version]),
            ("roles", ROLE_COLUMNS, ["userSourcedId", "role", "orgSourcedId"]),
        ):
            if file == "roles" and version != "1.2":
                continue
            if not _sent(manifest, file):
                tables[file] = None
                continue
            tables[file] = _table(feed, archive, file, known, required)
            if tables[file] is None:
                feed.refuse(
                    f"{file}.csv", None, "", f"The manifest says {file}.csv is sent, but it is not in the bundle."
                )
        references = _reference_tables(feed, archive, manifest)
    if version == "1.2" and users_mode == "bulk" and not _sent(manifest, "roles"):
        # Without roles nobody has a person type, and a full snapshot of nobody would make everyone a leaver.
        message = "A OneRoster 1.2 bundle keeps its people's roles in roles.csv: the manifest says it is absent."
        feed.refuse("roles.csv", None, "", message)
    if not feed.ok:
        return feed
    orgs = tables["orgs"]
    org_ids = _orgs(feed, orgs) if orgs is not None else None
    bad_roles: set[str] = set()
    user_roles = (
        _roles_12(feed, tables["roles"] or [], org_ids, today, bad_roles, date_order) if version == "1.2" else {}
    )
    _users(feed, version, tables["users"], user_roles, org_ids, users_mode, org_identifier, bad_roles)
    _references(feed, references, org_ids, {row["sourcedId"] for _, row in tables["users"]})
    return feed


def _orgs(feed, orgs) -> dict[str, str]:
    ids = {}
    for number, row in orgs:
        _check_datetime(feed, "orgs.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        ids[row["sourcedId"]] = row.get("identifier", "")
    return ids


def _roles_12(
    feed, roles, org_ids, today, bad: set[str], date_order: str = ISO
) -> dict[str, list[tuple[str, str, str]]]:
    """1.2: each person's current roles, as (role, org, roleType). A role row Rollcall cannot read (a date that
    is not one) leaves its person out: in `bad`, kept as they are."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for number, row in roles:
        _check_datetime(feed, "roles.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        begin, begin_ok = read_feed_date(feed, "roles.csv", number, "beginDate", row.get("beginDate", ""), date_order)
        end, end_ok = read_feed_date(feed, "roles.csv", number, "endDate", row.get("endDate", ""), date_order)
        user, org = row["userSourcedId"], row["orgSourcedId"]
        if not (begin_ok and end_ok):
            bad.add(user)
            continue
        if org_ids is not None and org not in org_ids:
            feed.row_warning("roles.csv", number, "orgSourcedId", f"no org {org} in orgs.csv.")
        if row.get("status", "").lower() == "tobedeleted" or (begin and begin > today) or (end and end < today):
            continue
        role_type = row.get("roleType", "").lower()
        found.setdefault(user, []).append((row["role"].lower(), org, role_type))
    return found


def _kind_of(role: str) -> str | None:
    if role == "student":
        return "student"
    if role in STAFF_ROLES:
        return "staff"
    if role in CONTACT_ROLES:
        return "contact"
    return None


def _person_types(roles: list[tuple[str, str]]) -> dict[str, list[str]]:
    """{person type: the orgs of its roles}: one membership per person type (PRODUCT.md); a student is only
    a student."""
    kinds: dict[str, list[str]] = {}
    for role, org in roles:
        kind = _kind_of(role)
        if kind is not None:
            kinds.setdefault(kind, []).append(org)
    if "student" in kinds:
        return {"student": kinds["student"]}
    return kinds


def _user_roles(feed, version, number, row, user_roles) -> tuple[list[tuple[str, str]], list[str]]:
    """The person's (role, org) pairs and every org the row names."""
    sid = row["sourcedId"]
    if version == "1.1":
        user_orgs = _split(row.get("orgSourcedIds", ""))
        role = row.get("role", "").lower()
        return [(role, org) for org in user_orgs] or [(role, "")], user_orgs
    current = user_roles.get(sid, [])
    if current and not any(role_type == "primary" for _, _, role_type in current):
        feed.row_warning("users.csv", number, "", f"{sid} has no primary role in roles.csv; read from its other roles.")
    primary = row.get("primaryOrgSourcedId", "")
    return [(role, org) for role, org, _ in current], [org for _, org, _ in current] + ([primary] if primary else [])


def _users(feed, version, users, user_roles, org_ids, mode, org_identifier, bad_roles):
    ours = {sid for sid, ident in (org_ids or {}).items() if org_identifier and ident == org_identifier}
    known_users = {row["sourcedId"] for _, row in users}
    people: list[dict] = []
    kinds: dict[str, dict[str, str]] = {}  # sourcedId -> person type -> MIS code, rows left out included
    refused: set[tuple[str, str]] = set()  # (sourcedId, person type) of rows left out
    agents: dict[str, list[str]] = {}
    relationships: dict[str, str] = {}
    for number, row in users:
        sid = row["sourcedId"]
        code = mis_code_text(row.get("identifier") or sid)
        _check_datetime(feed, "users.csv", number, "dateLastModified", row.get("dateLastModified", ""))
        roles, user_orgs = _user_roles(feed, version, number, row, user_roles)
        for org in user_orgs:
            if org_ids is not None and org not in org_ids:
                feed.row_warning("users.csv", number, "orgSourcedIds", f"no org {org} in orgs.csv.")
        for agent in _split(row.get("agentSourcedIds", "")):
            if agent not in known_users:
                feed.row_warning("users.csv", number, "agentSourcedIds", f"no user {agent} in users.csv; not linked.")
        if sid in bad_roles:  # which memberships it holds is not known: each is kept as it is
            feed.error("users.csv", number, "sourcedId", "A role of this person in roles.csv cannot be read.")
            kinds[sid] = dict.fromkeys(("student", "staff", "contact"), code)
            for kind in kinds[sid]:
                feed.reject(kind, code)
                refused.add((sid, kind))
            agents[sid], relationships[sid] = _split(row.get("agentSourcedIds", "")), ""
            continue
        types = _person_types(roles)
        if not types:
            _not_synchronised(feed, version, number, sid, roles)
            continue
        if ours:  # another school's people in a district-wide bundle are not this school's
            types = {kind: orgs for kind, orgs in types.items() if kind == "contact" or ours & set(orgs + user_orgs)}
            if not types:
                continue
        problem = _row_problem(feed, number, row, code)
        email = row.get("email", "")
        agents[sid] = _split(row.get("agentSourcedIds", ""))
        kinds[sid] = {kind: code for kind in types}
        relationships[sid] = next((role for role, _ in roles if role in CONTACT_ROLES), "")
        for kind in types:
            if not problem and kind == "staff" and not email:
                feed.error("users.csv", number, "email", "Email is required for staff.")
            elif not problem:
                people.append(_person(row, kind, code, number, mode, sid))
                continue
            feed.reject(kind, code)
            refused.add((sid, kind))
    _link(feed, kinds, refused, agents, relationships)
    seen_codes: dict[tuple[str, str], int] = {}
    for person in people:
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


def _not_synchronised(feed, version, number, sid, roles) -> None:
    if version == "1.2" and not roles:
        feed.row_warning("users.csv", number, "", f"{sid} has no current role in roles.csv, ignored.")
    elif roles[0][0] in AGENT_ROLES:
        feed.row_warning(
            "users.csv", number, "role", f"{sid} is a {roles[0][0]}: only parents and guardians get parent access; "
            "not synchronised."
        )  # fmt: skip
    else:
        feed.row_warning("users.csv", number, "role", f"role {roles[0][0]!r} is not synchronised, ignored.")


def _row_problem(feed, number, row, code) -> bool:
    """Whether the row has an error that leaves its person out (each said on its column)."""
    before = feed.error_total
    email = row.get("email", "")
    if email and ("@" not in email or " " in email or len(email) > 254):
        feed.error("users.csv", number, "email", f"{email!r} is not an email address.")
    names = [row.get(k, "") for k in ("givenName", "familyName", "preferredGivenName", "preferredFamilyName")]
    if UNSAFE_TEXT.search("".join(names)):
        feed.error("users.csv", number, "givenName", f"A name {UNSAFE_TEXT_MESSAGE}.")
    if any(len(name) > 150 for name in names):
        feed.error("users.csv", number, "givenName", "A name is longer than 150 characters.")
    if not code:
        feed.error("users.csv", number, "identifier", "The person has neither an identifier nor a sourcedId.")
    elif problem := mis_code_problem(code):
        feed.error("users.csv", number, "identifier", f"The MIS code {problem}.")
    elif len(code) > 64:
        feed.error("users.csv", number, "identifier", "The MIS code is longer than 64 characters.")
    return feed.error_total != before


def _person(row, kind, code, number, mode, sid) -> dict:
    status = row.get("status", "").lower()
    enabled = row.get("enabledUser", "").lower() not in ("false", "0", "no")
    grades = _split(row.get("grades", ""))
    year = grades[0].lstrip("0") or grades[0] if grades else ""
    return {
        "mis_code": code,
        "upn": "",
        "given_name": row.get("preferredGivenName") or row["givenName"],
        "family_name": row.get("preferredFamilyName") or row["familyName"],
        "email": row.get("email", ""),
        "year_group": year[:20] if kind == "student" else "",
        "form": "",
        "portal_access": True,
        "active": enabled and status != "tobedeleted",
        "deleted": mode == "delta" and status == "tobedeleted",
        "roles": [],
        "user_ids": parse_user_ids(row.get("userIds", "")),
        "row": number,
        "kind": kind,
        "account_key": sid,  # one account for each of the person's memberships (plan_newcomers)
    }


def _link(feed, kinds, refused, agents, relationships) -> None:
    """Contacts to students, from either end's agentSourcedIds, only where the other end is a student. A link
    with an end whose row was left out goes to the plan, which keeps the link held (plan_links)."""
    pairs = set()
    for sid, others in agents.items():
        for other in others:
            if "contact" in kinds.get(sid, {}) and "student" in kinds.get(other, {}):
                pairs.add((sid, other))
            elif "student" in kinds.get(sid, {}) and "contact" in kinds.get(other, {}):
                pairs.add((other, sid))
            elif other in kinds and "contact" in set(kinds[sid]) | set(kinds[other]):
                feed.warnings.append(f"{sid} -> {other}: a contact is linked only to students; link ignored.")
            elif other in kinds and "student" in set(kinds[sid]) | set(kinds[other]):
                feed.warnings.append(
                    f"{sid} -> {other}: only parents and guardians are linked to students with parent access; "
                    "link ignored."
                )
    for contact, student in sorted(pairs):
        for sid, kind in ((contact, "contact"), (student, "student")):
            if (sid, kind) in refused:
                feed.warnings.append(f"{contact} -> {student}: the {kind} {sid}'s row has errors; the link is "
                                     "left as it is.")  # fmt: skip
        feed.links.append({
            "contact_code": kinds[contact]["contact"],
            "student_code": kinds[student]["student"],
            "relationship": relationships[contact].title(),
            "portal_access": True,
        })  # fmt: skip


def _reference_tables(feed, archive, manifest) -> dict[str, list]:
    """classes and enrollments, read only for what they name: Rollcall does not synchronise classes."""
    tables = {}
    for file, known in (("classes", CLASS_COLUMNS), ("enrollments", ENROLMENT_COLUMNS)):
        if _sent(manifest, file):
            tables[file] = _table(ParsedFeed(file_format=feed.file_format), archive, file, known, []) or []
    for file in ("courses", "academicSessions"):
        if _sent(manifest, file):
            table = _table(ParsedFeed(file_format=feed.file_format), archive, file, ["sourcedId"], ["sourcedId"])
            tables[file] = {row["sourcedId"] for _, row in table or []}
    return tables


def _references(feed, tables, org_ids, user_ids) -> None:
    """References to orgs, courses, sessions, classes or users that the bundle does not hold: a warning on
    the row (the first few of each file), never an error."""
    classes = {row.get("sourcedId", "") for _, row in tables.get("classes", [])}
    targets = {
        "courseSourcedId": ("course", tables.get("courses")),
        "termSourcedIds": ("academic session", tables.get("academicSessions")),
        "schoolSourcedId": ("org", None if org_ids is None else set(org_ids)),
        "classSourcedId": ("class", classes if "classes" in tables else None),
        "userSourcedId": ("user", user_ids),
    }
    for file in ("classes", "enrollments"):
        shown = unsaid = 0
        for number, row in tables.get(file, []):
            for column, (what, known) in targets.items():
                if known is None or column not in row:
                    continue
                for ref in _split(row[column]):
                    if ref in known:
                        continue
                    if shown < MAX_REFERENCE_WARNINGS:
                        feed.row_warning(f"{file}.csv", number, column, f"no {what} {ref} in the bundle; ignored.")
                        shown += 1
                    else:
                        unsaid += 1
        if unsaid:
            feed.warnings.append(f"{file}.csv: {unsaid} more references to what the bundle does not hold.")
