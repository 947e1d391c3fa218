"""Turn an uploaded file into a header and rows, refusing anything that is not a plain spreadsheet.

Every check that protects the server runs on the raw bytes BEFORE a reader opens them: the size
limit, the file's real type (a PDF renamed .xlsx is still a PDF), and for zipped formats (.xlsx,
.ods) the archive's entry count and its declared and actual unzipped sizes (a zip bomb is refused
while being measured, never inflated in full). Spreadsheets are read with python-calamine. It gives a
formula cell's cached value only, so each format's formula cells are found in the file itself (the same
rule for .xlsx, .xls and .ods: a formula cell is an error naming its row and column).
"""

import csv
import gc
import io
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from tenancy.spreadsheets import csv_read_problem

ALLOWED_EXTENSIONS = ("xlsx", "xls", "ods", "csv", "txt", "tsv")
TEXT_EXTENSIONS = ("csv", "txt", "tsv")  # Excel saves "Unicode Text" (tab-separated UTF-16) as .txt
MAX_ZIP_ENTRIES = 200
MAX_UNZIPPED_BYTES = 60 * 1024 * 1024
MAX_ROWS = 20_000
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
DELIMITERS = (",", ";", "\t")


@contextmanager
def gc_paused():
    """Reading and planning make tens of thousands of small acyclic objects; the cyclic collector's repeated passes over
    them cost more than the checks themselves. Paused for the plan only, and switched back on after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class UploadRefused(ValidationError):
    """The whole file is refused; the message (`.message`) is shown to the person as it is.

    A ValidationError, so the API answers it as every other refusal (config.api.exception_handler)."""


@dataclass
class Table:
    format: str
    header: list[str]
    header_row: int  # the sheet's row number of the header (1-based)
    rows: list[tuple[int, list]]  # (sheet row number, cell values) for every non-blank row
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # (sheet row, 0-based column)
    dropped: list[str] = field(default_factory=list)  # password columns, cut out as the file was read


def _extension(file_name: str) -> str:
    return file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def check_size(size: int) -> None:
    limit = settings.UPLOAD_MAX_BYTES
    if size == 0:
        raise UploadRefused("The file is empty. Fill in the template and upload it again.")
    if size > limit:
        raise UploadRefused(
            f"The file is {_mb(size)}; the limit is {_mb(limit)}. Split it into smaller files and upload each."
        )


def sniff_format(data: bytes, file_name: str) -> str:
    """The file's real format, from its first bytes; the name's extension must agree."""
    ext = _extension(file_name)
    if ext not in ALLOWED_EXTENSIONS:
        raise UploadRefused(
            "Upload an Excel workbook (.xlsx or .xls), an OpenDocument sheet (.ods), a .csv file or Excel's "
            "Unicode Text (.txt)."
        )
    if data.startswith(b"%PDF"):
        raise UploadRefused(f"{file_name} is a PDF document, not a spreadsheet. Upload the completed template.")
    if data.startswith(ZIP_MAGIC):
        actual = "zip"
    elif data.startswith(OLE_MAGIC):
        actual = "xls"
    elif data.startswith(UTF16_BOMS):
        actual = "csv"  # UTF-16 text is full of zero bytes, and is still text
    elif b"\x00" in data[:8192]:
        actual = "binary"
    else:
        actual = "csv"
    expected = {"xlsx": "zip", "ods": "zip", "xls": "xls"}.get(ext, "csv")
    if actual != expected:
        raise UploadRefused(
            f"{file_name} is named .{ext} but is not a {ext.upper()} file. "
            "Open it in your spreadsheet program and save it as .xlsx or .csv."
        )
    return "csv" if ext in TEXT_EXTENSIONS else ext


def check_zip(data: bytes) -> dict[str, bytes]:
    """Measure a zipped workbook without trusting it; returns the few small parts we scan ourselves.

    The declared sizes are checked first, then every entry is inflated in chunks and counted, so a
    header that lies about its size is caught before the total passes the limit.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UploadRefused("The workbook is damaged and cannot be opened. Save it again and upload it.") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UploadRefused(f"The workbook holds {len(entries)} parts; a user list needs far fewer. Save it again.")
    declared = sum(entry.file_size for entry in entries)
    if declared > MAX_UNZIPPED_BYTES:
        raise UploadRefused(_too_big_unzipped(declared))
    kept: dict[str, bytes] = {}
    wanted = re.compile(r"^(xl/workbook\.xml|xl/_rels/workbook\.xml\.rels|xl/worksheets/[^/]+\.xml|content\.xml)$")
    total = 0
    try:
        for entry in entries:
            keep = bool(wanted.match(entry.filename))
            chunks = []
            with archive.open(entry) as part:
                while chunk := part.read(1024 * 1024):
                    total += len(chunk)
                    if total > MAX_UNZIPPED_BYTES:
                        raise UploadRefused(_too_big_unzipped(total))
                    if keep:
                        chunks.append(chunk)
            if keep:
                kept[entry.filename] = b"".join(chunks)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, RuntimeError) as exc:
        raise UploadRefused("The workbook is damaged or encrypted and cannot be opened. Save it again.") from exc
    return kept


def _too_big_unzipped(size: int) -> str:
    return (
        f"The workbook unpacks to more than {_mb(MAX_UNZIPPED_BYTES)} (at least {_mb(size)}), far more than a user "
        "list needs. Copy the rows into the downloaded template and upload that."
    )


# --- formulas ------------------------------------------------------------------------------
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _first_sheet_part(parts: dict[str, bytes]) -> str | None:
    workbook = parts.get("xl/workbook.xml", b"")
    rels = parts.get("xl/_rels/workbook.xml.rels", b"")
    sheet = re.search(rb"<(?:\w+:)?sheet\b[^>]*?\br:id=\"([^\"]+)\"", workbook)
    if not sheet:
        return None
    rel = re.search(rb'<Relationship\b[^>]*\bId="' + re.escape(sheet.group(1)) + rb'"[^>]*>', rels)
    target = re.search(rb'Target="([^"]+)"', rel.group(0)) if rel else None
    if not target:
        return None
    path = target.group(1).decode().lstrip("/")
    return path if path.startswith("xl/") else f"xl/{path}"


def xlsx_formula_cells(parts: dict[str, bytes]) -> set[tuple[int, int]]:
    """Cells of the first sheet that hold a formula: calamine reads only their cached value."""
    xml = parts.get(_first_sheet_part(parts) or "", b"")
    if b"<f" not in xml:
        return set()
    found = set()
    for match in _CELL.finditer(xml):
        inner = match.group(2) or b""
        if b"<f" in inner:
            ref = _REF.search(match.group(1))
            if ref:
                found.add((int(ref.group(2)), _column_index(ref.group(1))))
    return found


_ODS_TAG = re.compile(
    rb"""<(/?)table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*?)(/?)>"""
)
_ODS_REPEAT = re.compile(rb'table:number-(?:rows|columns)-repeated="(\d+)"')


def ods_formula_cells(content: bytes) -> set[tuple[int, int]]:
    """Cells of the first table of an OpenDocument sheet's content.xml that hold a formula (calamine reads only
    their cached value): rows and cells are counted with their repeats, as a spreadsheet program shows them."""
    found: set[tuple[int, int]] = set()
    if b"table:formula=" not in content:
        return found
    row = col = row_repeat = tables = 0
    for match in _ODS_TAG.finditer(content):
        closing, tag, attrs, empty = match.groups()
        if tag == b"table":
            tables += 1 if not closing else 0
            if closing or tables > 1:
                break
            continue
        repeat = _ODS_REPEAT.search(attrs)
        n = min(int(repeat.group(1)), MAX_ROWS + 2) if repeat else 1
        if tag == b"table-row":
            if closing:
                row += row_repeat
            elif empty:
                row += n
            else:
                row_repeat, col = n, 0
        elif not closing:
            if b"table:formula=" in attrs:
                found.update((row + r + 1, col + c) for r in range(row_repeat) for c in range(n))
            col += n
    return found


_BIFF_BOF = {0x0009, 0x0209, 0x0409, 0x0809}
_BIFF_EOF, _BIFF_BOUNDSHEET, _BIFF_FORMULA, _BIFF_FILEPASS = 0x000A, 0x0085, 0x0006, 0x002F


def xls_formula_cells(data: bytes) -> set[tuple[int, int]]:
    """Cells of the first sheet of an Excel 97-2003 workbook that hold a formula. python-calamine (0.9) gives
    only their cached value and no way to ask for formulas, so the sheet's FORMULA records are found in the
    workbook's BIFF stream itself (read from the OLE file with olefile): each names its cell's row and column."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
            stream = ole.openstream(name).read() if name else b""
    except Exception as exc:  # noqa: BLE001 - olefile raises several kinds for a damaged file
        raise UploadRefused(
            "The spreadsheet cannot be read; it may be damaged or password protected. Save it again and upload it."
        ) from exc
    first_sheet = None
    for rtype, body in _biff_records(stream, 0):
        if rtype == _BIFF_FILEPASS:
            return set()  # encrypted: calamine refuses it
        if rtype == _BIFF_BOUNDSHEET and first_sheet is None and len(body) >= 4:
            first_sheet = int.from_bytes(body[:4], "little")
        if rtype == _BIFF_EOF:
            break
    if first_sheet is None:
        return set()
    found, depth = set(), 0
    for rtype, body in _biff_records(stream, first_sheet):
        if rtype in _BIFF_BOF:
            depth += 1  # an embedded chart has a BOF ... EOF of its own inside the sheet's
        elif rtype == _BIFF_EOF:
            depth -= 1
            if depth <= 0:
                break
        elif rtype == _BIFF_FORMULA and depth == 1 and len(body) >= 4:
            found.add((int.from_bytes(body[0:2], "little") + 1, int.from_bytes(body[2:4], "little")))
    return found


def _biff_records(stream: bytes, pos: int):
    """(record type, record data) from `pos` on: each record is a 2-byte type, a 2-byte length, then its data."""
    while pos + 4 <= len(stream):
        rtype, size = (
            int.from_bytes(stream[pos : pos + 2], "little"),
            int.from_bytes(stream[pos + 2 : pos + 4], "little"),
        )
        yield rtype, stream[pos + 4 : pos + 4 + size]
        pos += 4 + size


# --- readers ---------------------------------------------------------------------------------
def _decode_text(data: bytes) -> str:
    """Text as schools' programs save it: UTF-16 with its byte-order mark (Excel's "Unicode Text"), UTF-8 with or
    without a BOM (Excel's "CSV UTF-8", LibreOffice), else Windows-1252 (Excel's plain "CSV" on a Windows PC in
    the UK). UTF-8 is tried first: a Windows-1252 file with any accented letter is almost never valid UTF-8."""
    if data.startswith(UTF16_BOMS):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UploadRefused("The text file is damaged: it says it is UTF-16 but is not. Save it again.") from exc
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadRefused("The CSV file is not UTF-8 or Windows-1252 text. Save it as 'CSV UTF-8' and upload it again.")


def _delimiter(text: str) -> str:
    """The separator, from the header line (the first line with text): the one of , ; and tab it holds most often
    outside quotes. A one-column file has none and is read with commas, which then changes nothing; a comma inside
    a quoted name in a later row is left to the csv reader."""
    line = next((ln for ln in text[:65536].splitlines() if ln.strip()), "")
    outside = "".join(part for index, part in enumerate(line.split('"')) if index % 2 == 0)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the first: the comma
    return best if counts[best] else ","


def _read_csv(data: bytes) -> list[list]:
    text = _decode_text(data)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as exc:
        raise UploadRefused(f"The CSV file cannot be read: {csv_read_problem(exc)}") from exc


def _read_sheet(data: bytes) -> list[list]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            return []
        return workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own errors for damaged files
        raise UploadRefused(
            "The spreadsheet cannot be read; it may be damaged or password protected. Save it again and upload it."
        ) from exc


def _has_value(row) -> bool:
    for value in row:
        if value is None or value == "":
            continue
        if isinstance(value, str) and not value.strip():
            continue
        return True
    return False


def read_upload(data: bytes, file_name: str) -> Table:
    check_size(len(data))
    fmt = sniff_format(data, file_name)
    formula_cells: set[tuple[int, int]] = set()
    if fmt in ("xlsx", "ods"):
        parts = check_zip(data)
        if fmt == "xlsx":
            if "xl/workbook.xml" not in parts:
                raise UploadRefused(f"{file_name} is not an Excel workbook. Upload the completed template.")
            formula_cells = xlsx_formula_cells(parts)
        elif "content.xml" not in parts:
            raise UploadRefused(f"{file_name} is not an OpenDocument spreadsheet.")
        else:
            formula_cells = ods_formula_cells(parts["content.xml"])
    elif fmt == "xls":
        formula_cells = xls_formula_cells(data)
    with gc_paused():
        grid = _read_csv(data) if fmt == "csv" else _read_sheet(data)
        numbered = [(number, row) for number, row in enumerate(grid, start=1) if _has_value(row)]
    if not numbered:
        raise UploadRefused("The file has no rows. Fill in the template and upload it again.")
    header_row, header = numbered[0]
    rows = numbered[1:]
    header, rows, formula_cells, dropped = _without_secret_columns(header, rows, formula_cells)
    if not rows:
        raise UploadRefused("The file has a header row but no people in it. Add one row per person.")
    if len(rows) > MAX_ROWS:
        raise UploadRefused(f"The file has {len(rows):,} rows; upload at most {MAX_ROWS:,} at a time.")
    return Table(
        format=fmt,
        header=["" if v is None else str(v).strip() for v in header],
        header_row=header_row,
        rows=rows,
        formula_cells=formula_cells,
        dropped=dropped,
    )


def _without_secret_columns(header, rows, formula_cells):
    """A password column (Password, PWD, Initial Password...) is cut out as the file is read: no preview,
    checked file, result file or stored copy ever holds it (feed_secrets' rule, the same for feeds)."""
    from provisioning.sync.feed_secrets import is_secret_header

    drop = {i for i, name in enumerate(header) if is_secret_header(name)}
    if not drop:
        return header, rows, formula_cells, []
    keep = [i for i in range(len(header)) if i not in drop]
    new_index = {old: new for new, old in enumerate(keep)}
    dropped = [str(header[i]).strip() for i in sorted(drop)]
    header = [header[i] for i in keep]
    rows = [(number, [cells[i] if i < len(cells) else None for i in keep]) for number, cells in rows]
    formula_cells = {(r, new_index[c]) for r, c in formula_cells if c in new_index}
    return header, rows, formula_cells, dropped


def table_csv(table: Table) -> bytes:
    """The table as a CSV Rollcall reads back itself (same row numbers: blank rows kept), for storing a file
    whose password columns were cut out instead of the file as sent."""
    from tenancy.spreadsheets import internal_csv_writer

    out = io.StringIO()
    writer = internal_csv_writer(out)
    line = 1
    for number, cells in [(table.header_row, table.header), *table.rows]:
        for _ in range(number - line):
            writer.writerow([])
        line = number + 1
        writer.writerow(["" if v is None else str(v) for v in cells])
    return out.getvalue().encode("utf-8")
