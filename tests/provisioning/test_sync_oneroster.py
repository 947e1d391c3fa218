"""OneRoster 1.1 and 1.2 bundles, hand-made as vendors send them: messy on purpose."""

import io
import zipfile

import pytest

from accounts.models import ContactLink, Membership
from provisioning.sync.feeds import parse_feed
from provisioning.sync.oneroster import parse_user_ids
from tests.provisioning.sync_helpers import receive, run_sync

pytestmark = pytest.mark.django_db

ORGS = (
    "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
    "d1,active,2025-01-01T00:00:00Z,Northfield District,district,,\n"
    'o1,active,2025-01-01T00:00:00Z,"Alder Academy, Upper",school,100001,d1\n'
    "o2,active,2025-01-01T00:00:00Z,Birch High,school,100002,d1\n"
)
USERS_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,favouriteColour\n"
    'u1,active,2025-01-01T00:00:00Z,true,o1,student,ignored.name,"{LDAP:12},{Fed:23}",Zoë,Ødegård,,S1,,,,p1,07,,blue\n'
    "u2,active,2025-01-01T00:00:00Z,true,o1,student,,,Bob,Jones,,S2,,,,,08,,\n"
    '"u3",active,2025-01-01T00:00:00Z,true,o1,teacher,,,"Smith, Jr",Ann,,T1,ann@alder.sch.uk,,,,,,\n'
    "p1,active,2025-01-01T00:00:00Z,true,d1,parent,,,Pat,Ødegård,,C1,pat@example.org,,,u1,,,\n"
    "p2,active,2025-01-01T00:00:00Z,true,d1,guardian,,,Gus,Teach,,C2,,,,u3,,,\n"
    "u9,active,2025-01-01T00:00:00Z,true,o2,student,,,Other,School,,S9,,,,,09,,\n"
)


def bundle(files: dict[str, str], version="1.1", users="bulk", roles=None) -> bytes:
    manifest = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}", f"file.users,{users}",
                "file.orgs,bulk", "file.enrollments,absent"]  # fmt: skip
    if roles:
        manifest.append(f"file.roles,{roles}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", "\n".join(manifest) + "\n")
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_user_ids_are_parsed_into_pairs():
    assert parse_user_ids("{LDAP:12},{Fed:23}") == [("LDAP", "12"), ("Fed", "23")]


def test_a_11_bundle_gives_students_staff_and_linked_contacts(school_a):
    school_a.urn = "100001"
    school_a.save()
    run = run_sync(school_a, bundle({"orgs.csv": ORGS, "users.csv": USERS_11, "notes.csv": "x\n"}),
                   username_method="initial_surname")  # fmt: skip
    assert run.state == "applied"
    assert run.counts["create"] == 5  # u9 belongs to Birch High in the same district bundle
    zoe = Membership.objects.get(school=school_a, mis_code="S1", person_type="student")
    assert zoe.account.username == "zodegard" and zoe.year_group == "7"
    assert Membership.objects.get(school=school_a, mis_code="T1").account.given_name == "Smith, Jr"
    links = ContactLink.objects.filter(school=school_a)
    assert [(link.contact.mis_code, link.student.mis_code, link.relationship) for link in links] == [
        ("C1", "S1", "Parent")
    ]
    feed = receive(school_a, bundle({"orgs.csv": ORGS, "users.csv": USERS_11, "notes.csv": "x\n"}))
    assert any("favouriteColour" in w for w in feed.warnings) and any("notes.csv" in w for w in feed.warnings)
    assert any("p2 -> u3" in w for w in feed.warnings)  # a guardian pointing at a teacher is not a link


def test_a_bulk_bundle_makes_the_missing_leavers_and_a_delta_only_tobedeleted(school_a):
    school_a.urn = "100001"
    school_a.save()
    run_sync(school_a, bundle({"orgs.csv": ORGS, "users.csv": USERS_11}), student_grace_days=0, guard_threshold=10)
    header = USERS_11.splitlines()[0]
    only_bob_deleted = header + "\nu2,tobedeleted,2025-02-01T00:00:00Z,true,o1,student,,,Bob,Jones,,S2,,,,,08,,\n"
    delta = run_sync(school_a, bundle({"orgs.csv": ORGS, "users.csv": only_bob_deleted}, users="delta"))
    assert delta.counts == {"archive": 1}
    assert Membership.objects.get(school=school_a, mis_code="S1").status == "active"
    no_zoe = "\n".join(line for line in USERS_11.splitlines() if not line.startswith("u1,")) + "\n"
    no_zoe = no_zoe.replace(",u1,,,", ",,,,")  # her parent no longer points at her either
    bulk = run_sync(school_a, bundle({"orgs.csv": ORGS, "users.csv": no_zoe}), guard_threshold=10)
    assert bulk.counts.get("archive") == 1 and bulk.counts.get("reactivate") == 1  # Zoë gone, Bob back
    assert Membership.objects.get(school=school_a, mis_code="S1").status == "archived"


USERS_12 = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
    "u1,active,2025-01-01T00:00:00.000Z,true,,{LDAP:12},Zoë,Ødegård,,S1,,,,,07,,,,,,,o1,\n"
    "u3,active,2025-01-01T00:00:00Z,true,,,Ann,Smith,,T1,ann@alder.sch.uk,,,,,,,,,,,o1,\n"
    "r1,active,2025-01-01T00:00:00Z,true,,,Rita,Ødegård,,C7,,,,u1,,,,,,,,,\n"
)
ROLES_12 = (
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n"
    "ro1,active,2025-01-01T00:00:00Z,u1,primary,student,2024-09-01,,o1,\n"
    "ro2,active,2025-01-01T00:00:00Z,u3,primary,teacher,,,o1,\n"
    "ro3,active,2025-01-01T00:00:00Z,u3,secondary,administrator,,,o2,\n"
    "ro4,active,2025-01-01T00:00:00Z,r1,primary,relative,,,d1,\n"
)


def test_a_12_bundle_reads_roles_from_roles_csv(school_a):
    school_a.urn = "100001"
    school_a.save()
    run = run_sync(school_a, bundle({"orgs.csv": ORGS, "users.csv": USERS_12, "roles.csv": ROLES_12},
                                    version="1.2", roles="bulk"))  # fmt: skip
    assert run.counts == {"create": 2}  # Rita is a relative: no parent access, so neither a contact nor a link
    assert Membership.objects.get(school=school_a, mis_code="T1").person_type == "staff"
    assert not ContactLink.objects.filter(school=school_a).exists()
    assert any("r1 is a relative" in w for w in run.feed.warnings)


def test_a_messy_bundle_is_answered_row_by_row():
    users = USERS_11.replace("u2,active,2025-01-01T00:00:00Z", "u2,active,01/02/2025") + (
        "u4,active,2025-01-01T00:00:00Z,true,o7,student,,,Lost,Org,,S4,,,,,07,,,\n"
        "p5,active,2025-01-01T00:00:00Z,true,d1,parent,,,Nobody,Child,,C5,,,,u404,,,\n"
    )
    roles_bad = ROLES_12.replace("2024-09-01", "1/9/2024")
    feed = parse_feed(bundle({"orgs.csv": ORGS, "users.csv": users}))
    # An unused date and references to what the bundle lacks: warnings on their rows, never errors.
    assert feed.ok and feed.errors == []
    assert any(w.startswith("users.csv row 3, dateLastModified") for w in feed.warnings)
    assert any(w.startswith("users.csv row 8, orgSourcedIds: no org o7") for w in feed.warnings)
    assert any(w.startswith("users.csv row 9, agentSourcedIds: no user u404") for w in feed.warnings)
    assert {p["mis_code"] for p in feed.people["student"]} == {"S1", "S2", "S4", "S9"}
    # A role's begin date is read (it decides whether the role is current): its person is left out, kept.
    feed12 = parse_feed(bundle({"orgs.csv": ORGS, "users.csv": USERS_12, "roles.csv": roles_bad}, version="1.2",
                               roles="bulk"))  # fmt: skip
    assert feed12.ok
    assert [(e["file"], e["row"], e["column"]) for e in feed12.errors] == [
        ("roles.csv", 2, "beginDate"), ("users.csv", 2, "sourcedId")]  # fmt: skip
    assert feed12.rejected == {"student": {"S1"}, "staff": {"S1"}, "contact": {"S1"}}


def test_an_absent_users_file_changes_nobody(school_a):
    from tests.factories import MembershipFactory

    MembershipFactory(school=school_a, person_type="student", mis_code="S1")
    run = run_sync(school_a, bundle({"orgs.csv": ORGS}, users="absent"))
    assert run.counts == {}
    assert Membership.objects.get(school=school_a, mis_code="S1").status == "active"
