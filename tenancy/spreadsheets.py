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
import io
import re

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


def csv_read_problem(exc: Exception) -> str:
    """What Python's csv reader refused, in the words of the person who sent the file."""
    text = str(exc)
    if "field larger than field limit" in text:
        return (
            f"A cell is longer than {csv.field_size_limit():,} characters: no field of a user list or MIS export "
            "is that long. Check the file (a missing closing quote makes the rest of the file one cell)."
        )
    return text
