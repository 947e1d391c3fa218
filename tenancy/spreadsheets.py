"""The one writer of every spreadsheet Rollcall hands to a person: each .xlsx and .csv export.

Names, MIS codes, emails and year groups come from MIS feeds and from people, so a value such as
`=cmd|' /C calc'!A0` must never run as a formula in the spreadsheet program of whoever opens the file
(OWASP "CSV injection"). Every export goes through here:

- CSV: a text cell starting with = + - @ TAB CR LF (or their full-width forms, which some spreadsheet
  programs also read as a formula) is prefixed with a single quote.
- .xlsx: every text cell is written as text (never as a formula) whatever it starts with, so a name reads
  back exactly as it was sent; characters XML forbids are dropped.

tests/tenancy/test_spreadsheets.py holds every other module to this: none imports openpyxl's Workbook or
csv.writer itself.
"""

import csv
import datetime
import io
import re
import zipfile

# = + - @ and their full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20); TAB, CR, LF start a hidden formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS)


# --- CSV ----------------------------------------------------------------------------------------------


def csv_cell(value):
    """A value as a CSV export may carry it: formula-like text behind a single quote."""
    if is_formula_like(value):
        return "'" + value
    return value


class _SafeCsvWriter:
    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([csv_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> _SafeCsvWriter:
    """csv.writer for an export: every cell neutralised."""
    return _SafeCsvWriter(out, **kwargs)


def csv_bytes(rows, *, bom: bool = False, encoding: str = "utf-8") -> bytes:
    """Rows as an export CSV; bom=True tells Excel the file is UTF-8."""
    out = io.StringIO()
    csv_writer(out).writerows(rows)
    data = out.getvalue().encode(encoding)
    return ("\ufeff".encode() + data) if bom else data


def internal_csv_writer(out, **kwargs):
    """A plain csv.writer for a file Rollcall only reads back itself and never hands to anyone (the sync
    run's starter codes kept until its slips are made): quoting a value there would change the value."""
    return csv.writer(out, **kwargs)


# --- .xlsx --------------------------------------------------------------------------------------------


def workbook(*, write_only: bool = False):
    """A new openpyxl workbook; fill it with text_cells and save it with xlsx_bytes or xlsx_save."""
    from openpyxl import Workbook

    return Workbook(write_only=write_only)


def xlsx_value(value):
    """A cell value: whole floats as integers (1234.0 -> 1234), text without characters XML forbids."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("", value)
    return value


def text_cell(sheet, value):
    """One cell for sheet.append: text stays text, never a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, xlsx_value(value))
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def text_cells(sheet, values) -> list:
    """A row for sheet.append (write-only or not): every value a cell, text written as text."""
    return [text_cell(sheet, v) for v in values]


def _no_formulas(book) -> None:
    """A normal (not write-only) workbook's cells set by index: any text read as a formula becomes text."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def xlsx_save(book, target) -> None:
    """Save to a path or a file object."""
    if not getattr(book, "write_only", False):
        _no_formulas(book)
    book.save(target)


def xlsx_bytes(book) -> bytes:
    buffer = io.BytesIO()
    xlsx_save(book, buffer)
    return buffer.getvalue()


# --- .xlsx of one sheet of rows, written directly ----------------------------------------------------------

# The styles a row_workbook cell may carry: none, a bold font, or a solid fill of one of the given colours.
BOLD = 1


def fill_style(index: int) -> int:
    """The style of the index-th colour in row_workbook's fills."""
    return 2 + index


_DATE_STYLE, _DATETIME_STYLE = -1, -2  # kept apart from the caller's styles; numbered after them when written
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EPOCH = datetime.datetime(1899, 12, 30)


def _column_letters(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text_xml(value: str) -> str:
    # Printable ASCII holds nothing _ILLEGAL_XML takes out: a 10,000-person upload's two sheets are 150,000
    # cells, most of them plain names, codes and addresses.
    if not (value.isascii() and value.isprintable()):
        value = _ILLEGAL_XML.sub("", value)
    if "&" in value or "<" in value or ">" in value:
        value = value.translate(_XML_ESCAPES)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<is><t xml:space="preserve">{value}</t></is>'
    return f"<is><t>{value}</t></is>"


def _cell_xml(ref: str, value, style: int, date_xf: dict) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"{s}>{_text_xml(value)}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{xlsx_value(value)!r}</v></c>'
    if isinstance(value, datetime.datetime | datetime.date):
        moment = value if isinstance(value, datetime.datetime) else datetime.datetime.combine(value, datetime.time())
        serial = (moment.replace(tzinfo=None) - _EPOCH) / datetime.timedelta(days=1)
        kind = _DATETIME_STYLE if isinstance(value, datetime.datetime) else _DATE_STYLE
        return f'<c r="{ref}" s="{date_xf[kind]}"><v>{serial!r}</v></c>'
    return f'<c r="{ref}" t="inlineStr"{s}>{_text_xml(str(value))}</c>'


def row_workbook(sheet_name: str, rows, *, fills: tuple[str, ...] = ()) -> bytes:
    """An .xlsx of one sheet, from rows of cells, written as its XML directly: openpyxl's writer costs about
    half a millisecond a row (an object and an XML element per cell), which made an upload's result and
    starter-code sheets for 10,000 people take longer than writing the people. The same rules as the
    workbooks above: text is always an inline string (never a formula), without characters XML forbids.

    A row is a list of cells (an empty list leaves the sheet's row empty); a cell is a value, or a
    (value, style) pair with style BOLD or fill_style(i) for the i-th of `fills` (RGB hex colours).
    Numbers stay numbers, dates dates (unstyled); None leaves the cell empty."""
    date_xf = {_DATE_STYLE: 2 + len(fills), _DATETIME_STYLE: 3 + len(fills)}
    letters: list[str] = []
    out = [f"{_HEAD}<worksheet {_NS}><sheetData>"]
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        while len(letters) < len(row):
            letters.append(_column_letters(len(letters) + 1))
        cells = []
        for letter, cell in zip(letters, row, strict=False):
            value, style = cell if isinstance(cell, tuple) else (cell, 0)
            if value is not None:
                cells.append(_cell_xml(f"{letter}{number}", value, style, date_xf))
            elif style:  # an empty cell highlighted (a required value missing)
                cells.append(f'<c r="{letter}{number}" s="{style}"/>')
        out.append(f'<row r="{number}">{"".join(cells)}</row>')
    out.append("</sheetData></worksheet>")
    name = xlsx_value(sheet_name).translate(_XML_ESCAPES).replace('"', "&quot;")
    solid = "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="00{c}"/><bgColor indexed="64"/></patternFill></fill>'
        for c in fills
    )
    xfs = '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>' + "".join(
        f'<xf numFmtId="0" fontId="0" fillId="{2 + i}" borderId="0" xfId="0" applyFill="1"/>' for i in range(len(fills))
    )
    xfs += '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    xfs += '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    styles = (
        f'{_HEAD}<styleSheet {_NS}><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        f'<fills count="{2 + len(fills)}"><fill><patternFill patternType="none"/></fill>'
        f'<fill><patternFill patternType="gray125"/></fill>{solid}</fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{4 + len(fills)}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>{xfs}'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    )
    parts = {
        "[Content_Types].xml": (
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{_HEAD}<workbook {_NS} xmlns:r="{_REL}"><sheets>'
            f'<sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{_HEAD}<Relationships xmlns="{_PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": styles,
        "xl/worksheets/sheet1.xml": "".join(out),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for part, text in parts.items():
            archive.writestr(part, text.encode())
    return buffer.getvalue()


def csv_read_problem(exc: Exception) -> str:
    """What Python's csv reader refused, in the words of the person who sent the file."""
    text = str(exc)
    if "field larger than field limit" in text:
        return (
            f"A cell is longer than {csv.field_size_limit():,} characters: no field of a user list or MIS export "
            "is that long. Check the file (a missing closing quote makes the rest of the file one cell)."
        )
    return text
