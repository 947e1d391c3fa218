"""Spreadsheets built the way admins build them: openpyxl for .xlsx, text for .csv."""

import csv
import io

from openpyxl import Workbook

HEADER = ["Username *", "Given Names *", "Family Name *", "Email", "Person Type", "Role", "MIS Code"]


def staff_row(n: int, role: str = "INV", domain: str = "alder.sch.uk") -> list:
    return [f"new.person{n}", f"Given{n}", f"Family{n}", f"new.person{n}@{domain}", "Staff", role, f"S{n:05d}"]


def xlsx_bytes(rows: list[list], header: list | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], header: list | None = None, *, delimiter=",", encoding="utf-8", bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data
