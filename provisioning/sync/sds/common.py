"""What both School Data Sync versions share: the files and columns of each, reading a file's rows by its
header, picking the school's own entries, the person rows' checks.
"""

import csv
import io
import re
import zipfile

from accounts.services.names import UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE, mis_code_problem
from provisioning.sync.feeds import ParsedFeed

SDS_V1, SDS_21 = "sds_v1", "sds_2.1"
# Files per version, as keys (lower case, no .csv): the required ones first, then those read, then those known
# but not used (ignored with a warning). Names are matched whatever their case.
V21_REQUIRED = ("orgs", "users", "roles")
V21_READ = ("relationships",)
V21_UNUSED = ("classes", "enrollments", "academicsessions", "courses", "demographics", "userflags")
V1_REQUIRED = ("school", "student", "teacher")
V1_READ = ("user", "guardianrelationship")
V1_UNUSED = ("section", "studentenrollment", "teacherroster")
V21_FILES = V21_REQUIRED + V21_READ + V21_UNUSED
V1_FILES = V1_REQUIRED + V1_READ + V1_UNUSED

# Roles of SDS's list of values that make a person staff. "alumni" is left out: a former student is not staff.
STAFF_ROLES = {
    "principal", "chair", "professor", "researcher", "adjunct", "affiliate", "occupationaltherapist",
    "physicaltherapist", "speechtherapist", "visiontherapist", "paraprofessional", "specialservices", "advisor",
    "proctor", "nurse", "officestaff", "lecturer", "itadmin", "administrator", "teacher", "faculty", "staff",
    "teacherassistant", "aide", "instructor", "substitute", "coach",
}  # fmt: skip
PARENT_ROLES = {"parent", "guardian"}  # only these give parent portal access
INACTIVE_WORDS = {"inactive", "left", "deleted", "tobedeleted", "disabled"}

# Columns per file: key -> the header spellings read for it (compared without case, spaces or underscores).
# "known" columns are SDS's own that Rollcall does not use: ignored quietly; any other column gets a warning.
V21_COLUMNS = {
    "orgs": {"read": {"sourcedId": ["sourcedId"], "name": ["name"], "type": ["type"],
                      "parentSourcedId": ["parentSourcedId"], "identifier": ["identifier"]},
             "required": ["sourcedId"], "known": []},
    "users": {"read": {"sourcedId": ["sourcedId"], "username": ["username"], "givenName": ["givenName"],
                       "familyName": ["familyName"], "email": ["email"]},
              "required": ["sourcedId", "givenName", "familyName"],
              "known": ["activeDirectoryMatchId", "phone", "sms", "middleName", "password"]},
    "roles": {"read": {"userSourcedId": ["userSourcedId"], "orgSourcedId": ["orgSourcedId"], "role": ["role"],
                       "grade": ["grade"], "roleStartDate": ["roleStartDate"], "roleEndDate": ["roleEndDate"]},
              "required": ["userSourcedId", "orgSourcedId", "role"], "known": ["sessionSourcedId", "isPrimary"]},
    "relationships": {"read": {"userSourcedId": ["userSourcedId"],
                               "relationshipUserSourcedId": ["relationshipUserSourcedId"],
                               "relationshipRole": ["relationshipRole"]},
                      "required": ["userSourcedId", "relationshipUserSourcedId", "relationshipRole"], "known": []},
}  # fmt: skip
V1_COLUMNS = {
    "school": {"read": {"DfE Number": ["DfE Number", "SIS ID"], "Name": ["Name"]}, "required": ["DfE Number"],
               "known": ["School Number", "School NCES_ID", "State ID", "Grade Low", "Grade High",
                         "Principal SIS ID", "Principal Name", "Principal Secondary Email", "Address", "City",
                         "State", "Country", "Postal Code", "Phone", "Zone"]},
    "student": {"read": {"ID": ["ID", "SIS ID"], "School DfE Number": ["School DfE Number", "School SIS ID"],
                         "First Name": ["First Name"], "Last Name": ["Last Name"], "Username": ["Username"],
                         "Grade": ["Grade"], "Status": ["Status"]},
                "required": ["ID", "School DfE Number", "First Name", "Last Name"],
                "known": ["Password", "State ID", "Secondary Email", "Student Number", "Middle Name", "Gender",
                          "Birthdate", "ELL Status", "FederalRace", "Graduation Year", "Mailing Address",
                          "Mailing City", "Mailing State", "Mailing Zip", "Mailing Latitude", "Mailing Longitude",
                          "Mailing Country", "Residence Address", "Residence City", "Residence State",
                          "Residence Zip", "Residence Latitude", "Residence Longitude", "Residence Country"]},
    "teacher": {"read": {"ID": ["ID", "SIS ID"], "School DfE Number": ["School DfE Number", "School SIS ID"],
                         "First Name": ["First Name"], "Last Name": ["Last Name"], "Username": ["Username"],
                         "Secondary Email": ["Secondary Email"], "Status": ["Status"]},
                "required": ["ID", "School DfE Number", "First Name", "Last Name"],
                "known": ["Password", "State ID", "Teacher Number", "Middle Name", "Title", "Qualification"]},
    "user": {"read": {"Email": ["Email"], "First Name": ["First Name"], "Last Name": ["Last Name"],
                      "SIS ID": ["SIS ID"]},
             "required": ["Email", "First Name", "Last Name"], "known": ["Phone"]},
    "guardianrelationship": {"read": {"SIS ID": ["SIS ID"], "Email": ["Email"], "Role": ["Role"]},
                             "required": ["SIS ID", "Email"], "known": []},
}  # fmt: skip


def header_key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name or "").lstrip("\ufeff")).lower()


def ident(text: str) -> str:
    """A DfE number or URN as compared: 823/4567, 823-4567 and 8234567 are one number."""
    return re.sub(r"[^0-9a-z]", "", (text or "").lower())


class Tables:
    """The bundle's CSV files by key, each with the name it was sent under (errors name that file)."""

    def __init__(self, content: bytes):
        self.files: dict[str, tuple[str, list[list[str]]]] = {}
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base.lower().endswith(".csv") and not info.is_dir():
                    data = archive.read(info)
                    try:
                        text = data.decode("utf-8-sig")
                    except UnicodeDecodeError:
                        text = data.decode("cp1252", errors="replace")
                    self.files[base[:-4].lower()] = (base, list(csv.reader(io.StringIO(text))))

    def name(self, key: str) -> str:
        return self.files[key][0] if key in self.files else f"{key}.csv"

    def read(self, feed: ParsedFeed, key: str, spec: dict, version: str) -> list[tuple[int, dict]] | None:
        """Rows as (row number, {column key: text}); None when the file is absent, [] when it is refused."""
        if key not in self.files:
            return None
        file, table = self.files[key]
        header = table[0] if table else []
        # The first spelling of a column is the one meant: a School.csv with both "DfE Number" and "SIS ID" is
        # matched by its DfE Number, whichever comes first in the file (found by trying it).
        wanted = {
            header_key(spelling): (column, rank)
            for column, spellings in spec["read"].items()
            for rank, spelling in enumerate(spellings)
        }
        known = {header_key(k) for k in spec["known"]}
        index, ranks, unknown = {}, {}, []
        for i, name in enumerate(header):
            column, rank = wanted.get(header_key(name), (None, 0))
            if column is not None:
                if column not in index or rank < ranks[column]:
                    index[column], ranks[column] = i, rank
            elif header_key(name) and header_key(name) not in known:
                unknown.append(name.strip())
        if unknown:
            feed.warnings.append(f"{file}: {_listing(unknown)} not part of School Data Sync {version}, ignored.")
        missing = [c for c in spec["required"] if c not in index]
        for column in missing:
            feed.refuse(file, 1, column, f"The required column {column} is missing.")
        if missing:
            return []
        rows = []
        for number, row in enumerate(table[1:], start=2):
            if any(cell.strip() for cell in row):
                rows.append((number, {c: (row[i].strip() if i < len(row) else "") for c, i in index.items()}))
        return rows


def _listing(columns: list[str]) -> str:
    names = ", ".join(repr(c) for c in columns)
    return f"column {names} is" if len(columns) == 1 else f"columns {names} are"


def refuse_missing_files(feed: ParsedFeed, tables: Tables, required: tuple, title: str) -> bool:
    found = ", ".join(sorted(name for name, _ in tables.files.values())) or "no CSV files"
    expected = ", ".join(f"{k}.csv" for k in required)
    missing = [k for k in required if k not in tables.files]
    for key in missing:
        feed.refuse(f"{key}.csv", None, "", f"The file is missing. A {title} export needs {expected}; "
                                            f"this one has {found}.")  # fmt: skip
    return bool(missing)


def warn_unused_files(feed: ParsedFeed, tables: Tables, known: tuple, unused: tuple, version: str) -> None:
    for key, (name, _) in sorted(tables.files.items()):
        if key in unused:
            feed.warnings.append(f"{name}: classes and other School Data Sync data are not synchronised; ignored.")
        elif key not in known:
            feed.warnings.append(f"{name}: not part of School Data Sync {version}, ignored.")


def year_group(grade: str) -> str:
    """SDS grades as year groups: "Year 7", "Y07" and "07" are 7; "Reception" is R."""
    text = re.sub(r"^(year|yr|y)\s*", "", grade.strip(), flags=re.IGNORECASE)
    if text.lower() == "reception":
        return "R"
    return (text.lstrip("0") or text)[:20]


def relationship_label(role: str) -> str:
    """emergencyContact -> Emergency contact: the link's relationship as the school reads it."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", role.strip()).lower()
    return words[:1].upper() + words[1:40]


def person_problems(feed, file, number, *, code, code_column, given, family, name_column, email, email_column):
    """Errors of one person row (each names the SDS column); True when there were any."""
    before = feed.error_total
    if not code:
        feed.error(file, number, code_column, "The MIS code is empty.")
    elif mis_code_problem(code):
        feed.error(file, number, code_column, f"The MIS code {mis_code_problem(code)}.")
    elif len(code) > 64:
        feed.error(file, number, code_column, "The MIS code is longer than 64 characters.")
    if email and ("@" not in email or " " in email or len(email) > 254):
        feed.error(file, number, email_column, f"{email!r} is not an email address.")
    if len(given) > 150 or len(family) > 150:
        feed.error(file, number, name_column, "A name is longer than 150 characters.")
    if UNSAFE_TEXT.search(given) or UNSAFE_TEXT.search(family):
        feed.error(file, number, name_column, f"A name {UNSAFE_TEXT_MESSAGE}.")
    return feed.error_total != before


def deferred_problems(feed: ParsedFeed, file, number, **checks) -> list[dict]:
    """A person row's errors, kept to be reported only if the person turns out to be the school's: an export
    listing several schools must not show this school the other schools' mistakes."""
    scratch = ParsedFeed(file_format=feed.file_format)
    person_problems(scratch, file, number, **checks)
    return scratch.errors


def report(feed: ParsedFeed, problems: list[dict]) -> None:
    for problem in problems:
        feed.error(problem["file"], problem["row"], problem["column"], problem["message"])
    problems.clear()  # a person with two memberships is reported once


def person_row(code, given, family, email, *, year="", active=True, portal=False, row=0) -> dict:
    return {"mis_code": code, "upn": "", "given_name": given, "family_name": family, "email": email,
            "year_group": year, "form": "", "portal_access": portal, "active": active, "roles": [],
            "row": row}  # fmt: skip


def as_email(text: str) -> str:
    """SDS usernames are often the person's Microsoft 365 address: used as the email when they look like one."""
    return text if "@" in text else ""


def pick_schools(feed, file, rows, *, id_column, org_identifier, label, candidates=None) -> set[str] | None:
    """The ids (as sent) of the school's own entries among `rows`, matched on the school's URN / DfE number;
    without a match, the only one of `candidates` (the rows that are schools); None (refused) when the school
    cannot be told apart."""
    key = ident(org_identifier)
    ours = {row[id_column] for _, row in rows if key and ident(row[id_column]) == key}
    ours |= {row[id_column] for _, row in rows if key and ident(row.get("identifier", "")) == key}
    if ours:
        return ours
    rows = rows if candidates is None else candidates
    listed = [_school_label(row, id_column) for _, row in rows]
    if len(rows) == 1 and not org_identifier:
        return {rows[0][1][id_column]}  # a one-school export, for a school whose number Rollcall does not hold
    if not rows:
        feed.refuse(file, None, id_column, "The file lists no school.")
        return None
    if org_identifier:
        why = f"none has this school's URN / DfE number, {org_identifier}, as its {label}"
    else:
        why = "this school has no URN / DfE number in Rollcall to pick its own (support staff can set it)"
    shown = ", ".join(listed[:10]) + (" and more" if len(listed) > 10 else "")
    feed.refuse(file, None, id_column, f"The file lists {shown}, but {why}: nothing is read from it, so that "
                                       "another school's people are never synchronised here.")  # fmt: skip
    return None


def _school_label(row: dict, id_column: str) -> str:
    name = row.get("name") or row.get("Name")
    return f"{row[id_column]} ({name})" if name else row[id_column]
