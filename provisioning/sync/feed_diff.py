"""Two feeds compared line by line, as bytes: which lines are new, changed or gone since the last applied run's feed.

incremental.py plans from these lines alone. Only a Rollcall CSV feed with the same files and headers is
compared; anything it cannot read the same way both times (a quoted line break, an odd separator at a
code's edge) makes the comparison step aside, and the run plans in full.
"""

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass

from provisioning.sync import feeds

PERSON_FILES, LINK_FILE = feeds.PERSON_FILES, feeds.LINK_FILE


@dataclass
class FeedFile:
    header: list[str]
    data: bytes
    lines: list[bytes]  # data lines, without the header
    encoding: str
    quoted: bool


def feed_files(content: bytes) -> dict[str, FeedFile] | None:
    """The export's CSV files as lines. None for anything a line-by-line comparison could misread."""
    entries = _csv_entries(content)
    if entries is None:
        return None
    files = {}
    for name, data in entries:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
        lines = data.splitlines()
        quoted = b'"' in data
        if quoted and any(line.count(b'"') % 2 for line in lines if b'"' in line):
            return None  # a quoted line break: a record is not a line
        if not lines:
            return None
        header = next(csv.reader([lines[0].decode(encoding, errors="replace")]), [])
        files[name] = FeedFile(header=header, data=data, lines=lines[1:], encoding=encoding, quoted=quoted)
    return files or None


def _csv_entries(content: bytes) -> list[tuple[str, bytes]] | None:
    """(file name, bytes without a byte order mark) of the export's CSV files this comparison reads, in the
    zip's order; None when it is not a zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except zipfile.BadZipFile:
        return None
    entries = []
    for info in infos:
        base = info.filename.rsplit("/", 1)[-1].lower()
        if not base.endswith(".csv") or base[:-4] not in (*PERSON_FILES, LINK_FILE):
            continue
        data = archive.read(info)
        entries.append((base[:-4], data[3:] if data.startswith(b"\xef\xbb\xbf") else data))
    return entries


def feed_digest(content: bytes) -> str:
    """A digest of exactly what feed_files reads of an export (each CSV file's name and bytes, in order), kept
    with the feed when it is received: two exports with the same digest read as the same lines, whatever the
    zip's own dates (an MIS agent zips its export afresh each night). "" when it is not a zip of such files."""
    entries = _csv_entries(content)
    if not entries:
        return ""
    digest = hashlib.sha256()
    for name, data in entries:
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def read_cells(file: FeedFile, lines: list[bytes]) -> list[list[str]]:
    text = [line.decode(file.encoding, errors="replace") for line in lines]
    if not file.quoted:
        return [t.split(",") for t in text]
    return list(csv.reader(text))


def column_at(file: FeedFile, column: str) -> int | None:
    for i, name in enumerate(file.header):
        if feeds.normalise_header(name) == column:
            return i
    return None


def cell_at(cells: list[str], i: int | None) -> str:
    return cells[i].strip() if i is not None and i < len(cells) else ""


BLANK = b' ,"\t\r'


def added_removed(new: FeedFile, old: FeedFile) -> tuple[list[bytes] | None, list[bytes]]:
    """New or changed lines (in file order) and lines gone; None when most of the file changed, as
    planning in full then costs no more."""
    if new.data == old.data:
        return [], []  # the nightly case: a file exactly as it was
    old_set, new_set = set(old.lines), set(new.lines)
    added = [line for line in new.lines if line not in old_set]
    removed = [line for line in old.lines if line not in new_set]
    if len(added) + len(removed) > len(new.lines) // 2 + 50:
        return None, removed
    return added, removed


def pairs(file: FeedFile, lines: list[bytes], contact_at: int, student_at: int) -> list[tuple[bytes, bytes]]:
    """(contact code, student code) of each line as bytes in the file's encoding, without decoding or reading
    the other cells. Without quoting a comma always ends a cell, in UTF-8 and Windows-1252 alike, and
    bytes.strip() is str.strip() unless a cell begins or ends with a byte beyond ASCII's printable range (a
    Unicode space, say): such a line alone goes through the csv reader."""
    if file.quoted:
        return [_pair_read(file, cells, contact_at, student_at) for cells in read_cells(file, lines)]
    last = max(contact_at, student_at)
    out = []
    for line in lines:
        cells = line.split(b",", last + 1)
        if len(cells) <= last:
            cells += [b""] * (last + 1 - len(cells))
        out.append((cells[contact_at].strip(), cells[student_at].strip()))
    separators = any(b in file.data for b in _ODD_EDGES)
    if separators or not file.data.isascii():
        for i, (contact, student) in enumerate(out):
            if (separators or not (contact.isascii() and student.isascii())) and (_odd(contact) or _odd(student)):
                out[i] = _pair_read(file, read_cells(file, [lines[i]])[0], contact_at, student_at)
    return out


_ODD_EDGES = [bytes([b]) for b in range(28, 32)]  # str.strip() takes these ASCII separators off; bytes.strip() not


def first_lines(pairs: list[tuple[bytes, bytes]], lines: list[bytes]) -> dict[tuple[bytes, bytes], bytes]:
    first: dict[tuple[bytes, bytes], bytes] = {}
    keep_first = first.setdefault
    for pair, line in zip(pairs, lines, strict=True):
        keep_first(pair, line)
    first.pop((b"", b""), None)
    return first


def _odd(code: bytes) -> bool:
    return bool(code) and (code[0] > 127 or 28 <= code[0] < 32 or code[-1] > 127 or 28 <= code[-1] < 32)


def _pair_read(file: FeedFile, cells: list[str], contact_at: int, student_at: int) -> tuple[bytes, bytes]:
    return cell_at(cells, contact_at).encode(file.encoding), cell_at(cells, student_at).encode(file.encoding)
