"""Microsoft School Data Sync exports, v2.1 and v1 "UK format", hand-written in the shapes SDS documents
(mixed-case headers, a trust-wide export listing two schools, guardians, columns Rollcall does not use)."""

import io
import zipfile
from datetime import date

import pytest

from accounts.models import ContactLink, Membership
from provisioning.sync.feeds import FeedUnreadable, detect_format, parse_feed
from tests.provisioning.sync_helpers import receive, run_sync

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 15)

ORGS = (
    "sourcedId,name,type,parentSourcedId\n"
    "T1,Northfield Learning Trust,academicTrust,\n"
    "100001,Alder Academy,school,T1\n"
    "100002,Birch High,school,T1\n"
)
USERS = (
    "sourcedId,username,givenName,familyName,password,activeDirectoryMatchId,email,phone,sms\n"
    "s1,zodegard@alder.sch.uk,Zoë,Ødegård,Secret1,,,,\n"
    "s2,bjones@alder.sch.uk,Bob,Jones,Secret1,,,,\n"
    't1,asmith@alder.sch.uk,"Smith, Jr",Ann,,,ann@alder.sch.uk,,\n'
    "g1,pat@example.org,Pat,Ødegård,,,pat@example.org,07700900001,\n"
    "g2,,Rel,Ative,,,,,\n"
    "s9,other@birch.sch.uk,Other,School,,,,,\n"
    "g9,,Birch,Parent,,,birch.parent@example.org,,\n"
    "x1,,No,Role,,,,,\n"
)
ROLES = (
    "userSourcedId,orgSourcedId,role,sessionSourcedId,grade,isPrimary,roleStartDate,roleEndDate\n"
    "s1,100001,student,SY2526,07,TRUE,2025-09-01,2099-07-20\n"
    "s2,100001,student,SY2526,Year 8,TRUE,,\n"
    "t1,100001,teacher,SY2526,,TRUE,2025-09-01,\n"
    "t1,100002,teacher,SY2526,,FALSE,2025-09-01,\n"
    "s9,100002,student,SY2526,9,TRUE,,\n"
)
RELATIONSHIPS = (
    "userSourcedId,relationshipUserSourcedId,relationshipRole\n"
    "s1,g1,guardian\n"
    "s1,g2,relative\n"
    "s2,t1,parent\n"
    "s9,g9,guardian\n"
)
V21 = {"orgs.csv": ORGS, "users.csv": USERS, "roles.csv": ROLES, "relationships.csv": RELATIONSHIPS,
       "classes.csv": "sourcedId,orgSourcedId,title\nc1,100001,Maths\n"}  # fmt: skip

SCHOOL = "DfE Number,Name,School Number,Phone\n100001,Alder Academy,1,\n100002,Birch High,2,\n"
STUDENT = (
    "ID,School DFe Number,First Name,Last Name,Username,Password,Grade,Status,Birthdate,Favourite Colour\n"
    "13001,100001,Ora,Klein,oklein@alder.sch.uk,P@ss,Year 7,Active,4/2/2013,blue\n"
    "13002,100001,Noah,Gilbertson,NGilbertson,P@ss,8,Active,20/6/2012,\n"
    "13003,100001,Erna,Parker,EParker,P@ss,9,Inactive,,\n"
    "13061,100002,Sophia,Wilder,SWilder,P@ss,9,Active,,\n"
)
TEACHER = (
    "ID,School Dfe Number,First Name,Last Name,Username,Password,Teacher Number,Status,Secondary Email\n"
    "14001,100001,Craig,Beane,cbeane@alder.sch.uk,P@ss,101,Active,\n"
    "14002,100001,Daisy,Todd,DTodd,P@ss,102,Active,daisy.todd@alder.sch.uk\n"
    "14008,100002,Hope,Todd,HTodd,P@ss,108,Active,\n"
)
GUARDIANS = "Email,First Name,Last Name,Phone,SIS ID\nmum@example.org,Mary,Klein,,G1\ngran@example.org,Gina,Klein,,\n"
GUARDIAN_LINKS = (
    "SIS ID,Email,Role\n13001,mum@example.org,Parent\n13001,gran@example.org,Relative\n13061,mum@example.org,\n"
)
V1 = {"School.csv": SCHOOL, "Student.csv": STUDENT, "Teacher.csv": TEACHER,
      "Section.csv": "ID,School DfE Number,Section Name\n", "user.csv": GUARDIANS,
      "guardianrelationship.csv": GUARDIAN_LINKS}  # fmt: skip


def zipped(files: dict[str, str], folder: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in files.items():
            archive.writestr(folder + name, text)
    return out.getvalue()


def parsed(files, urn="100001", **kwargs):
    return parse_feed(zipped(files), name="sds.zip", org_identifier=urn, today=TODAY, **kwargs)


def people(feed, kind):
    return {p["mis_code"]: p for p in feed.people.get(kind, [])}


def links(feed):
    return {(link["contact_code"], link["student_code"]): (link["relationship"], link["portal_access"])
            for link in feed.links}  # fmt: skip


@pytest.fixture
def alder(school_a):
    school_a.urn = "100001"
    school_a.save()
    return school_a


# --- SDS v2.1 -------------------------------------------------------------------------------------------


def test_a_21_export_gives_the_schools_students_staff_and_guardians():
    feed = parsed(V21)
    assert feed.file_format == "sds_2.1" and feed.ok, feed.errors
    students = people(feed, "student")
    assert set(students) == {"s1", "s2"}  # s9 is Birch High's
    assert students["s1"]["year_group"] == "7" and students["s2"]["year_group"] == "8"
    assert students["s1"]["email"] == "zodegard@alder.sch.uk"  # the Microsoft 365 username is an address
    assert set(people(feed, "staff")) == {"t1"}
    contacts = people(feed, "contact")
    assert set(contacts) == {"g1", "g2", "t1"}  # no roles row, or staff who is also a parent here
    assert contacts["g1"]["portal_access"] and contacts["t1"]["portal_access"]
    assert not contacts["g2"]["portal_access"]  # a relative is linked, without parent portal access
    assert links(feed) == {("g1", "s1"): ("Guardian", True), ("g2", "s1"): ("Relative", False),
                           ("t1", "s2"): ("Parent", True)}  # fmt: skip
    assert feed.modes == {"student": "bulk", "staff": "bulk", "contact": "bulk", "link": "bulk"}
    assert any("classes.csv" in w for w in feed.warnings)
    assert any("2 people have no role" in w for w in feed.warnings)  # x1, and g9 of Birch High


def test_a_21_export_imports_and_a_second_delivery_plans_nothing(alder):
    content = zipped(V21)
    run = run_sync(alder, content, username_method="initial_surname")
    assert run.state == "applied"
    assert run.counts == {"create": 6, "link_create": 3}
    zoe = Membership.objects.get(school=alder, mis_code="s1", person_type="student")
    assert zoe.account.given_name == "Zoë" and zoe.year_group == "7"
    assert set(Membership.objects.filter(school=alder, mis_code="t1").values_list("person_type", flat=True)) == {
        "staff", "contact"}  # fmt: skip
    assert Membership.objects.get(school=alder, mis_code="g2").portal_access is False
    assert ContactLink.objects.filter(school=alder).count() == 3
    again = run_sync(alder, content, username_method="initial_surname")
    assert again.counts == {"unchanged": 6, "link_unchanged": 3}


def test_a_role_that_ended_makes_a_leaver_and_a_future_one_is_not_yet_read():
    ended = ROLES.replace("s2,100001,student,SY2526,Year 8,TRUE,,", "s2,100001,student,SY2526,8,TRUE,,2025-12-31")
    feed = parsed({**V21, "roles.csv": ended})
    assert "s2" not in people(feed, "student")  # missing from a full snapshot: archived by the plan
    assert ("t1", "s2") not in links(feed)  # no longer a student here: the parent link goes too
    later = ROLES.replace("2025-09-01,2099-07-20", "2099-09-01,")
    assert "s1" not in people(parsed({**V21, "roles.csv": later}), "student")


def test_the_school_is_found_by_its_urn_and_refused_when_it_cannot_be_told_apart():
    feed = parsed(V21, urn="")
    assert not feed.ok and feed.structural_total == 1
    assert feed.errors[0]["file"] == "orgs.csv" and "no URN / DfE number" in feed.errors[0]["message"]
    other = parsed(V21, urn="999999")
    assert "none has this school's URN / DfE number, 999999" in other.errors[0]["message"]
    one_school = ORGS.replace("100002,Birch High,school,T1\n", "")
    assert parsed({**V21, "orgs.csv": one_school}, urn="").ok  # a one-school export needs no number


def test_a_bad_21_row_is_left_out_and_its_person_kept():
    users = USERS.replace("s2,bjones@alder.sch.uk,Bob,Jones", "s2,bjones@alder.sch.uk,B\u202eob,Jones")
    users = users.replace("ann@alder.sch.uk", "ann at alder")
    users = users.replace("birch.parent@example.org", "birch parent")  # Birch High's mistake, not shown here
    feed = parsed({**V21, "users.csv": users})
    assert [(e["file"], e["row"], e["column"]) for e in feed.errors] == [("users.csv", 3, "givenName"),
                                                                       ("users.csv", 4, "email")]  # fmt: skip
    assert feed.structural_total == 0
    assert set(people(feed, "student")) == {"s1"} and people(feed, "staff") == {}
    assert feed.rejected == {"student": {"s2"}, "staff": {"t1"}, "contact": {"t1"}}
    assert set(people(feed, "contact")) == {"g1", "g2"}


def test_an_ambiguous_role_date_is_a_row_error_until_the_school_says_its_order():
    us_dates = ROLES.replace("2025-09-01,2099-07-20", "9/1/2025,07/03/2099")
    feed = parsed({**V21, "roles.csv": us_dates})
    assert [(e["file"], e["row"], e["column"]) for e in feed.errors] == [("roles.csv", 2, "roleStartDate"),
                                                                       ("roles.csv", 2, "roleEndDate")]  # fmt: skip
    assert "could be 9 January 2025 (day first) or 1 September 2025 (month first)" in feed.errors[0]["message"]
    assert "Dates in feeds" in feed.errors[0]["message"]
    assert feed.rejected == {"student": {"s1"}} and "s1" not in people(feed, "student")
    assert people(parsed({**V21, "roles.csv": us_dates}, date_order="mdy"), "student")["s1"]["active"]
    uk = parsed({**V21, "roles.csv": us_dates}, date_order="dmy")  # 7 March 2099: still current
    assert "s1" in people(uk, "student") and uk.ok


# --- SDS v1 (UK format) ----------------------------------------------------------------------------------


def test_a_v1_export_is_read_by_dfe_number_with_its_guardians():
    feed = parsed(V1)
    assert feed.file_format == "sds_v1" and feed.ok, feed.errors
    students = people(feed, "student")
    assert set(students) == {"13001", "13002", "13003"}
    assert students["13001"]["year_group"] == "7" and students["13001"]["email"] == "oklein@alder.sch.uk"
    assert students["13002"]["email"] == "" and not students["13003"]["active"]
    staff = people(feed, "staff")
    assert staff["14001"]["email"] == "cbeane@alder.sch.uk" and staff["14002"]["email"] == "daisy.todd@alder.sch.uk"
    contacts = people(feed, "contact")
    assert set(contacts) == {"G1", "gran@example.org"}  # the SIS ID, else the email SDS v1 matches on
    assert contacts["G1"]["portal_access"] and not contacts["gran@example.org"]["portal_access"]
    assert links(feed) == {("G1", "13001"): ("Parent", True), ("gran@example.org", "13001"): ("Relative", False)}
    assert any("'Favourite Colour'" in w for w in feed.warnings)  # not SDS: named; Birthdate is SDS's: quiet
    assert not any("Birthdate" in w for w in feed.warnings)
    assert any("Section.csv" in w for w in feed.warnings)


def test_a_v1_export_imports_and_a_second_delivery_plans_nothing(alder):
    content = zipped(V1, folder="SDS export/")
    run = run_sync(alder, content)
    assert run.state == "applied"
    assert run.counts == {"create": 6, "skipped": 1, "link_create": 2}  # Erna left (Inactive) before she had one
    assert Membership.objects.get(school=alder, mis_code="14002").account.email == "daisy.todd@alder.sch.uk"
    again = run_sync(alder, content)
    assert again.counts == {"unchanged": 6, "skipped": 1, "link_unchanged": 2}  # nothing changes


def test_a_bad_v1_row_is_left_out_and_its_person_kept():
    students = STUDENT.replace("Active,20/6/2012", "Left school?,20/6/2012")
    teachers = TEACHER.replace("14001,100001,Craig,Beane,cbeane@alder.sch.uk", "14001,100001,Craig,Beane,CBeane")
    feed = parsed({**V1, "Student.csv": students, "Teacher.csv": teachers})
    assert [(e["file"], e["row"], e["column"]) for e in feed.errors] == [("Student.csv", 3, "Status"),
                                                                       ("Teacher.csv", 2, "Username")]  # fmt: skip
    assert feed.rejected == {"student": {"13002"}, "staff": {"14001"}}
    assert set(people(feed, "student")) == {"13001", "13003"} and set(people(feed, "staff")) == {"14002"}


def test_v1_without_guardian_files_leaves_contacts_alone_and_half_of_them_is_refused():
    files = {k: v for k, v in V1.items() if k not in ("user.csv", "guardianrelationship.csv")}
    feed = parsed(files)
    assert feed.ok and feed.modes["contact"] == "absent" and feed.modes["link"] == "absent"
    half = parsed({**files, "guardianrelationship.csv": GUARDIAN_LINKS})
    assert [(e["file"], e["row"]) for e in half.errors] == [("user.csv", None)] and half.structural_total == 1


# --- detection ---------------------------------------------------------------------------------------------


def test_an_sds_export_missing_a_file_names_that_file_and_what_was_expected(alder):
    without_roles = {k: v for k, v in V21.items() if k != "roles.csv"}
    feed = receive(alder, zipped(without_roles), name="SDS.zip")
    assert feed.state == "rejected" and feed.file_format == "sds_2.1"
    assert [e["file"] for e in feed.errors] == ["roles.csv"]
    message = feed.errors[0]["message"]
    assert "needs orgs.csv, users.csv, roles.csv" in message and "has classes.csv, orgs.csv" in message
    v1 = receive(alder, zipped({"School.csv": SCHOOL, "Student.csv": STUDENT}))
    assert v1.file_format == "sds_v1" and [e["file"] for e in v1.errors] == ["teacher.csv"]


def test_a_zip_of_no_known_format_says_what_it_holds_and_what_is_read(alder):
    content = zipped({"pupils.csv": "id,name\n1,Ann\n", "readme.txt": "hello"})
    with pytest.raises(FeedUnreadable) as refused:
        detect_format("export.zip", content)
    message = str(refused.value)
    assert "The zip holds pupils.csv, readme.txt" in message
    assert "School Data Sync v2.1 (orgs.csv, users.csv, roles.csv" in message and "manifest.csv" in message
    feed = receive(alder, content, name="export.zip")
    assert feed.state == "rejected" and feed.errors[0]["file"] == "export.zip"


def test_each_format_is_told_apart_by_its_files():
    assert detect_format("x.zip", zipped({"students.csv": "mis_code\n"})) == "rollcall_csv"
    assert detect_format("x.zip", zipped({"relationships.csv": "a\n"})) == "rollcall_csv"
    assert detect_format("x.zip", zipped({"Users.csv": "a\n", "relationships.csv": "a\n"})) == "sds_2.1"
    assert detect_format("x.zip", zipped({"student.csv": "a\n"})) == "sds_v1"
    manifest = "propertyName,value\noneroster.version,1.2\n"
    assert detect_format("x.zip", zipped({"manifest.csv": manifest, "users.csv": "a\n"})) == "oneroster_1.2"


def test_a_relationship_sent_contact_first_is_read_the_right_way_round():
    turned = RELATIONSHIPS.replace("s1,g1,guardian", "g1,s1,guardian")
    assert links(parsed({**V21, "relationships.csv": turned}))[("g1", "s1")] == ("Guardian", True)


def test_a_v1_school_file_with_both_sis_id_and_dfe_number_is_matched_by_dfe_number():
    """Found by trying it: with SIS ID first, the feed was refused ("none has 100001")."""
    both = "SIS ID,DfE Number,Name\nSIS-A,100001,Alder Academy\nSIS-B,100002,Birch High\n"
    student = STUDENT.replace("School DFe Number", "School DfE Number")
    feed = parsed({**V1, "School.csv": both, "Student.csv": student})
    assert feed.ok, feed.errors
    assert set(people(feed, "student")) == {"13001", "13002", "13003"}
