"""OneRoster 1.1 and 1.2 as vendors write them: blank optional cells, several roles, agents that are not
parents, misspelt headers and manifest keys, references to what the bundle does not hold, extension columns."""

import io
import zipfile

import pytest

from accounts.models import ContactLink, Membership, RoleAssignment
from provisioning.sync.feeds import parse_feed
from tests.provisioning.sync_helpers import receive, run_sync

pytestmark = pytest.mark.django_db

ORGS = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\no1,,,Alder Academy,school,100001,\n"
USERS_12_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
)
ROLES_HEADER = (
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId\n"
)


def bundle(users: str, *, version="1.2", roles: str | None = None, mode="bulk", manifest=(), extra=None) -> bytes:
    lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}", f"file.users,{mode}",
             "file.orgs,bulk", *manifest]  # fmt: skip
    if roles is not None:
        lines.append(f"file.roles,{mode}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", "\n".join(lines) + "\n")
        archive.writestr("orgs.csv", ORGS)
        archive.writestr("users.csv", users)
        if roles is not None:
            archive.writestr("roles.csv", roles)
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def user(sid, given, family, code, *, email="", agents="", grades="", status="", modified="") -> str:
    return f'{sid},{status},{modified},,,,{given},{family},,{code},{email},,,"{agents}",{grades},,,,,,,o1,\n'


def role(sid, user_sid, name, role_type="primary") -> str:
    return f"{sid},,,{user_sid},{role_type},{name},,,o1,\n"


@pytest.fixture
def school(school_a):
    school_a.urn = "100001"
    school_a.save()
    return school_a


def _member(school, code, person_type):
    return Membership.objects.get(school=school, mis_code=code, person_type=person_type)


def test_a_bulk_file_with_blank_status_dates_and_optional_cells_is_read(school):
    """Blank status, dateLastModified, enabledUser, grades, email: a bulk file need not fill them."""
    users_11 = (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        "u1,,,,o1,student,,,Ann,Adams,,S1,,,,,,\n"
        "t1,,,,o1,teacher,,,Tom,Brown,,T1,tom@alder.sch.uk,,,,,\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", "propertyName,value\noneroster.version,1.1\nfile.users,bulk\nfile.orgs,bulk\n")
        archive.writestr("orgs.csv", ORGS)
        archive.writestr("users.csv", users_11)
    run = run_sync(school, out.getvalue())
    assert run.feed.errors == [] and run.counts["create"] == 2
    assert _member(school, "S1", "student").status == "active" and _member(school, "S1", "student").year_group == ""


def test_a_teacher_who_is_also_a_guardian_gets_a_staff_and_a_contact_membership_on_one_account(school):
    users = (
        USERS_12_HEADER
        + user("u1", "Zoë", "Adams", "S1", grades="07")
        + user("t1", "Ann", "Adams", "T1", email="ann@alder.sch.uk", agents="u1")
    )
    roles = (
        ROLES_HEADER
        + role("r1", "u1", "student")
        + role("r2", "t1", "teacher")
        + role("r3", "t1", "guardian", "secondary")
    )
    run = run_sync(school, bundle(users, roles=roles))
    assert run.counts == {"create": 3, "link_create": 1}
    staff, guardian = _member(school, "T1", "staff"), _member(school, "T1", "contact")
    assert staff.account_id == guardian.account_id
    assert RoleAssignment.objects.filter(membership=guardian, role_id="parent").exists()
    link = ContactLink.objects.get(school=school)
    assert (link.contact, link.student.mis_code, link.relationship) == (guardian, "S1", "Guardian")
    again = run_sync(school, bundle(users, roles=roles), apply=False)
    assert again.counts == {"unchanged": 3, "link_unchanged": 1}


def test_a_guardian_role_added_to_a_teacher_held_already_joins_their_account(school):
    teacher = user("t1", "Ann", "Adams", "T1", email="ann@alder.sch.uk", agents="u1")
    users = USERS_12_HEADER + user("u1", "Zoë", "Adams", "S1") + teacher
    roles = ROLES_HEADER + role("r1", "u1", "student") + role("r2", "t1", "teacher")
    run_sync(school, bundle(users, roles=roles))
    run = run_sync(school, bundle(users, roles=roles + role("r3", "t1", "guardian")))
    assert run.counts["create"] == 1 and run.counts["link_create"] == 1
    assert _member(school, "T1", "contact").account_id == _member(school, "T1", "staff").account_id


def test_a_person_with_no_primary_role_is_read_from_their_other_roles(school):
    users = USERS_12_HEADER + user("t1", "Ann", "Smith", "T1", email="ann@alder.sch.uk")
    run = run_sync(school, bundle(users, roles=ROLES_HEADER + role("r1", "t1", "teacher", "secondary")))
    assert run.counts["create"] == 1 and _member(school, "T1", "staff").status == "active"
    assert any("t1 has no primary role" in w for w in run.feed.warnings)


def test_only_parents_and_guardians_are_linked_with_parent_access(school):
    users = USERS_12_HEADER + (
        user("u1", "Zoë", "Adams", "S1", agents="p1,g1,r1,a1")
        + user("p1", "Pat", "Adams", "C1", email="pat@example.org")
        + user("g1", "Gus", "Grey", "C2")
        + user("r1", "Rita", "Adams", "C3")
        + user("a1", "Al", "Aide", "T9", email="al@alder.sch.uk")
    )
    roles = ROLES_HEADER + (
        role("x1", "u1", "student") + role("x2", "p1", "parent") + role("x3", "g1", "guardian")
        + role("x4", "r1", "relative") + role("x5", "a1", "aide")
    )  # fmt: skip
    run = run_sync(school, bundle(users, roles=roles))
    links = ContactLink.objects.filter(school=school).order_by("contact__mis_code")
    assert [(x.contact.mis_code, x.relationship) for x in links] == [("C1", "Parent"), ("C2", "Guardian")]
    assert not Membership.objects.filter(school=school, mis_code="C3").exists()
    assert _member(school, "T9", "staff").status == "active"  # an aide is staff, never a parent
    warnings = run.feed.warnings
    assert any("r1 is a relative: only parents and guardians get parent access" in w for w in warnings)
    assert any(w.startswith("u1 -> a1: only parents and guardians are linked") for w in warnings)


def test_unknown_or_misspelt_headers_and_manifest_keys_are_named_in_warnings(school):
    users = USERS_12_HEADER.replace("email,", "emial,").replace("\n", ",favouriteColour\n") + user(
        "u1", "Zoë", "Adams", "S1"
    ).replace("\n", ",blue\n")
    feed = receive(school, bundle(users, roles=ROLES_HEADER + role("r1", "u1", "student"),
                                  manifest=["file.enrolments,absent", "source.systemName,Vendor SIS"]))  # fmt: skip
    assert feed.state == "valid" and feed.errors == []
    assert "users.csv: column 'emial' is not part of OneRoster, ignored. Did you mean email?" in feed.warnings
    assert "users.csv: column 'favouriteColour' is not part of OneRoster, ignored." in feed.warnings
    assert any("'file.enrolments' is not a OneRoster manifest key" in w and "file.enrollments" in w
               for w in feed.warnings)  # fmt: skip
    assert not any("systemname" in w for w in feed.warnings)


def test_a_misspelt_required_header_refuses_the_bundle_and_says_which(school):
    users = USERS_12_HEADER.replace("givenName", "givenNmae") + user("u1", "Zoë", "Adams", "S1")
    feed = receive(school, bundle(users, roles=ROLES_HEADER + role("r1", "u1", "student")))
    assert feed.state == "rejected"
    assert feed.errors[0]["message"] == "The required column givenName is missing."
    assert any("'givenNmae'" in w and "Did you mean givenName?" in w for w in feed.warnings)


def test_references_to_orgs_sessions_or_courses_not_in_the_bundle_are_warnings_on_their_row(school):
    classes = (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
        "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
        "c1,,,Maths 7,07,co1,M7,scheduled,,o1,t1,,,\n"
        'c2,,,Art 7,07,co404,A7,scheduled,,o404,"t1,t404",,,\n'
    )
    extra = {
        "classes.csv": classes,
        "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId\n"
        "co1,,,,Maths,M,,o1\n",
        "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
        "schoolYear\nt1,,,Autumn,term,2025-09-01,2025-12-19,,2026\n",
    }
    users = USERS_12_HEADER + user("u1", "Zoë", "Adams", "S1")
    roles = ROLES_HEADER + role("r1", "u1", "student") + "r2,,,u1,secondary,student,,,o404,\n"
    manifest = ["file.classes,bulk", "file.courses,bulk", "file.academicSessions,bulk"]
    run = run_sync(school, bundle(users, roles=roles, manifest=manifest, extra=extra))
    assert run.feed.errors == [] and run.counts["create"] == 1
    warnings = run.feed.warnings
    assert "classes.csv row 3, courseSourcedId: no course co404 in the bundle; ignored." in warnings
    assert "classes.csv row 3, schoolSourcedId: no org o404 in the bundle; ignored." in warnings
    assert "classes.csv row 3, termSourcedIds: no academic session t404 in the bundle; ignored." in warnings
    assert "roles.csv row 3, orgSourcedId: no org o404 in orgs.csv." in warnings
    assert not any("row 2" in w and "classes.csv" in w for w in warnings)


def test_user_ids_and_metadata_columns_are_kept_or_ignored_never_an_error(school):
    header = USERS_12_HEADER.replace("\n", ",metadata.sis.house,metadata.ext.pronoun\n")
    row = 'u1,,,true,,"{LDAP:12},{Fed:23}",Zoë,Adams,,S1,,,,,07,,,,,,,o1,,Red,"she,her"\n'
    parsed = parse_feed(bundle(header + row, roles=ROLES_HEADER + role("r1", "u1", "student")))
    assert parsed.ok and parsed.errors == [] and parsed.warnings == []
    assert parsed.people["student"][0]["user_ids"] == [("LDAP", "12"), ("Fed", "23")]


def test_a_12_delta_removes_only_tobedeleted_and_leaves_out_a_bad_row(school):
    users = USERS_12_HEADER + user("u1", "Zoë", "Adams", "S1") + user("t1", "Ann", "Smith", "T1",
                                                                        email="ann@alder.sch.uk")  # fmt: skip
    roles = ROLES_HEADER + role("r1", "u1", "student") + role("r2", "t1", "teacher")
    run_sync(school, bundle(users, roles=roles), student_grace_days=0)
    delta_users = (
        USERS_12_HEADER
        + user("u1", "Zoë", "Adams", "S1", status="tobedeleted")
        + user("t1", "Ann", "Smith", "T1", email="not an address")
    )
    run = run_sync(school, bundle(delta_users, roles=roles, mode="delta"))
    assert run.counts["archive"] == 1 and _member(school, "S1", "student").status == "archived"
    assert _member(school, "T1", "staff").account.email == "ann@alder.sch.uk"
    assert [(e["row"], e["column"]) for e in run.feed.errors] == [(3, "email")]
