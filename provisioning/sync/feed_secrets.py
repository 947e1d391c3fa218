"""Passwords never reach the disk: a feed's password columns are dropped before it is stored.

Other systems put plaintext passwords in their exports (Microsoft School Data Sync has a Password column,
OneRoster a `password` column in users.csv). Rollcall never uses them (accounts get starter codes or
set-password links), so any column whose header reads as a password is cut out of every CSV file and sheet
of the feed, and the feed is stored as rewritten. A feed with no such column is stored byte for byte as
sent (the nightly comparison reads its lines).
"""

import csv
import io
import re
import zipfile

from provisioning.sync.feeds import _decode, cell_text
from tenancy.spreadsheets import internal_csv_writer, text_cells, workbook, xlsx_save

SECRET_WORDS = ("password", "passwd", "passwort", "passcode", "motdepasse", "contrasena", "wachtwoord")
SECRET_KEYS = {"pwd", "pw", "pass", "initialpwd", "temppwd", "defaultpwd"}


def is_secret_header(name) -> bool:
    """Password, passwd, PWD, "Initial Password", user_password, Temp-Password...: any spelling."""
    key = re.sub(r"[^a-z0-9]", "", str(name or "").lower())
    return bool(key) and (key in SECRET_KEYS or any(word in key for word in SECRET_WORDS))


def drop_secret_columns(content: bytes) -> tuple[bytes, list[str]]:
    """The feed without its password columns, and which were dropped ("users.csv: password")."""
    try:
        if content[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = archive.namelist()
                if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                    return _xlsx_without(content)
                return _zip_without(archive, content)
        rewritten = _csv_without(content)
        if rewritten is None:
            return content, []
        return rewritten[0], [f"the file: {name}" for name in rewritten[1]]
    except (zipfile.BadZipFile, csv.Error, UnicodeError):
        return content, []  # unreadable: refused as such by the parser, and there is no column to find


def _csv_without(data: bytes) -> tuple[bytes, list[str]] | None:
    first = data.split(b"\n", 1)[0]
    if first.count(b'"') % 2 == 0:  # the header is on one line: read it alone (a nightly feed has 100,000 rows)
        header = next(csv.reader([_decode(first).rstrip("\r")]), [])
        if not any(is_secret_header(name) for name in header):
            return None
    rows = list(csv.reader(io.StringIO(_decode(data))))
    if not rows:
        return None
    drop = {i for i, name in enumerate(rows[0]) if is_secret_header(name)}
    if not drop:
        return None
    out = io.StringIO()
    writer = internal_csv_writer(out)  # the feed as the MIS sent it, minus the column: never a formula guard
    for row in rows:
        writer.writerow([cell for i, cell in enumerate(row) if i not in drop])
    return out.getvalue().encode("utf-8"), [rows[0][i].strip() for i in sorted(drop)]


def _zip_without(archive: zipfile.ZipFile, content: bytes) -> tuple[bytes, list[str]]:
    dropped, members = [], []
    for info in archive.infolist():
        data = archive.read(info)
        if info.filename.lower().endswith(".csv"):
            rewritten = _csv_without(data)
            if rewritten is not None:
                data = rewritten[0]
                base = info.filename.rsplit("/", 1)[-1]
                dropped += [f"{base}: {name}" for name in rewritten[1]]
        members.append((info.filename, data))
    if not dropped:
        return content, []
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rebuilt:  # a new archive: no trace of the old entries
        for name, data in members:
            rebuilt.writestr(name, data)
    return out.getvalue(), dropped


def _xlsx_without(content: bytes) -> tuple[bytes, list[str]]:
    """A workbook with a password column is written again, every cell as the text the parser reads."""
    from python_calamine import CalamineWorkbook

    try:
        source = CalamineWorkbook.from_filelike(io.BytesIO(content))
    except Exception:  # noqa: BLE001 - unreadable: refused by the parser, and no column to find
        return content, []
    headers = [source.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=1) for name in source.sheet_names]
    if not any(is_secret_header(cell_text(v)) for rows in headers for v in (rows[0] if rows else [])):
        return content, []  # the usual case: no sheet read beyond its header
    sheets = []
    for name in source.sheet_names:
        rows = [[cell_text(v) for v in row] for row in source.get_sheet_by_name(name).to_python(skip_empty_area=False)]
        drop = {i for i, header in enumerate(rows[0] if rows else []) if is_secret_header(header)}
        sheets.append((name, rows, drop))
    dropped = [f"{name}: {rows[0][i]}" for name, rows, drop in sheets for i in sorted(drop)]
    if not dropped:
        return content, []
    book = workbook(write_only=True)
    for name, rows, drop in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(text_cells(sheet, [cell for i, cell in enumerate(row) if i not in drop]))
    out = io.BytesIO()
    xlsx_save(book, out)
    return out.getvalue(), dropped
