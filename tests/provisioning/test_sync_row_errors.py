"""One bad row never blocks a school: rows with errors are left out and reported, their people kept as they
are; only a feed that cannot be read as a whole is refused. Files written here in the shapes MIS send."""

import io
import zipfile

import pytest
from django.urls import reverse

from accounts.models import ContactLink, Membership
from provisioning.models import SyncRecord
from provisioning.sync.feeds import parse_feed
from tenancy import spreadsheets
from tests.provisioning.sync_helpers import (
    CONTACT_HEADER,
    LINK_HEADER,
    STAFF_HEADER,
    STUDENT_HEADER,
    contact,
    feed_zip,
    receive,
    run_sync,
    staff,
    student,
)

pytestmark = pytest.mark.django_db

ORGS = (
    "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    "o1,active,2025-01-01T00:00:00Z,Alder Academy,school,100001,\n"
)
USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
)


def users_11(teacher_email="ann@alder.sch.uk") -> str:
    return USERS_HEADER + (
        "u1,active,2025-01-01T00:00:00Z,true,o1,student,,,Zoë,Adams,,S1,,,,p1,07,\n"
        "u2,active,2025-01-01T00:00:00Z,true,o1,student,,,Bob,Jones,,S2,,,,,08,\n"
        f"t1,active,2025-01-01T00:00:00Z,true,o1,teacher,,,Ann,Smith,,T1,{teacher_email},,,,,\n"
        "t2,active,2025-01-01T00:00:00Z,true,o1,teacher,,,Tom,Brown,,T2,tom@alder.sch.uk,,,,,\n"
        "p1,active,2025-01-01T00:00:00Z,true,o1,parent,,,Pat,Adams,,C1,pat@example.org,,,u1,,\n"
    )


def one_roster(users: str, *, version="1.1", extra: dict | None = None, manifest: list[str] | None = None) -> bytes:
    lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}", "file.users,bulk",
             "file.orgs,bulk"] + (manifest or [])  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", "\n".join(lines) + "\n")
        archive.writestr("orgs.csv", ORGS)
        archive.writestr("users.csv", users)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def _school(school_a):
    school_a.urn = "100001"
    school_a.save()
    return school_a


def _status(school, code, person_type="staff"):
    return Membership.objects.get(school=school, mis_code=code, person_type=person_type).status


def _skipped(run) -> dict[tuple[str, str], str]:
    records = SyncRecord.objects.filter(school=run.school, run=run, outcome="skipped", entity="person")
    return {(r.person_type, r.mis_code): r.reason for r in records}


def test_a_teacher_without_email_leaves_out_that_teacher_and_creates_everyone_else(school_a):
    school = _school(school_a)
    run = run_sync(school, one_roster(users_11(teacher_email="")))
    assert run.state == "applied"
    assert run.feed.state == "valid"
    assert [(e["file"], e["row"], e["column"]) for e in run.feed.errors] == [("users.csv", 4, "email")]
    assert run.counts["create"] == 4 and run.counts["link_create"] == 1  # students, the other teacher, the parent
    assert not Membership.objects.filter(school=school, mis_code="T1").exists()
    assert "no account is made" in _skipped(run)[("staff", "T1")]


def test_a_teacher_held_already_whose_row_turns_bad_is_kept_as_they_are(school_a):
    school = _school(school_a)
    run_sync(school, one_roster(users_11()), staff_grace_days=0)
    run = run_sync(school, one_roster(users_11(teacher_email="")), staff_grace_days=0)
    assert run.state == "applied"
    assert _status(school, "T1") == "active"  # not archived as missing from the MIS
    assert Membership.objects.get(school=school, mis_code="T1").account.email == "ann@alder.sch.uk"
    assert "kept as they are" in _skipped(run)[("staff", "T1")]
    assert run.counts.get("archive", 0) == 0 and run.counts["unchanged"] == 4


def test_a_malformed_date_in_a_column_rollcall_does_not_use_is_no_error(school_a):
    rows = [student("S1"), [*student("S2")[:7], "31/02/2012", "", ""]]  # date_of_birth is not used by the sync
    run = run_sync(school_a, feed_zip(students=rows))
    assert run.feed.errors == [] and run.counts["create"] == 2
    assert any("students row 3, date_of_birth" in w for w in run.feed.warnings)
    modified = users_11().replace("u2,active,2025-01-01T00:00:00Z", "u2,active,last Tuesday")
    parsed = parse_feed(one_roster(modified))
    assert parsed.ok and parsed.errors == [] and len(parsed.people["student"]) == 2


def test_a_bad_row_in_a_rollcall_export_leaves_the_rest_and_keeps_that_person(school_a):
    run_sync(school_a, feed_zip(students=[student("S1"), student("S2", "Bob")]), student_grace_days=0)
    bad = feed_zip(students=[student("S1"), student("S2", "Bob", leaving="31/07/2026"), student("S3", "Cy")])
    run = run_sync(school_a, bad, student_grace_days=0)
    assert run.counts["create"] == 1 and run.counts.get("archive", 0) == 0
    assert _status(school_a, "S2", "student") == "active"
    [error] = run.feed.errors
    assert (error["file"], error["row"], error["column"]) == ("students", 3, "leaving_date")
    assert error["message"].startswith("'31/07/2026' is not a date as YYYY-MM-DD.")


def test_links_naming_a_person_left_out_are_kept_as_they_are(school_a):
    links = [["C1", "S1", "Mother", "yes"], ["C2", "S1", "Father", "yes"], ["C1", "S2", "Mother", "yes"]]
    students, contacts = [student("S1"), student("S2", "Bob")], [contact("C1"), contact("C2", "Sam")]
    run_sync(school_a, feed_zip(students=students, contacts=contacts, links=links), contact_grace_days=0)
    assert ContactLink.objects.filter(school=school_a).count() == 3
    bad_student = [student("S1"), student("S2", "Bob", leaving="soon")]
    bad_contact = [contact("C1"), contact("C2", "Sam", portal="maybe")]
    run = run_sync(school_a, feed_zip(students=bad_student, contacts=bad_contact, links=links), contact_grace_days=0)
    assert ContactLink.objects.filter(school=school_a).count() == 3  # C1-S2 and C2-S1 kept, not archived
    assert run.counts.get("link_archive", 0) == 0 and run.counts["link_skipped"] == 2
    assert any(w.startswith("relationships row 3, contact_code: the contact C2") for w in run.feed.warnings)
    assert any(w.startswith("relationships row 4, student_code: the student S2") for w in run.feed.warnings)
    assert _status(school_a, "C2", "contact") == "active"


def test_the_mass_change_guard_still_stops_a_run_with_rows_left_out(school_a):
    run_sync(school_a, feed_zip(students=[student(f"S{i}") for i in range(6)]), student_grace_days=0)
    rows = [student("S0", leaving="bad")]  # S1..S5 are gone: five leavers, over a threshold of 2
    run = run_sync(school_a, feed_zip(students=rows), guard_threshold=2)
    assert run.state == "needs_confirmation" and run.guard_count == 5
    assert _status(school_a, "S0", "student") == "active"


def test_the_rows_left_out_are_listed_on_the_preview_the_report_and_the_api(client, school_a, nominated_contact):
    run = run_sync(school_a, feed_zip(staff_rows=[staff("T1"), staff("T2", email="")]), apply=False)
    client.force_login(nominated_contact)
    page = client.get(reverse("sync_run_detail", args=[school_a.slug, run.pk])).content.decode()
    assert "1 row of the feed left out" in page and "Email is required for staff." in page
    report = client.get(reverse("sync_run_report", args=[school_a.slug, run.pk])).content.decode("utf-8-sig")
    assert "Row left out,staff,3,email,Email is required for staff." in report
    api = client.get(reverse("api_sync_run_detail", args=[school_a.slug, run.pk])).json()
    assert api["rows_left_out"] == [{"file": "staff", "row": 3, "column": "email",
                                     "message": "Email is required for staff."}]  # fmt: skip
    assert api["counts"]["create"] == 1


@pytest.mark.parametrize(
    "content, name, why",
    [
        (feed_zip(extra={"students.csv": "given_name,family_name\nAnn,Smith\n"}), "feed.zip", "required column"),
        (feed_zip(extra={"students.csv": ""}), "feed.zip", "file is empty"),
        (b"this is not a zip", "feed.zip", "neither a .zip"),
        (b"PK\x03\x04broken", "feed.zip", "cannot be opened"),
        (one_roster(USERS_HEADER.replace("givenName,", "")), "or.zip", "required column givenName"),
        (one_roster("", manifest=[]), "or.zip", "file is empty"),
        (one_roster(users_11(), version="1.2"), "or.zip", "roles.csv"),
    ],
)
def test_a_feed_that_cannot_be_read_as_a_whole_is_still_refused(school_a, content, name, why):
    feed = receive(school_a, content, name=name)
    assert feed.state == "rejected"
    assert any(why in e["message"] for e in feed.errors), feed.errors


def test_a_misspelt_required_column_of_the_rollcall_export_is_refused_and_named(school_a):
    feed = receive(school_a, feed_zip(extra={"students.csv": "mis_cdoe,given_name,family_name\nS1,Ann,Smith\n"}))
    assert feed.state == "rejected" and feed.errors[0]["message"] == "The required column mis_code is missing."
    assert "students: column 'mis_cdoe' is not part of the export, ignored. Did you mean mis_code?" in feed.warnings


def test_a_oneroster_manifest_naming_a_users_file_it_does_not_hold_is_refused(school_a):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", "propertyName,value\noneroster.version,1.1\nfile.users,bulk\n")
    feed = receive(school_a, out.getvalue())
    assert feed.state == "rejected" and "not in the bundle" in feed.errors[0]["message"]


# --- a second delivery of the same file plans no change, per format -------------------------------------


def _rollcall_rows():
    return {
        "students": [student("S1"), student("S2", "Bob", year="8", form="8B")],
        "staff_rows": [staff("T1"), staff("T2", "Ann")],
        "contacts": [contact("C1", email="pat@example.org")],
        "links": [["C1", "S1", "Mother", "yes"]],
    }


def _xlsx() -> bytes:
    book = spreadsheets.workbook()
    rows = _rollcall_rows()
    sheets = [
        ("students", STUDENT_HEADER, rows["students"]),
        ("staff", STAFF_HEADER, rows["staff_rows"]),
        ("contacts", CONTACT_HEADER, rows["contacts"]),
        ("relationships", LINK_HEADER, rows["links"]),
    ]
    book.remove(book.active)
    for title, header, body in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in body:
            sheet.append(row)
    return spreadsheets.xlsx_bytes(book)


ROLES_12 = (
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId\n"
    "r1,,,u1,primary,student,,,o1,\nr2,,,u2,primary,student,,,o1,\nr3,,,t1,primary,teacher,,,o1,\n"
    "r4,,,t2,primary,teacher,,,o1,\nr5,,,p1,primary,parent,,,o1,\n"
)
USERS_12 = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
    "u1,,,true,,,Zoë,Adams,,S1,,,,p1,07,,,,,,,o1,\n"
    "u2,,,true,,,Bob,Jones,,S2,,,,,08,,,,,,,o1,\n"
    "t1,,,true,,,Ann,Smith,,T1,ann@alder.sch.uk,,,,,,,,,,,o1,\n"
    "t2,,,true,,,Tom,Brown,,T2,tom@alder.sch.uk,,,,,,,,,,,o1,\n"
    "p1,,,true,,,Pat,Adams,,C1,pat@example.org,,,u1,,,,,,,,,\n"
)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: feed_zip(**_rollcall_rows()), "export.zip"),
        (_xlsx, "export.xlsx"),
        (lambda: one_roster(users_11()), "oneroster-11.zip"),
        (
            lambda: one_roster(USERS_12, version="1.2", manifest=["file.roles,bulk"], extra={"roles.csv": ROLES_12}),
            "oneroster-12.zip",
        ),
    ],
)
def test_a_second_delivery_of_the_same_feed_plans_no_change(school_a, build, name):
    school = _school(school_a)
    first = run_sync(school, build())
    assert first.state == "applied" and first.counts["create"] == 5 and first.counts["link_create"] == 1
    again = run_sync(school, build(), apply=False)
    assert again.counts == {"unchanged": 5, "link_unchanged": 1}
    assert not SyncRecord.objects.filter(school=school, run=again).exists()


def test_a_second_delivery_with_a_row_left_out_plans_only_its_skip_and_a_fixed_row_plans_again(school_a):
    content = feed_zip(students=[student("S1"), student("S2", "Bob", leaving="bad")], links=[["C9", "S2", "", ""]])
    first = run_sync(school_a, content)
    assert first.counts["create"] == 1
    again = run_sync(school_a, content, apply=False)  # the night after: planned in full, as the first
    assert again.counts == {"unchanged": 1, "skipped": 1, "link_skipped": 1}
    fixed = run_sync(school_a, feed_zip(students=[student("S1"), student("S2", "Bob")], links=[]))
    assert fixed.counts == {"unchanged": 1, "create": 1}
