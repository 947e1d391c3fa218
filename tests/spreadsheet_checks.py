"""Checks that a file Rollcall produced carries no formula: every cell of every sheet of every .xlsx and
.csv, also inside a zip."""

import csv
import io
import re
import zipfile

from tenancy.spreadsheets import FORMULA_STARTS

FORMULA_XML = re.compile(rb"<(\w+:)?f[ >/]")


def cells(data: bytes, name: str) -> list[tuple[str, object, str]]:
    """(where, value, type) of every cell; type is the xlsx data type, or "csv"."""
    name = name.lower()
    found = []
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                if member.lower().endswith((".csv", ".xlsx")):
                    found += [(f"{member}:{w}", v, t) for w, v, t in cells(archive.read(member), member)]
    elif name.endswith(".xlsx"):
        from openpyxl import load_workbook

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                if member.startswith("xl/worksheets/"):
                    assert not FORMULA_XML.search(archive.read(member)), f"{name}: a formula in {member}"
        book = load_workbook(io.BytesIO(data))
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                found += [(f"{sheet.title}!{c.coordinate}", c.value, c.data_type) for c in row if c.value is not None]
    elif name.endswith(".csv"):
        text = data.decode("utf-8-sig")
        for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
            found += [(f"row {number}", value, "csv") for value in row]
    else:
        raise AssertionError(f"{name}: not a spreadsheet")
    return found


def assert_no_formulas(data: bytes, name: str) -> list[tuple[str, object, str]]:
    """Fails on a formula cell (xlsx) or a CSV cell that starts like a formula; returns the cells."""
    found = cells(data, name)
    for where, value, kind in found:
        assert kind != "f", f"{name} {where}: a formula {value!r}"
        if kind == "csv":
            assert not str(value).lstrip(" ").startswith(FORMULA_STARTS), f"{name} {where}: {value!r}"
    return found
