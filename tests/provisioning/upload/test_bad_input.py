"""Each bad file is answered with a clear message (HTTP 400 on the screen and the API), never a 500."""

import datetime as dt
import io
import zipfile

import pytest

from accounts.models import Account
from provisioning.models import UploadBatch
from provisioning.upload import reader
from provisioning.upload.reader import UploadRefused, read_upload
from tests.provisioning.upload.helpers import csv_bytes, ods_bytes, staff_row, xlsx_bytes
from tests.spreadsheet_checks import assert_no_formulas


def _refusal(response) -> str:
    assert response.status_code == 400
    return response.content.decode()


def test_a_renamed_pdf_is_refused(upload_file, eo_user):
    page = _refusal(upload_file(eo_user, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>>", "users.xlsx"))
    assert "is a PDF document, not a spreadsheet" in page
    assert not UploadBatch.objects.exists()


def test_an_empty_file_is_refused(upload_file, eo_user):
    assert "The file is empty" in _refusal(upload_file(eo_user, b"", "users.csv"))


def test_a_header_only_file_is_refused(upload_file, eo_user):
    assert "header row but no people" in _refusal(upload_file(eo_user, xlsx_bytes([])))


def test_missing_required_columns_are_named(upload_file, eo_user):
    data = xlsx_bytes([["x@alder.sch.uk", "Staff"]], header=["Email", "Person Type"])
    page = _refusal(upload_file(eo_user, data))
    assert "missing the required columns Given Names, Family Name" in page


def test_a_file_over_the_limit_is_refused_with_the_limit(upload_file, eo_user, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    page = _refusal(upload_file(eo_user, csv_bytes([staff_row(n) for n in range(40)]), "users.csv"))
    assert "the limit is 0.0 MB" in page or "the limit is" in page
    assert "Split it into smaller files" in page


def test_the_5_mb_limit_is_the_setting():
    from django.conf import settings

    assert settings.UPLOAD_MAX_BYTES == 5 * 1024 * 1024


def test_a_wrong_extension_is_refused(upload_file, eo_user):
    assert "Upload an Excel workbook" in _refusal(upload_file(eo_user, b"hello", "users.docx"))


def test_a_binary_file_named_csv_is_refused(upload_file, eo_user):
    assert "is not a CSV file" in _refusal(upload_file(eo_user, b"\x00\x01\x02garbage", "users.csv"))


def test_a_damaged_zip_is_refused(upload_file, eo_user):
    assert "damaged" in _refusal(upload_file(eo_user, b"PK\x03\x04" + b"\x00" * 100, "users.xlsx"))


def _zip_bomb(declared_honestly: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (reader.MAX_UNZIPPED_BYTES + 1024))
    data = buffer.getvalue()
    if not declared_honestly:
        # Lie in both the local header and the central directory: claim 1 KB unzipped.
        big = (reader.MAX_UNZIPPED_BYTES + 1024).to_bytes(4, "little")
        data = data.replace(big, (1024).to_bytes(4, "little"))
    return data


@pytest.mark.parametrize("honest", [True, False], ids=["declared-size", "lying-header"])
def test_a_zip_bomb_is_refused_before_any_reader_opens_it(upload_file, eo_user, monkeypatch, honest):
    data = _zip_bomb(honest)
    assert len(data) < 200_000

    def never(*args, **kwargs):
        raise AssertionError("the reader must not open a zip bomb")

    monkeypatch.setattr(reader, "_read_sheet", never)
    page = _refusal(upload_file(eo_user, data))
    assert "unpacks to more than" in page or "damaged" in page


def test_too_many_zip_entries_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(reader.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"part{n}.xml", "x")
    with pytest.raises(UploadRefused, match="parts"):
        read_upload(buffer.getvalue(), "users.xlsx")


def test_formula_cells_are_errors_naming_row_and_column(upload_file, eo_user, school_a):
    data = xlsx_bytes([staff_row(1), ['=A2&"x"', "Given", "Fam", "f@alder.sch.uk", "Staff", "INV", "S9"]])
    response = upload_file(eo_user, data)
    assert response.status_code == 302
    from provisioning.upload import services

    plan = services.upload_preview(school=school_a, account=eo_user, batch=UploadBatch.objects.get())
    bad = plan.rows[1]
    assert bad.outcome == services.ERROR
    assert [str(p) for p in bad.problems] == [
        "row 3, User Name: holds a formula; type the value itself (or paste values only)",
    ]


def test_dates_and_numbers_in_cells(school_a, eo_user):
    from provisioning.upload import services

    rows = [
        ["num.code", "Given", "Fam", "n@alder.sch.uk", "Staff", "INV", 12345],
        ["date.code", "Given", "Fam", "d@alder.sch.uk", "Staff", "INV", dt.date(2024, 10, 11)],
    ]
    table = read_upload(xlsx_bytes(rows), "u.xlsx")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert plan.rows[0].clean["mis_code"] == "12345"
    assert plan.rows[0].outcome == services.CREATE
    assert plan.rows[1].outcome == services.ERROR
    assert "holds a date" in plan.rows[1].problems[0].message
    assert plan.rows[1].problems[0].column == "MIS Code"


def test_very_long_strings_and_control_characters_are_row_errors(school_a, eo_user):
    from provisioning.upload import services

    rows = [
        ["long.one", "G" * 5000, "Fam", "l@alder.sch.uk", "Staff", "INV", "A1"],
        ["ctl.one", "Line\nbreak", "Fam\x07", "c@alder.sch.uk", "Staff", "INV", "A2"],
    ]
    table = read_upload(csv_bytes(rows), "u.csv")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert "is 5000 characters long; the limit is 150" in str(plan.rows[0].problems[0])
    messages = [str(p) for p in plan.rows[1].problems]
    assert (
        "row 3, Family Name *: contains control characters (line breaks, tabs, text-direction controls or "
        "invisible characters); remove them" in messages
    )
    assert all(r.outcome == services.ERROR for r in plan.rows)


@pytest.mark.parametrize(
    "encoding,delimiter,bom",
    [("utf-8", ",", False), ("utf-8", ",", True), ("cp1252", ",", False), ("utf-8", ";", False)],
)
def test_csv_encodings_and_delimiters(school_a, eo_user, encoding, delimiter, bom):
    from provisioning.upload import services

    rows = [["zoe.b", "Zoë", "Brontë", "zoe@alder.sch.uk", "Staff", "INV", "Z1"]]
    table = read_upload(csv_bytes(rows, delimiter=delimiter, encoding=encoding, bom=bom), "u.csv")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert plan.rows[0].clean["given_name"] == "Zoë"
    assert plan.rows[0].outcome == services.CREATE


def test_an_ods_sheet_is_read(school_a, eo_user):
    from provisioning.upload import services

    table = read_upload(ods_bytes([["ods.person", "Od", "S", "ods@alder.sch.uk", "Staff", "INV", 4711]]), "u.ods")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert plan.rows[0].outcome == services.CREATE, plan.rows[0].messages
    assert plan.rows[0].clean["mis_code"] == "4711"


def test_an_ods_formula_cell_is_an_error_naming_its_row_and_column_as_in_xlsx(school_a, eo_user):
    from provisioning.upload import services

    data = ods_bytes([["FORMULA", "Od", "S", "ods@alder.sch.uk", "Staff", "INV", "A"]], formula=True)
    plan = services.upload_plan(school=school_a, account=eo_user, table=read_upload(data, "u.ods"), mode="add_new")
    assert plan.rows[0].outcome == services.ERROR
    assert "row 2, User Name: holds a formula; type the value itself (or paste values only)" in [
        str(p) for p in plan.rows[0].problems
    ]


def test_a_damaged_xls_is_a_clear_refusal():
    with pytest.raises(UploadRefused, match="cannot be read"):
        read_upload(reader.OLE_MAGIC + b"\x00" * 600, "u.xls")


def test_column_names_match_ignoring_case_spaces_and_aliases(school_a, eo_user):
    from provisioning.upload import services

    header = ["  USER NAME ", "first name", "SURNAME", "e-mail address", "user type", "roles", "Admission Number"]
    table = read_upload(xlsx_bytes([staff_row(7)], header=header), "u.xlsx")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    assert plan.rows[0].outcome == services.CREATE, plan.rows[0].messages
    assert plan.rows[0].clean["mis_code"] == "S00007"


def test_report_neutralises_formula_like_cells(school_a, eo_user):
    from provisioning.upload import services
    from tests.provisioning.upload.conftest import read_xlsx

    rows = [["=cmd|' /C calc'!A0", "+SUM(1)", "-2+3", "@evil", "Staff", "INV", "X1"]]
    table = read_upload(csv_bytes(rows), "u.csv")
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    data = services.report_workbook(table, plan)
    out = read_xlsx(data)
    assert out[0][-2:] == ("Outcome", "Message")
    # Written as text: the admin's own values come back exactly, and none is a formula.
    assert out[1][:4] == ("=cmd|' /C calc'!A0", "+SUM(1)", "-2+3", "@evil")
    assert out[1][-2] == "Error"
    assert_no_formulas(data, "result.xlsx")


def test_no_account_is_created_by_a_refused_file(upload_file, eo_user):
    before = Account.objects.count()
    upload_file(eo_user, b"%PDF-1.4", "users.csv")
    assert Account.objects.count() == before
