"""Spreadsheets built the way admins build them: openpyxl for .xlsx, text for .csv."""

import csv
import io

from openpyxl import Workbook

HEADER = ["User Name", "Given Names *", "Family Name *", "Email", "Person Type", "Roles", "MIS Code"]


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


def ods_bytes(rows: list[list], header: list | None = None, *, formula: bool = False) -> bytes:
    """A minimal OpenDocument spreadsheet, as LibreOffice saves one (mimetype, content, manifest)."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(value):
        if isinstance(value, int | float):
            attrs = f'office:value-type="float" office:value="{value}"'
            return f"<table:table-cell {attrs}><text:p>{value}</text:p></table:table-cell>"
        extra = ' table:formula="of:=1+1"' if formula and value == "FORMULA" else ""
        attrs = f'office:value-type="string"{extra}'
        return f"<table:table-cell {attrs}><text:p>{escape(str(value))}</text:p></table:table-cell>"

    body = "".join(
        "<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in [header or HEADER, *rows]
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        f'<office:spreadsheet><table:table table:name="Users">{body}</table:table></office:spreadsheet>'
        "</office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()
