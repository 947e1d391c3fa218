"""Reading a feed into one shape, whatever the MIS sent: Rollcall's export (CSV files in a zip, or one
.xlsx with a sheet per file) here, OneRoster bundles in oneroster.py, Microsoft School Data Sync exports in
sds/. detect_format tells them apart by the files they hold.

Every problem is reported against its file, row and column. A problem on one row (ParsedFeed.error) leaves
that row out and the rest of the feed goes on; the person whose row it was is kept as they are
(ParsedFeed.reject), never treated as gone. Only a problem with the feed itself (ParsedFeed.refuse: an
unreadable file, a required file or column missing, an empty file) refuses the whole feed. A column Rollcall
does not use never causes an error, at most a warning. docs/feed-rollcall.md says it for schools.
"""

import csv
import difflib
import io
import operator
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from accounts.services.names import UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE, mis_code_problem, mis_code_text
from provisioning.sync.feed_dates import ISO, FeedDateError, parse_feed_date

MAX_ERRORS = 1000
strip = str.strip
PERSON_FILES = {"students": "student", "staff": "staff", "contacts": "contact"}
LINK_FILE = "relationships"

# Columns of Rollcall's documented export (docs/feed-rollcall.md). The first of each list is required.
COLUMNS = {
    "students": {
        "required": ["mis_code", "given_name", "family_name"],
        "optional": ["upn", "email", "year_group", "form", "date_of_birth", "leaving_date", "inactive"],
    },
    "staff": {
        "required": ["mis_code", "given_name", "family_name", "email"],
        "optional": ["staff_roles", "leaving_date", "inactive"],
    },
    "contacts": {
        "required": ["mis_code", "given_name", "family_name"],
        "optional": ["email", "portal_access", "inactive"],
    },
    "relationships": {
        "required": ["contact_code", "student_code"],
        "optional": ["relationship", "portal_access"],
    },
}
HEADER_ALIASES = {
    "mis": "mis_code",
    "code": "mis_code",
    "sis_code": "mis_code",
    "given_names": "given_name",
    "first_name": "given_name",
    "forename": "given_name",
    "surname": "family_name",
    "last_name": "family_name",
    "year": "year_group",
    "year_level": "year_group",
    "registration_group": "form",
    "dob": "date_of_birth",
    "roles": "staff_roles",
    "parent_portal_access": "portal_access",
}
# A link naming a person whose own row was left out is not planned; the link held, if any, is kept.
REJECTED_END = "the {kind} {code}'s own row has errors, so this link is left as it is."
TRUE_WORDS = {"1", "y", "yes", "true", "t"}
FALSE_WORDS = {"", "0", "n", "no", "false", "f"}


@dataclass
class ParsedFeed:
    """People per person type, contact-student links, and per file whether it is a full snapshot."""

    file_format: str
    people: dict[str, list[dict]] = field(default_factory=dict)
    links: list[dict] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # student/staff/contact/link -> bulk|delta|absent
    errors: list[dict] = field(default_factory=list)
    error_total: int = 0
    warnings: list[str] = field(default_factory=list)
    # Person type -> MIS codes whose row was refused: such people are kept as they are, never archived.
    rejected: dict[str, set[str]] = field(default_factory=dict)
    structural_total: int = 0  # problems with the feed itself (file or required column missing, unreadable)

    def error(self, file: str, row: int | None, column: str, message: str) -> None:
        """A problem on one row: the row is left out, the rest of the feed goes on."""
        self.error_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"file": file, "row": row, "column": column, "message": message})

    def refuse(self, file: str, row: int | None, column: str, message: str) -> None:
        """A problem with the feed as a whole: nothing in it is planned."""
        self.structural_total += 1
        self.error(file, row, column, message)

    def reject(self, person_type: str, mis_code: str) -> None:
        """The row of this person was refused: keep them as they are rather than treat them as gone."""
        if mis_code:
            self.rejected.setdefault(person_type, set()).add(mis_code)

    def row_warning(self, file: str, row: int | None, column: str, message: str) -> None:
        """Something on a row that Rollcall does not use or could not follow: said, never an error."""
        where = f"{file} row {row}" if row else file
        self.warnings.append(f"{where}, {column}: {message}" if column else f"{where}: {message}")

    @property
    def ok(self) -> bool:
        """No structural problem: the feed plans, leaving out the rows with errors."""
        return self.structural_total == 0

    def row_counts(self) -> dict[str, int]:
        counts = {pt: len(rows) for pt, rows in self.people.items()}
        counts["link"] = len(self.links)
        return counts


class FeedUnreadable(ValueError):
    """The file is not any feed format we know: said in words, never a 500."""


def normalise_header(name) -> str:
    key = str(name or "").strip().lower().replace(" ", "_").replace("-", "_").lstrip("\ufeff")
    return HEADER_ALIASES.get(key, key)


def cell_text(value) -> str:
    """A cell as text: spreadsheets give numbers as floats (1234.0) and dates as dates."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def parse_bool(text: str) -> bool | None:
    low = text.lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    return None


def parse_iso_date(text: str) -> date | None:
    """YYYY-MM-DD (or YYYYMMDD) only: 03/04/2025 is ambiguous between countries, so it is refused, not guessed.
    Readers that know the school's "Dates in feeds" use feed_dates.parse_feed_date instead."""
    return parse_feed_date(text, ISO)


# What each zip format is recognised by (CSV file names, lower case, without .csv), for detect_format and its
# message when a zip is none of them. Rollcall's own export needs any one of its files.
ZIP_FORMATS = {
    "rollcall_csv": ("Rollcall's export", ("students", "staff", "contacts", "relationships"), ()),
    "sds_2.1": ("School Data Sync v2.1", ("orgs", "users", "roles", "relationships", "classes", "enrollments",
                                         "academicsessions", "courses", "demographics", "userflags"),
                ("orgs", "users", "roles")),
    "sds_v1": ("School Data Sync v1 (UK format)", ("school", "student", "teacher", "section", "studentenrollment",
                                                  "teacherroster", "user", "guardianrelationship"),
               ("school", "student", "teacher")),
}  # fmt: skip
EXPECTED = (
    "Rollcall reads: Rollcall's export (any of students.csv, staff.csv, contacts.csv, relationships.csv, or an "
    ".xlsx with those sheets); OneRoster 1.1 or 1.2 (manifest.csv with users.csv and orgs.csv); School Data Sync "
    "v2.1 (orgs.csv, users.csv, roles.csv, and relationships.csv for guardians); School Data Sync v1 in the UK "
    "format (School.csv, Student.csv, Teacher.csv, and user.csv with guardianrelationship.csv for guardians)."
)


def detect_format(name: str, content: bytes) -> str:
    """The feed's format from the names of the files it holds. A zip that is partly one format is that format
    (its reader names the files missing); one that matches none is refused, saying what it holds."""
    if content[:2] != b"PK":
        raise FeedUnreadable(f"The file is neither a .zip of CSV files nor an .xlsx workbook. {EXPECTED}")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [n for n in archive.namelist() if not n.endswith("/")]
            names = {n.rsplit("/", 1)[-1].lower() for n in members}
            if "[content_types].xml" in names and any(n.startswith("xl/") for n in archive.namelist()):
                return "rollcall_xlsx"
            if "manifest.csv" in names:
                from provisioning.sync.oneroster import manifest_version  # cycle: oneroster reads feeds' types

                return manifest_version(archive)
    except zipfile.BadZipFile as exc:
        raise FeedUnreadable("The file looks like a zip but cannot be opened.") from exc
    csvs = {n[:-4] for n in names if n.endswith(".csv")}
    found = {fmt: len(csvs & set(files)) for fmt, (_, files, _) in ZIP_FORMATS.items()}
    best = max(found, key=lambda fmt: found[fmt])  # ties go to the first: a lone relationships.csv is Rollcall's
    if found[best]:
        return best
    held = ", ".join(sorted(n.rsplit("/", 1)[-1] for n in members)[:20]) or "nothing"
    raise FeedUnreadable(f"The zip holds {held}, which is none of the formats Rollcall reads. {EXPECTED}")


def bundle_csv_files(files: dict[str, bytes]) -> bytes:
    """Several CSV files uploaded together become one zip, so a feed is always one stored file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name.rsplit("/", 1)[-1], data)
    return out.getvalue()


def parse_feed(
    content: bytes, *, name: str = "", today: date | None = None, org_identifier: str = "", date_order: str = ISO
) -> ParsedFeed:
    """org_identifier (the school's URN / DfE number) picks the school's own people out of a bundle that lists
    several schools; date_order (the policy's "Dates in feeds") is how 03/04/2012 is read."""
    file_format = detect_format(name, content)
    if file_format.startswith("oneroster"):
        from provisioning.sync.oneroster import parse_oneroster  # cycle: oneroster reads feeds' types

        return parse_oneroster(content, file_format=file_format, today=today, org_identifier=org_identifier,
                               date_order=date_order)  # fmt: skip
    if file_format.startswith("sds"):
        from provisioning.sync.sds import parse_sds  # cycle: sds reads feeds' types

        return parse_sds(content, file_format=file_format, today=today, org_identifier=org_identifier,
                         date_order=date_order)  # fmt: skip
    tables = _xlsx_tables(content) if file_format == "rollcall_xlsx" else _zip_csv_tables(content)
    return parse_rollcall_tables(tables, file_format=file_format, today=today, date_order=date_order)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _zip_csv_tables(content: bytes) -> dict[str, list[list[str]]]:
    tables = {}
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1].lower()
            if base.endswith(".csv"):
                tables[base[:-4]] = list(csv.reader(io.StringIO(_decode(archive.read(info)))))
    return tables


def _xlsx_tables(content: bytes) -> dict[str, list[list[str]]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception as exc:  # noqa: BLE001 - any reader error is the sender's file, said in words
        raise FeedUnreadable(f"The workbook cannot be read: {exc}") from exc
    tables = {}
    for sheet_name in workbook.sheet_names:
        rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        tables[sheet_name.strip().lower()] = [[cell_text(v) for v in row] for row in rows]
    return tables


def parse_rollcall_tables(
    tables: dict[str, list[list[str]]], *, file_format: str, today=None, date_order: str = ISO
) -> ParsedFeed:
    today = today or date.today()
    feed = ParsedFeed(file_format=file_format)
    known = set(PERSON_FILES) | {LINK_FILE}
    for extra in sorted(set(tables) - known):
        feed.warnings.append(f"{extra}: not part of the export, ignored.")
    if not known & set(tables):
        raise FeedUnreadable(
            "The feed has none of students, staff, contacts or relationships (as CSV files or sheets)."
        )
    for file_name, person_type in PERSON_FILES.items():
        if file_name not in tables:
            feed.modes[person_type] = "absent"
            continue
        feed.modes[person_type] = "bulk"
        feed.people[person_type] = read_people(feed, file_name, person_type, tables[file_name], today, date_order)
    if LINK_FILE in tables:
        feed.modes["link"] = "bulk"
        feed.links = read_links(feed, tables[LINK_FILE])
    else:
        feed.modes["link"] = "absent"
    return feed


def _columns(feed: ParsedFeed, file_name: str, header: list[str]) -> dict[str, int] | None:
    spec = COLUMNS[file_name]
    index = {}
    for i, name in enumerate(header):
        key = normalise_header(name)
        if key in index or not key:
            continue
        if key not in spec["required"] and key not in spec["optional"]:
            close = difflib.get_close_matches(key, spec["required"] + spec["optional"], n=1, cutoff=0.8)
            hint = f" Did you mean {close[0]}?" if close else ""
            feed.warnings.append(f"{file_name}: column {name!r} is not part of the export, ignored.{hint}")
            continue
        index[key] = i
    missing = [c for c in spec["required"] if c not in index]
    for column in missing:
        feed.refuse(file_name, 1, column, f"The required column {column} is missing.")
    return None if missing else index


PERSON_COLUMNS = ("mis_code", "upn", "given_name", "family_name", "email", "year_group", "form", "date_of_birth",
                  "leaving_date", "inactive", "portal_access", "staff_roles")  # fmt: skip


def read_people(
    feed: ParsedFeed, file_name: str, person_type: str, table: list[list[str]], today: date, date_order: str = ISO
) -> list[dict]:
    """Rows to people. Written for 100,000 rows a night: one itemgetter per row, checks only on non-empty cells."""
    if not table:
        feed.refuse(file_name, None, "", "The file is empty: it needs a header row.")
        return []
    index = _columns(feed, file_name, table[0])
    if index is None:
        return []
    width = len(table[0])
    pick = operator.itemgetter(*[index.get(c, width) for c in PERSON_COLUMNS])  # absent columns read the pad cell
    people, seen = [], {}
    staff = person_type == "staff"
    dates = _DatesRead(date_order)
    for number, row in enumerate(table[1:], start=2):
        if len(row) == width:
            row.append("")
        else:  # ragged: cut or pad to the header, then the pad cell absent columns read
            row = (row + [""] * width)[:width] + [""]
        code, upn, given, family, email, year, form, dob, leaving, inactive, portal, roles = map(strip, pick(row))
        if not (code or given or family or email or upn):
            if not "".join(row).strip():
                continue
        before = feed.error_total
        if not code.isascii():  # an ASCII code is as mis_code_text spells it once stripped, and has no problem
            code = mis_code_text(code)
        if not code:
            feed.error(file_name, number, "mis_code", "The MIS code is empty.")
        elif not code.isascii() and mis_code_problem(code):
            feed.error(file_name, number, "mis_code", f"The MIS code {mis_code_problem(code)}.")
        elif len(code) > 64:
            feed.error(file_name, number, "mis_code", "The MIS code is longer than 64 characters.")
        if email and ("@" not in email or " " in email or len(email) > 254):
            feed.error(file_name, number, "email", f"{email!r} is not an email address.")
        elif staff and not email:
            feed.error(file_name, number, "email", "Email is required for staff.")
        active = True
        if inactive:
            flag = parse_bool(inactive)
            if flag is None:
                feed.error(file_name, number, "inactive", "Use yes or no.")
            elif flag:
                active = False
        if leaving:
            when = dates.read(leaving)
            if isinstance(when, FeedDateError):
                feed.error(file_name, number, "leaving_date", str(when))
            elif when <= today:
                active = False
        if dob:  # read by no stage of the sync: a bad one is said, never held against the row
            when = dates.read(dob)
            if isinstance(when, FeedDateError):
                feed.row_warning(file_name, number, "date_of_birth", f"{when} Ignored.")
        portal_flag = parse_bool(portal) if portal else False
        if portal_flag is None:
            feed.error(file_name, number, "portal_access", "Use yes or no.")
        if len(given) > 150 or len(family) > 150:
            feed.error(file_name, number, "given_name", "A name is longer than 150 characters.")
        if not _plain(given) or not _plain(family):
            if UNSAFE_TEXT.search(given) or UNSAFE_TEXT.search(family):
                feed.error(file_name, number, "given_name", f"A name {UNSAFE_TEXT_MESSAGE}.")
        if feed.error_total != before:
            if code and not mis_code_problem(code):
                feed.reject(person_type, code)
            continue
        if code in seen:
            feed.error(file_name, number, "mis_code", f"MIS code {code} is also on row {seen[code]}.")
            continue
        seen[code] = number
        people.append({
            "mis_code": code,
            "upn": upn.upper()[:20],
            "given_name": given,
            "family_name": family,
            "email": email,
            "year_group": year[:20],
            "form": form[:40],
            "portal_access": portal_flag,
            "active": active,
            "roles": [r.strip() for r in roles.replace(";", ",").split(",") if r.strip()] if roles else [],
            "row": number,
        })  # fmt: skip
    return people


def _plain(text: str) -> bool:
    """Printable ASCII: nothing UNSAFE_TEXT could find (its ASCII characters are the controls, which
    isprintable() refuses), so a feed's 200,000 names are not each searched with it."""
    return text.isascii() and text.isprintable()


class _DatesRead:
    """parse_feed_date of each distinct text once (a school's 55,000 students have a few thousand birthdays):
    the date, or the FeedDateError saying why not."""

    def __init__(self, order: str):
        self.order, self.seen = order, {}

    def read(self, text: str) -> date | FeedDateError:
        found = self.seen.get(text)
        if found is None:
            try:
                found = parse_feed_date(text, self.order)
            except FeedDateError as exc:
                found = exc
            self.seen[text] = found
        return found


def read_links(feed: ParsedFeed, table: list[list[str]]) -> list[dict]:
    """Rows of the links file (header first) to contact links, each naming both ends by MIS code."""
    if not table:
        return []
    index = _columns(feed, LINK_FILE, table[0])
    if index is None:
        return []
    width = len(table[0])
    pick = operator.itemgetter(*[index.get(c, width) for c in ("contact_code", "student_code", "relationship",
                                                               "portal_access")])  # fmt: skip
    check_contacts, check_students = feed.modes.get("contact") == "bulk", feed.modes.get("student") == "bulk"
    contacts = {p["mis_code"] for p in feed.people.get("contact", [])}
    students = {p["mis_code"] for p in feed.people.get("student", [])}
    rejected_contacts, rejected_students = feed.rejected.get("contact", set()), feed.rejected.get("student", set())
    links, seen = [], set()
    for number, row in enumerate(table[1:], start=2):
        if len(row) == width:
            row.append("")
        else:  # ragged: cut or pad to the header, then the pad cell absent columns read
            row = (row + [""] * width)[:width] + [""]
        contact, student, relationship, portal_text = map(strip, pick(row))
        if not (contact.isascii() and student.isascii()):  # ASCII codes are as mis_code_text spells them
            contact, student = mis_code_text(contact), mis_code_text(student)
        if not (contact or student or relationship or portal_text):
            continue
        portal = parse_bool(portal_text) if portal_text else True
        problems = False
        if not contact:
            feed.error(LINK_FILE, number, "contact_code", "The contact code is empty.")
            problems = True
        elif contact in rejected_contacts:
            feed.row_warning(LINK_FILE, number, "contact_code", REJECTED_END.format(kind="contact", code=contact))
        elif check_contacts and contact not in contacts:
            feed.error(LINK_FILE, number, "contact_code", f"No contact with MIS code {contact} in this feed.")
            problems = True
        if not student:
            feed.error(LINK_FILE, number, "student_code", "The student code is empty.")
            problems = True
        elif student in rejected_students:
            feed.row_warning(LINK_FILE, number, "student_code", REJECTED_END.format(kind="student", code=student))
        elif check_students and student not in students:
            feed.error(LINK_FILE, number, "student_code", f"No student with MIS code {student} in this feed.")
            problems = True
        if portal is None:
            feed.error(LINK_FILE, number, "portal_access", "Use yes or no.")
            problems = True
        if problems or (contact, student) in seen:
            continue
        seen.add((contact, student))
        links.append({"contact_code": contact, "student_code": student, "relationship": relationship[:40],
                      "portal_access": portal})  # fmt: skip
    return links
