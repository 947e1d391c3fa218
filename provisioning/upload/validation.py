"""The upload's columns and the checks on one row, with no database access.

`row_clean` is a pure function (property-tested on hostile strings): it turns one row's cells into
clean text values and a list of problems, each naming the row, the column and the reason. What
needs the registry (already registered, username taken) is decided for the whole file at once in
provisioning.upload.services.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import PersonType
from accounts.permissions import BULK_NEVER_GRANTS
from accounts.services import email_domain_warning as check_email_domain
from accounts.services.names import UNSAFE_TEXT, UNSAFE_TEXT_MESSAGE, mis_code_problem, mis_code_text, year_key
from accounts.services.new_account import new_account_problems
from accounts.services.usernames import username_normalise


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    required: bool
    max_length: int
    aliases: tuple[str, ...]
    help: str


# Labels are the Users list's column headings (PRODUCT.md: User Name, Roles...), so the template and the list
# use the same words. Headers are matched ignoring case, spaces and punctuation (header_key), so "Username",
# "USER_NAME" and "User Name *" are all the User Name column; the aliases are the other names schools' own
# spreadsheets and MIS exports give the same column.
COLUMNS = (
    Column(
        "username",
        "User Name",
        False,
        150,
        ("login", "login name", "user id", "userid", "account", "account name"),
        "The name the person signs in with. Unique across Rollcall, ignoring case. Letters, digits and . @ + - _. "
        "Leave it blank, or leave the column out, and your username policy (Bulk User Synchronise) makes one, "
        "as the MIS sync does; the preview shows it. Staff may also sign in with their email.",
    ),
    Column(
        "given_name",
        "Given Names",
        True,
        150,
        (
            "given name",
            "first name",
            "firstname",
            "first names",
            "forename",
            "forenames",
            "legal forename",
            "preferred forename",
            "christian name",
        ),
        "The person's given (first) names.",
    ),
    Column(
        "family_name",
        "Family Name",
        True,
        150,
        ("surname", "last name", "lastname", "legal surname", "family names", "preferred surname"),
        "The person's family name (surname).",
    ),
    Column(
        "email",
        "Email",
        False,
        254,
        ("email address", "e-mail", "e-mail address", "mail", "work email", "school email"),
        "Required for staff; optional for students and contacts. Use centre email addresses where possible.",
    ),
    Column(
        "person_type",
        "Person Type",
        False,
        20,
        ("type", "user type", "person", "category"),
        "Student, Staff or Contact (a parent or carer). Blank means Staff.",
    ),
    Column(
        "roles",
        "Roles",
        False,
        200,
        ("role", "user role", "user roles", "role code"),
        "EO, SLT or INV (and any other role you may grant); several separated by commas. "
        "Give EO to people who will create and manage user accounts; INV only opens the Assessments area.",
    ),
    Column(
        "mis_code",
        "MIS Code",
        False,
        64,
        (
            "mis id",
            "misid",
            "mis",
            "admission number",
            "adno",
            "staff code",
            "external id",
            "person id",
            "sis code",
            "sis id",
            "student code",
            "pupil code",
        ),
        "The person's code in your MIS (admission number, staff code; also read from a column named SIS Code or "
        "Student Code). Unique per person type in your school. A UPN column is read as the UPN, never as the MIS "
        "code: a UPN follows the pupil from school to school and should not become a username.",
    ),
    Column(
        "year_group",
        "Year Group",
        False,
        20,
        ("year", "nc year", "ncyear", "year level"),
        "Students only, e.g. 7 or 12. Format the column as Text so Excel keeps it as typed.",
    ),
    Column(
        "form",
        "Form",
        False,
        40,
        ("registration group", "reg group", "tutor group", "form group", "class"),
        "Students only: registration group.",
    ),
    Column(
        "upn",
        "UPN",
        False,
        20,
        ("unique pupil number",),
        "Students only: the unique pupil number. Read as the UPN only (it matches a pupil who already has an "
        "account at another school), never as the MIS code or a username.",
    ),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
_SPECS = tuple((c.key, c.max_length, c.required) for c in COLUMNS)
REQUIRED_KEYS = tuple(c.key for c in COLUMNS if c.required)

PERSON_TYPES = {
    "student": PersonType.STUDENT, "pupil": PersonType.STUDENT, "learner": PersonType.STUDENT,
    "staff": PersonType.STAFF, "teacher": PersonType.STAFF, "employee": PersonType.STAFF,
    "contact": PersonType.CONTACT, "parent": PersonType.CONTACT, "carer": PersonType.CONTACT,
    "guardian": PersonType.CONTACT,
}  # fmt: skip
DEFAULT_ROLES = {PersonType.STUDENT: "student_portal", PersonType.CONTACT: "parent"}
SAMPLE_USERNAME = "sample.person"

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_CONTROL = UNSAFE_TEXT  # accounts' rule for names, on every cell: control and text-direction characters
_UPN = re.compile(r"^[A-Za-z0-9]+\Z")
_ROLE_SPLIT = re.compile(r"[,;/|]")
NEUTRALISED = ("=", "+", "-", "@")


# A dot-atom address on a plain DNS domain: a strict subset of what Django's EmailValidator accepts,
# checked without its lazily compiled patterns (10,000 rows). Anything else goes to Django's validator.
_PLAIN_EMAIL = re.compile(
    r"^[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)


def _email_valid(email: str) -> bool:
    if len(email) <= 254 and _PLAIN_EMAIL.match(email):
        return True
    try:
        validate_email(email)
    except ValidationError:
        return False
    return True


def header_key(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


_ALIASES = {header_key(c.label): c.key for c in COLUMNS} | {
    header_key(alias): c.key for c in COLUMNS for alias in (*c.aliases, c.key)
}


@dataclass(frozen=True)
class Problem:
    row: int
    column: str  # the column's label as the file spells it, or "" for the whole row
    message: str
    warning: bool = False

    def __str__(self):
        where = f"row {self.row}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class HeaderMap:
    positions: dict[str, int]  # column key -> 0-based index in the file
    labels: dict[str, str]  # column key -> the header as the file spells it
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)


def header_map(header: list[str]) -> HeaderMap:
    """Match the file's column names to ours, ignoring case, spaces, punctuation and the * marks."""
    positions, labels, ignored, duplicated = {}, {}, [], []
    for index, text in enumerate(header):
        key = _ALIASES.get(header_key(text))
        if key is None:
            if text:
                ignored.append(text)
        elif key in positions:
            duplicated.append(text)
        else:
            positions[key], labels[key] = index, text
    missing = [COLUMN_BY_KEY[k].label for k in REQUIRED_KEYS if k not in positions]
    return HeaderMap(positions, labels, ignored, missing, duplicated)


@dataclass(frozen=True)
class RowContext:
    """What every row is checked against: the school's roles and what this uploader may grant."""

    role_lookup: dict[str, str]  # lower-case code, short name or name -> role code
    role_labels: dict[str, str]  # role code -> short label (EO)
    grantable: frozenset[str]
    email_domains: tuple[str, ...] = ()
    year_groups: tuple[str, ...] = ()  # the school's year list (accounts.services.names); empty: not checked

    @cached_property
    def domains(self) -> SimpleNamespace:
        """Stands in for the school in accounts' email-domain rule, which reads only its domain list."""
        return SimpleNamespace(email_domain_list=list(self.email_domains))

    def grantable_labels(self) -> str:
        return ", ".join(self.role_labels[c] for c in self.role_labels if c in self.grantable) or "none"


def cell_text(value) -> tuple[str, str | None]:
    """A cell as text, or why it cannot be used. Whole numbers lose Excel's ".0" (MIS code 12345)."""
    if value is None:
        return "", None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[0] == "'" and text[1] in NEUTRALISED:
            text = text[1:]  # our own report's formula guard, uploaded again
        return text, None
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)), None
        return repr(value), None
    if isinstance(value, dt.date | dt.datetime | dt.time | dt.timedelta):
        return "", (
            "holds a date; Excel may have turned what you typed into one. "
            "Format the column as Text and type the value again"
        )
    return str(value).strip(), None


def row_clean(
    row_number: int, cells: dict[str, object], *, ctx: RowContext, labels: dict[str, str] | None = None
) -> tuple[dict[str, object], list[Problem]]:
    """One row's values, cleaned, and every problem found in it (errors and warnings)."""
    labels = labels or {}
    problems: list[Problem] = []
    clean: dict[str, object] = {}

    def problem(key: str, message: str, warning: bool = False) -> None:
        label = labels.get(key) or COLUMN_BY_KEY[key].label
        problems.append(Problem(row_number, label, message, warning))

    for key, max_length, required in _SPECS:
        value = cells.get(key)
        if value.__class__ is str and value[:1] != "'":  # the common case, without a call
            text = value.strip()
        else:
            text, refusal = cell_text(value)
            if refusal:
                problem(key, refusal)
                clean[key] = ""
                continue
        if not text:
            if required:
                problem(key, "is required")
        elif len(text) > max_length:
            problem(key, f"is {len(text)} characters long; the limit is {max_length}")
            text = ""
        clean[key] = text
    if _CONTROL.search("".join(clean.values())):  # one search for the whole row; then find the cells
        for key, text in clean.items():
            if _CONTROL.search(text):
                problem(key, UNSAFE_TEXT_MESSAGE)
                clean[key] = ""

    # The one spelling +Add, the API and both feed formats give a MIS code ("Ｓ１０３８" is S1038).
    clean["mis_code"] = mis_code_text(clean["mis_code"])
    if mis_code_problem(clean["mis_code"]):
        problem("mis_code", mis_code_problem(clean["mis_code"]))
        clean["mis_code"] = ""
    # The one spelling +Add, the API, sync and the admin give a username too (full-width letters folded...).
    username = clean["username"] = username_normalise(clean["username"])
    email = clean["email"]
    if email and not _email_valid(email):
        problem("email", f"{email} is not a valid email address")
        email = clean["email"] = ""
    type_text = clean["person_type"]
    person_type = PERSON_TYPES.get(type_text.lower()) if type_text else PersonType.STAFF
    if person_type is None:
        problem("person_type", f'"{type_text}" is not a person type; use Student, Staff or Contact')
    clean["person_type"] = person_type or ""
    # accounts' one definition of a valid new account (+Add and the API ask it too); a cell already refused
    # above (an unknown person type, a bad email) is not refused twice.
    shared = new_account_problems(username=username, person_type=clean["person_type"], email=email,
                                  given_name=clean["given_name"], family_name=clean["family_name"])  # fmt: skip
    for key, message in shared.items():
        if key == "person_type" or (key == "email" and _has_error(problems, labels, "email")):
            continue
        problem(key, message)
    if clean["year_group"] and ctx.year_groups:
        spelled = {year_key(y): y for y in ctx.year_groups}.get(year_key(clean["year_group"]))
        if spelled is None:
            problem("year_group", f"{clean['year_group']} is not one of your school's year groups")
        clean["year_group"] = spelled or ""
    if clean["upn"] and not _UPN.match(clean["upn"]):
        problem("upn", "may contain only letters and digits")
    clean["roles"] = _roles(clean["roles"], person_type, ctx, problem)
    if email and ctx.email_domains:
        # accounts' own rule (+Add uses it too): staff on another domain is a warning, never a refusal.
        warning = check_email_domain(school=ctx.domains, person_type=person_type or "", email=email)
        if warning:
            problem("email", warning, warning=True)
    return clean, problems


def _has_error(problems: list[Problem], labels: dict[str, str], key: str) -> bool:
    label = labels.get(key) or COLUMN_BY_KEY[key].label
    return any(p.column == label and not p.warning for p in problems)


def _roles(text: str, person_type, ctx: RowContext, problem) -> tuple[str, ...]:
    """Role codes named in the cell; each must exist and be one this uploader may grant in bulk."""
    if not text:
        default = DEFAULT_ROLES.get(person_type)
        return (default,) if default and default in ctx.grantable else ()
    codes = []
    for part in _ROLE_SPLIT.split(text):
        name = part.strip()
        if not name:
            continue
        code = ctx.role_lookup.get(name.lower())
        if code is None:
            problem("roles", f'"{name}" is not a role; use {ctx.grantable_labels()}')
        elif code in BULK_NEVER_GRANTS or code not in ctx.grantable:
            problem("roles", f"you may not grant {ctx.role_labels.get(code, name)} in an upload")
        elif code not in codes:
            codes.append(code)
    return tuple(codes)
