"""A formula cell is an error naming its row and column in every format: .xlsx, Excel 97 .xls and .ods.

python-calamine reads a formula cell's cached value only (an .xls from Excel says "0" where the formula
is): without this rule that person would be created with family name "0".

The .xls workbooks are written with xlwt (a dev dependency), the one writer of Excel 97 files with formulas."""

import io
import zipfile

import pytest
import xlwt
from python_calamine import CalamineWorkbook

from provisioning.upload import services
from provisioning.upload.reader import ods_formula_cells, read_upload, xls_formula_cells
from tests.provisioning.upload.helpers import HEADER, ods_bytes, staff_row, xlsx_bytes

pytestmark = pytest.mark.django_db
FAMILY = HEADER.index("Family Name *")


def xls_bytes(rows: list[list], header: list | None = None) -> bytes:
    """An Excel 97-2003 workbook; a cell written as "=..." holds that formula."""
    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Users")
    for r, row in enumerate([header or HEADER, *rows]):
        for c, value in enumerate(row):
            is_formula = isinstance(value, str) and value.startswith("=")
            sheet.write(r, c, xlwt.Formula(value[1:]) if is_formula else value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _with_formula(fmt: str) -> bytes:
    good, bad = staff_row(1), staff_row(2)
    if fmt == "ods":
        bad[FAMILY] = "FORMULA"  # ods_bytes gives this cell a formula, its cached text "FORMULA"
        return ods_bytes([good, bad], formula=True)
    bad[FAMILY] = "=1-1"  # what Excel caches as 0
    return (xlsx_bytes if fmt == "xlsx" else xls_bytes)([good, bad])


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_formula_cell_is_an_error_naming_its_row_and_column_in_every_format(school_a, eo_user, fmt):
    table = read_upload(_with_formula(fmt), f"users.{fmt}")
    assert table.formula_cells == {(3, FAMILY)}
    plan = services.upload_plan(school=school_a, account=eo_user, table=table, mode="add_new")
    good, bad = plan.rows
    assert good.outcome == services.CREATE, good.messages
    assert bad.outcome == services.ERROR
    assert "row 3, Family Name *: holds a formula; type the value itself (or paste values only)" in [
        str(p) for p in bad.problems
    ]


def test_the_xls_upload_preview_shows_the_formula_as_a_row_error(upload_file, login, eo_user):
    response = upload_file(eo_user, _with_formula("xls"), "users.xls")
    assert response.status_code == 302
    preview = login(eo_user).get(response["Location"]).content.decode()
    assert "holds a formula" in preview


def _grid(data: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(skip_empty_area=False)


def test_xls_formula_cells_are_where_calamine_shows_their_values():
    rows = [["a", "=1+1", "b"], ["c", "d", "=2*3"], [], ["e", "", "", "", "=7"]]
    data = xls_bytes(rows, header=["h1", "h2", "=0"])
    cells = xls_formula_cells(data)
    assert cells == {(1, 2), (2, 1), (3, 2), (5, 4)}
    assert all(isinstance(_grid(data)[r - 1][c], int | float | str) for r, c in cells)


MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def _ods(table_xml: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        f'<office:spreadsheet><table:table table:name="Users">{table_xml}</table:table>'
        '<table:table table:name="Other"><table:table-row><table:table-cell table:formula="of:=1" '
        'office:value-type="string"><text:p>NOT</text:p></table:table-cell></table:table-row></table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    return buffer.getvalue()


def test_ods_formula_cells_count_repeated_rows_and_columns_as_calamine_does():
    def cell(text="", *, formula=False, repeat=1):
        attrs = ' table:formula="of:=[.A1]&gt;1"' if formula else ""
        attrs += f' table:number-columns-repeated="{repeat}"' if repeat > 1 else ""
        if not text:
            return f"<table:table-cell{attrs}/>"
        return f'<table:table-cell{attrs} office:value-type="string"><text:p>{text}</text:p></table:table-cell>'

    table = (
        f"<table:table-row>{cell('h')}{cell(repeat=2)}{cell('F1', formula=True)}</table:table-row>"
        '<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="3"/>'
        "</table:table-row>"
        f"<table:table-row>{cell('x')}<table:covered-table-cell/>{cell('F2', formula=True)}</table:table-row>"
        f"<table:table-row>{cell('F3', formula=True, repeat=2)}</table:table-row>"
    )
    data = _ods(table)
    cells = ods_formula_cells(zipfile.ZipFile(io.BytesIO(data)).read("content.xml"))
    assert cells == {(1, 3), (4, 2), (5, 0), (5, 1)}
    grid = _grid(data)
    assert {(r, c): grid[r - 1][c] for r, c in cells} == {(1, 3): "F1", (4, 2): "F2", (5, 0): "F3", (5, 1): "F3"}
