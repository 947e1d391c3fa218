"""Staff lists as schools save them (issue 19): no User Name column, the usual header names, Windows-1252 with
semicolons, UTF-8 with a BOM, Excel's UTF-16 "Unicode Text", LibreOffice's quoted CSV and Excel 97 .xls. Every
file is written here, byte for byte, the way those programs write it."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account, Membership, UsernameHold
from provisioning.sync import username_policy
from provisioning.sync.policy import policy_for
from provisioning.upload import services
from provisioning.upload.reader import UploadRefused, read_upload
from provisioning.upload.validation import COLUMN_BY_KEY, header_map
from tests.factories import member

STAFF_HEADER = ["Family Name", "Given Names", "Email", "Role", "Person Type"]
STAFF = [
    ["O’Brien", "Zoë", "zoe.obrien@alder.sch.uk", "INV", "Staff"],
    ["Smith, Jr", "Alex", "alex.smith@alder.sch.uk", "EO", "Staff"],
    ["Ng", "Mai", "mai.ng@alder.sch.uk", "INV", "Staff"],
]


def text_rows(header, rows, *, delimiter=",", quoting=csv.QUOTE_MINIMAL, newline="\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows([header, *rows])
    return out.getvalue()


def windows_1252_semicolons(header=STAFF_HEADER, rows=STAFF) -> bytes:
    """Excel's plain "CSV" on a Windows PC whose list separator is ';' (much of Europe, and some UK set-ups)."""
    return text_rows(header, rows, delimiter=";").encode("cp1252")


def utf8_with_bom(header=STAFF_HEADER, rows=STAFF) -> bytes:
    """Excel's "CSV UTF-8 (Comma delimited)"."""
    return b"\xef\xbb\xbf" + text_rows(header, rows).encode("utf-8")


def utf16_unicode_text(header=STAFF_HEADER, rows=STAFF) -> bytes:
    """Excel's "Unicode Text (*.txt)": UTF-16 little-endian with its BOM, tab-separated, CRLF."""
    return b"\xff\xfe" + text_rows(header, rows, delimiter="\t").encode("utf-16-le")


def libreoffice_csv(header=STAFF_HEADER, rows=STAFF) -> bytes:
    """LibreOffice Calc's "Text CSV" with "Quote all text cells": UTF-8 without a BOM, commas, LF."""
    return text_rows(header, rows, quoting=csv.QUOTE_ALL, newline="\n").encode("utf-8")


def excel_97_xls(header=STAFF_HEADER, rows=STAFF) -> bytes:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Staff")
    for r, values in enumerate([header, *rows]):
        for c, value in enumerate(values):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SHAPES = {
    "staff.csv": windows_1252_semicolons,
    "staff-utf8.csv": utf8_with_bom,
    "staff.txt": utf16_unicode_text,
    "staff-libreoffice.csv": libreoffice_csv,
    "staff.xls": excel_97_xls,
}


def plan_for(school, account, data: bytes, name: str = "staff.csv", mode="add_update"):
    return services.upload_plan(school=school, account=account, table=read_upload(data, name), mode=mode)


def apply_file(school, actor, data, name, capture):
    batch = services.upload_receive(school=school, actor=actor, file_name=name, data=data)
    with capture(execute=True):
        services.upload_apply_start(school=school, actor=actor, batch=batch, mode="add_update",
                                    password_method="starter_codes", add_existing=True, consent=True)  # fmt: skip
    batch.refresh_from_db()
    return batch


# --- the file shapes -------------------------------------------------------------------------
def test_the_windows_1252_file_is_not_utf8_so_the_test_means_something():
    with pytest.raises(UnicodeDecodeError):
        windows_1252_semicolons().decode("utf-8")


@pytest.mark.parametrize("name", SHAPES)
def test_a_staff_list_without_a_user_name_column_plans_every_person(school_a, eo_user, name):
    plan = plan_for(school_a, eo_user, SHAPES[name](), name)
    assert [r.outcome for r in plan.rows] == ["create"] * 3, [r.messages for r in plan.rows]
    first, second, _ = (r.clean for r in plan.rows)
    assert (first["given_name"], first["family_name"]) == ("Zoë", "O’Brien")
    assert second["family_name"] == "Smith, Jr"  # a comma inside a quoted name stays in the name
    assert [r.clean["roles"] for r in plan.rows] == [("inv",), ("eo",), ("inv",)]
    # The default policy makes names from the MIS code; a list without one takes the email's local part.
    assert [r.clean["username"] for r in plan.rows] == ["zoe.obrien", "alex.smith", "mai.ng"]
    assert "made from the email: your username policy (MIS code) needs a value" in plan.rows[0].message


@pytest.mark.parametrize("name", ["staff.csv", "staff.xls"])
def test_the_staff_list_is_created_and_a_second_upload_changes_nothing(school_a, eo_user, name,
                                                                       django_capture_on_commit_callbacks):  # fmt: skip
    batch = apply_file(school_a, eo_user, SHAPES[name](), name, django_capture_on_commit_callbacks)
    assert batch.state == "applied"
    zoe = Account.objects.get(username="zoe.obrien")
    assert (zoe.given_name, zoe.family_name, zoe.email) == ("Zoë", "O’Brien", "zoe.obrien@alder.sch.uk")
    assert Membership.objects.get(school=school_a, account=zoe).person_type == "staff"
    again = plan_for(school_a, eo_user, SHAPES[name](), name)
    assert [r.outcome for r in again.rows] == ["unchanged"] * 3
    assert [r.clean["username"] for r in again.rows] == ["zoe.obrien", "alex.smith", "mai.ng"]


# --- usernames from the policy, as sync makes them ----------------------------------------------------
def _policy(school, **values):
    policy = policy_for(school)
    for key, value in values.items():
        setattr(policy, key, value)
    policy.save()
    return policy


def test_names_follow_the_schools_policy_with_its_prefix_as_sync_makes_them(school_a, eo_user):
    policy = _policy(school_a, username_method="initial_surname", prepend_text="st-")
    plan = plan_for(school_a, eo_user, utf8_with_bom())
    expected = [username_policy.username_stem(policy, {k: r.clean[k] for k in ("mis_code", "email", "given_name",
                "family_name")}) for r in plan.rows]  # fmt: skip
    assert [r.clean["username"] for r in plan.rows] == expected
    assert plan.rows[2].clean["username"] == "st-mng"
    assert plan.rows[2].message == "User name st-mng made by your username policy (Initial + surname (ASmith))."


def test_the_mis_code_policy_uses_the_mis_code_when_the_file_has_one(school_a, eo_user):
    header = ["Surname", "Forename", "E-mail", "SIS Code", "Person Type"]
    plan = plan_for(school_a, eo_user, utf8_with_bom(header, [["Ng", "Mai", "mai.ng@alder.sch.uk", "T042", "Staff"]]))
    assert plan.rows[0].clean["username"] == "t042"


def test_clashes_are_numbered_across_rollcall_and_held_names_respected(school_a, school_b, eo_user):
    _policy(school_a, username_method="initial_surname")
    member(school_b, username="ASmith", email="a.smith@birch.sch.uk")  # another school's teacher
    UsernameHold.objects.create(username_lower="asmith2", held_until=timezone.now() + timedelta(days=200))
    rows = [
        ["Smith", "Alex", "alex@alder.sch.uk", "INV", "Staff"],
        ["Smith", "Amy", "amy@alder.sch.uk", "INV", "Staff"],
        ["asmith4", "Smith", "Ann", "ann@alder.sch.uk", "INV", "Staff"],
    ]
    header = ["User Name", *STAFF_HEADER]
    plan = plan_for(school_a, eo_user, utf8_with_bom(header, [["", *r] for r in rows[:2]] + [rows[2]]))
    # asmith is another account's, asmith2 is held for a year, asmith4 is typed in the file itself.
    assert [r.clean["username"] for r in plan.rows] == ["asmith3", "asmith5", "asmith4"]
    assert [r.outcome for r in plan.rows] == ["create"] * 3


def test_a_blank_row_for_someone_the_school_holds_is_that_person(school_a, eo_user):
    member(school_a, "inv", username="kim.long", email="Kim@alder.sch.uk", given_name="Kim", family_name="Long")
    by_code = member(school_a, "inv", username="t.code", email="t@alder.sch.uk", given_name="T", family_name="Code")
    by_code.mis_code = "T7"
    by_code.save()
    header = ["Family Name", "Given Names", "Email", "Role", "Person Type", "Staff Code"]
    rows = [
        ["Long", "Kim", "kim@alder.sch.uk", "INV", "Staff", ""],
        ["Code", "Tess", "t@alder.sch.uk", "", "Staff", "T7"],
    ]
    plan = plan_for(school_a, eo_user, utf8_with_bom(header, rows))
    assert [r.clean["username"] for r in plan.rows] == ["kim.long", "t.code"]
    assert [r.outcome for r in plan.rows] == ["unchanged", "update"]
    assert plan.rows[1].account_changes == {"given_name": ["T", "Tess"]}


def test_the_same_new_email_twice_without_user_names_stops_both_rows(school_a, eo_user):
    rows = [["Ng", "Mai", "mai@alder.sch.uk", "INV", "Staff"], ["Ng", "May", "MAI@alder.sch.uk", "INV", "Staff"]]
    plan = plan_for(school_a, eo_user, utf8_with_bom(rows=rows))
    assert [r.outcome for r in plan.rows] == ["error", "error"]
    message = "row 2, Email: email mai@alder.sch.uk appears more than once in the file (rows 2, 3)"
    assert message in plan.rows[0].messages


def test_a_row_no_name_can_be_made_for_is_an_error_naming_the_column(school_a, eo_user):
    # Non-Latin names are transliterated (名01 姓01 -> ming01.xing01); only a name with no letter in any script,
    # no email and no MIS code leaves nothing to make a user name from.
    rows = [["★", "☆", "", "", "Student"], ["Ng", "Mai", "mai@alder.sch.uk", "INV", "Staff"]]
    plan = plan_for(school_a, eo_user, utf8_with_bom(rows=rows))
    assert [r.outcome for r in plan.rows] == ["error", "create"]
    assert str(plan.rows[0].problems[0]).startswith("row 2, User Name: no user name could be made for this row")


def test_planning_a_file_without_user_names_is_set_based(school_a, eo_user, django_assert_max_num_queries):
    rows = [[f"Family{n}", f"Given{n}", f"p{n}@alder.sch.uk", "INV", "Staff"] for n in range(1500)]
    table = read_upload(utf8_with_bom(rows=rows), "u.csv")
    with django_assert_max_num_queries(30):
        plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_update")
    assert plan.counts["create"] == 1500


# --- header names ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        ["Forename", "Surname", "E-mail", "SIS Code", "Person Type", "Role"],
        ["First Name", "Last Name", "E-Mail Address", "Student Code", "Type", "Roles"],
        ["given_names", "FAMILY-NAME", "email", "MIS code", "person type", "user role"],
        ["  first name ", "LAST NAME", "e_mail", "sis-code", "PERSON TYPE", "role"],
        ["Given Names *", "Family Name *", "Email", "MIS Code", "Person Type", "ROLES"],
    ],
)
def test_the_usual_header_names_are_read_whatever_their_case_and_punctuation(school_a, eo_user, header):
    rows = [["Mai", "Ng", "mai.ng@alder.sch.uk", "T042", "Staff", "INV"]]
    plan = plan_for(school_a, eo_user, utf8_with_bom(header, rows))
    assert set(plan.headers.positions) == {"given_name", "family_name", "email", "mis_code", "person_type", "roles"}
    clean = plan.rows[0].clean
    assert (clean["given_name"], clean["family_name"], clean["mis_code"], clean["roles"]) == ("Mai", "Ng", "T042",
                                                                                              ("inv",))  # fmt: skip


def test_a_upn_column_is_the_upn_never_the_mis_code(school_a, eo_user):
    header = ["Forename", "Surname", "UPN", "Person Type"]
    plan = plan_for(school_a, eo_user, utf8_with_bom(header, [["Ann", "Pupil", "A123456789012", "Student"]]))
    clean = plan.rows[0].clean
    assert (clean["upn"], clean["mis_code"]) == ("A123456789012", "")
    assert "A123456789012" not in clean["username"]
    assert "never as the MIS code" in COLUMN_BY_KEY["upn"].help and "UPN" in COLUMN_BY_KEY["mis_code"].help


def test_only_the_names_are_required_columns():
    assert header_map(["Given Names", "Family Name"]).missing == []
    assert header_map(["Email"]).missing == ["Given Names", "Family Name"]


# --- separators and what is refused ------------------------------------------------------------------
def test_a_one_column_file_is_read_as_one_column_and_refused_by_name(school_a, eo_user):
    data = b"Family Name\r\nO'Brien, Jr\r\nNg\r\n"
    table = read_upload(data, "names.csv")
    assert table.header == ["Family Name"]
    with pytest.raises(UploadRefused, match="missing the required column Given Names .*columns found: Family Name"):
        plan_for(school_a, eo_user, data)


def test_commas_inside_quoted_names_in_a_comma_file(school_a, eo_user):
    data = b'Family Name,Given Names,Email\r\n"Smith, Jr","Alex, Sam",alex@alder.sch.uk\r\n'
    table = read_upload(data, "staff.csv")
    assert table.rows[0][1] == ["Smith, Jr", "Alex, Sam", "alex@alder.sch.uk"]


def test_commas_in_names_do_not_turn_a_semicolon_file_into_a_comma_file():
    data = "Family Name;Given Names;Email\r\nSmith, Jr;Alex;a@alder.sch.uk\r\n".encode("cp1252")
    assert read_upload(data, "staff.csv").rows[0][1] == ["Smith, Jr", "Alex", "a@alder.sch.uk"]


def test_a_text_file_named_txt_or_tsv_is_read_and_other_text_names_refused():
    assert read_upload(utf16_unicode_text(), "staff.tsv").format == "csv"
    with pytest.raises(UploadRefused, match="Unicode Text"):
        read_upload(utf8_with_bom(), "staff.dat")


def test_a_false_utf16_mark_is_refused_with_a_reason():
    with pytest.raises(UploadRefused, match="says it is UTF-16"):
        read_upload(b"\xff\xfeA\x00B", "staff.txt")  # an odd number of bytes after the mark


# --- row errors --------------------------------------------------------------------------------------
def test_each_bad_row_names_its_row_and_column_and_the_rest_goes_on(upload_file, login, eo_user):
    rows = [
        ["Ng", "Mai", "mai.ng@alder.sch.uk", "INV", "Staff"],
        ["Bell", "Ava", "", "INV", "Staff"],
        ["Cole", "", "cole@alder.sch.uk", "Wizard", "Staff"],
        ["Dunn", "Eli", "eli.dunn@alder.sch.uk", "INV", "Teacher"],
    ]
    response = upload_file(eo_user, windows_1252_semicolons(rows=rows), "staff.csv")
    assert response.status_code == 302
    page = login(eo_user).get(response["Location"]).content.decode()
    assert "row 3, Email: is required for staff" in page
    assert "row 4, Given Names: is required" in page
    assert "row 4, Role: &quot;Wizard&quot; is not a role" in page
    assert 'data-outcome="create">2<' in page and 'data-outcome="error">2<' in page
    assert '<th scope="col">User Name</th>' in page and "mai.ng" in page and "eli.dunn" in page


# --- the template and the Users list say the same words ---------------------------------------------
def test_the_template_headings_are_the_users_list_headings(login, school_a, eo_user):
    from accounts.views import USER_LIST_COLUMNS

    list_labels = {label for label, _key in USER_LIST_COLUMNS}
    text = login(eo_user).get(f"/s/{school_a.slug}/users/upload/template/?format=csv").content.decode("utf-8-sig")
    template = [h.removesuffix(" *") for h in text.splitlines()[0].split(",")]
    shared = {"username", "mis_code", "family_name", "given_name", "email", "roles"}
    assert {COLUMN_BY_KEY[k].label for k in shared} <= list_labels
    assert {COLUMN_BY_KEY[k].label for k in shared} <= set(template)
    assert "User Name" in template and "Roles" in template


def test_contacts_sharing_a_family_email_are_told_apart_by_their_names(school_a, nominated_contact):
    for given in ("Pat", "Sam"):
        member(school_a, "parent", person_type="contact", username=f"{given.lower()}.home", email="home@family.example",
               given_name=given, family_name="Home")  # fmt: skip
    header = ["Given Names", "Family Name", "Email", "Person Type"]
    rows = [["Sam", "Home", "home@family.example", "Contact"], ["Jo", "Home", "HOME@family.example", "Contact"]]
    plan = plan_for(school_a, nominated_contact, utf8_with_bom(header, rows))
    assert plan.rows[0].clean["username"] == "sam.home" and plan.rows[0].outcome == "unchanged"
    assert plan.rows[1].outcome == "error"
    assert "several people at your school have this email (pat.home, sam.home)" in plan.rows[1].messages


# --- password columns: found by trying it (the checked file and the result file gave them back) ---
def test_a_password_column_is_cut_out_of_the_upload_and_every_file_it_gives_back(login, school_a, eo_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from provisioning.models import UploadBatch

    data = b"Family Name,Given Names,Email,Role,Person Type,Password\r\nNg,Mai,mai@alder.sch.uk,INV,Staff,Pa55word!\r\n"
    client = login(eo_user)
    answer = client.post(f"/s/{school_a.slug}/users/upload/", {"file": SimpleUploadedFile("staff.csv", data)})
    assert answer.status_code == 302
    batch = UploadBatch.objects.get(school=school_a)
    with batch.file.open("rb") as handle:
        stored = handle.read()
    assert b"Pa55word!" not in stored and b"Password" not in stored
    preview = client.get(answer["Location"], follow=True).content.decode()
    assert "Pa55word!" not in preview and "a password column, cut out and not stored" in preview
    report = client.get(f"/s/{school_a.slug}/users/upload/{batch.pk}/report/")
    assert b"Pa55word!" not in b"".join(report.streaming_content if report.streaming else [report.content])


def test_a_new_row_with_the_email_of_an_account_of_the_organisation_is_held_not_duplicated(school_a, eo_user):
    """Found by trying it: a row carrying another school's Centre Admin's email made a second account that
    held that address. A file asks nobody, so the row is refused and +Add (which asks) is named."""
    from tests.factories import SchoolFactory, member

    cedar = SchoolFactory(organisation=school_a.organisation, slug="cedar")
    member(cedar, "centre_admin", email="head@cedar.sch.uk")
    other_org = SchoolFactory(slug="elsewhere")
    member(other_org, "centre_admin", email="head@elsewhere.sch.uk")
    rows = [["Wang", "Fang", "head@cedar.sch.uk", "", "Staff"], ["Li", "Wei", "head@elsewhere.sch.uk", "", "Staff"]]
    plan = plan_for(school_a, eo_user, utf8_with_bom(rows=rows))
    assert [r.outcome for r in plan.rows] == ["error", "create"]  # another organisation's people are never looked at
    assert any(
        "already has this email, perhaps the same person: add them with +Add" in str(p) for p in plan.rows[0].problems
    )


def test_the_preview_names_changed_fields_in_words(login, school_a, eo_user):
    """Found by trying it: the preview showed given_name: F → 芳."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import member

    member(school_a, "inv", username="fwang", given_name="F", family_name="Wang", email="fwang@alder.sch.uk")
    data = "User Name,Given Names,Family Name,Email,Person Type\r\nfwang,芳,Wang,fwang@alder.sch.uk,Staff\r\n"
    client = login(eo_user)
    answer = client.post(
        f"/s/{school_a.slug}/users/upload/", {"file": SimpleUploadedFile("staff.csv", data.encode())}, follow=True
    )
    page = answer.content.decode()
    assert "Given Names: F → 芳" in page and "given_name" not in page
