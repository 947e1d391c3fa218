"""School Data Sync v1, the "UK format": School.csv, Student.csv and Teacher.csv keyed by DfE number, and
SDS v1's parent and guardian files, user.csv and guardianrelationship.csv.

The school's own rows are those whose School DfE Number is its URN / DfE number. The MIS code is the ID
column; a guardian's is their SIS ID, or their email when user.csv gives none (SDS v1 matches guardians on
email). Username is used as the email when it is an address; staff without one fall back on Secondary Email.
"""

from accounts.services.names import mis_code_text
from provisioning.sync.feeds import ParsedFeed
from provisioning.sync.sds.common import (
    INACTIVE_WORDS,
    PARENT_ROLES,
    V1_COLUMNS,
    V1_FILES,
    V1_READ,
    V1_REQUIRED,
    V1_UNUSED,
    Tables,
    as_email,
    deferred_problems,
    ident,
    person_problems,
    person_row,
    pick_schools,
    refuse_missing_files,
    relationship_label,
    report,
    warn_unused_files,
    year_group,
)


def read_v1(feed: ParsedFeed, tables: Tables, *, org_identifier: str) -> None:
    if refuse_missing_files(feed, tables, V1_REQUIRED, "School Data Sync v1"):
        return
    warn_unused_files(feed, tables, V1_FILES, V1_UNUSED, "v1")
    sent = [key for key in V1_READ if key in tables.files]
    if len(sent) == 1:
        lacking = next(key for key in V1_READ if key not in sent)
        feed.refuse(f"{lacking}.csv", None, "", f"The file is missing: guardians are read from user.csv and "
                                                f"guardianrelationship.csv together, and only {tables.name(sent[0])} "
                                                "was sent.")  # fmt: skip
        return
    guardians = bool(sent)
    feed.modes.update(student="bulk", staff="bulk", contact="bulk" if guardians else "absent",
                      link="bulk" if guardians else "absent")  # fmt: skip
    keys = V1_REQUIRED + (V1_READ if guardians else ())
    read = {key: tables.read(feed, key, V1_COLUMNS[key], "v1") for key in keys}
    if feed.structural_total:
        return
    ours = pick_schools(feed, tables.name("school"), read["school"], id_column="DfE Number",
                        org_identifier=org_identifier, label="DfE Number")  # fmt: skip
    if ours is None:
        return
    ours = {ident(number) for number in ours}
    known = {ident(row["DfE Number"]) for _, row in read["school"]}
    students, everywhere = _members(feed, tables.name("student"), read["student"], "student", ours, known)
    _members(feed, tables.name("teacher"), read["teacher"], "staff", ours, known)
    if guardians:
        contacts = _guardian_users(feed, tables.name("user"), read["user"])
        _guardian_links(feed, tables.name("guardianrelationship"), read["guardianrelationship"], contacts, students,
                        everywhere)  # fmt: skip


def _members(feed, file, rows, kind: str, ours: set[str], known: set[str]) -> tuple[set[str], set[str]]:
    """The school's students or teachers; returns (their MIS codes, listed or kept, every code in the file)."""
    seen: dict[str, int] = {}
    codes, everywhere = set(), set()
    for number, row in rows:
        code = mis_code_text(row["ID"])
        everywhere.add(code)
        school = ident(row["School DfE Number"])
        if school not in ours:
            if school not in known:
                feed.warnings.append(f"{file} row {number}: school {row['School DfE Number']!r} is not in "
                                     "School.csv; the row is ignored.")  # fmt: skip
            continue
        username = row.get("Username", "")
        email = as_email(username) or (row.get("Secondary Email", "") if kind == "staff" else "")
        bad = person_problems(feed, file, number, code=code, code_column="ID", given=row["First Name"],
                              family=row["Last Name"], name_column="First Name", email=email,
                              email_column="Username" if as_email(username) else "Secondary Email")  # fmt: skip
        status = row.get("Status", "").lower()
        if status and status != "active" and status not in INACTIVE_WORDS:
            feed.error(file, number, "Status", "Use Active or Inactive.")
            bad = True
        if code in seen:
            feed.error(file, number, "ID", f"ID {code} is also on row {seen[code]}.")
            continue
        if not code:
            continue
        seen[code] = number
        codes.add(code)
        if bad:
            feed.reject(kind, code)
            continue
        if kind == "staff" and not email:
            feed.error(file, number, "Username", "Email is required for staff: give the Username as an email "
                                                 "address, or a Secondary Email.")  # fmt: skip
            feed.reject(kind, code)
            continue
        year = year_group(row.get("Grade", "")) if kind == "student" else ""
        feed.people.setdefault(kind, []).append(person_row(code, row["First Name"], row["Last Name"], email,
                                                           year=year, active=status not in INACTIVE_WORDS,
                                                           row=number))  # fmt: skip
    return codes, everywhere


def _guardian_users(feed, file, rows) -> dict[str, dict]:
    """user.csv by email (lower case): SDS v1 ties guardians to students by their email."""
    found: dict[str, dict] = {}
    for number, row in rows:
        email = row["Email"]
        if not email:
            feed.error(file, number, "Email", "The email is empty: guardians are matched on it.")
            continue
        code = mis_code_text(row.get("SIS ID", "")) or email.lower()
        problems = deferred_problems(feed, file, number, code=code, given=row["First Name"],
                                     code_column="SIS ID" if row.get("SIS ID") else "Email",
                                     family=row["Last Name"], name_column="First Name", email=email,
                                     email_column="Email")  # fmt: skip
        if email.lower() in found:
            feed.error(file, number, "Email", f"{email} is also on row {found[email.lower()]['row']}.")
            continue
        found[email.lower()] = {"code": code, "given": row["First Name"], "family": row["Last Name"],
                                "email": email, "row": number, "bad": bool(problems), "problems": problems}  # fmt: skip
    return found


def _guardian_links(feed, file, rows, guardians, students: set[str], everywhere: set[str]) -> None:
    """The school's students' guardians and links; only parents and guardians get parent portal access."""
    links: dict[tuple[str, str], dict] = {}
    by_code: dict[str, dict] = {}
    without_role = 0
    for number, row in rows:
        student, email, role = mis_code_text(row["SIS ID"]), row["Email"].lower(), row.get("Role", "")
        if student not in students:
            if student not in everywhere:
                feed.warnings.append(f"{file} row {number}: no student with ID {student} in Student.csv; ignored.")
            continue  # another school's student
        guardian = guardians.get(email)
        if guardian is None:
            feed.warnings.append(f"{file} row {number}: no guardian with email {row['Email']} in user.csv; ignored.")
            continue
        without_role += not role
        by_code[guardian["code"]] = guardian
        link = links.setdefault((guardian["code"], student), {
            "contact_code": guardian["code"], "student_code": student,
            "relationship": relationship_label(role or "Other"), "portal_access": False,
        })  # fmt: skip
        link["portal_access"] = link["portal_access"] or role.strip().lower() in PARENT_ROLES
    if without_role:
        feed.warnings.append(f"{file}: {without_role} rows have no Role, read as Other: no parent portal access.")
    portal: dict[str, bool] = {}
    for (code, _), link in links.items():
        portal[code] = portal.get(code, False) or link["portal_access"]
    for code, guardian in sorted(by_code.items()):
        if guardian["bad"]:
            report(feed, guardian["problems"])
            feed.reject("contact", code)
            continue
        feed.people.setdefault("contact", []).append(person_row(code, guardian["given"], guardian["family"],
                                                                guardian["email"], portal=portal[code],
                                                                row=guardian["row"]))  # fmt: skip
    feed.links.extend(link for (code, _), link in sorted(links.items()) if not by_code[code]["bad"])
