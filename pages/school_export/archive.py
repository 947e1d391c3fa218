"""Writing the school export's zip: a README of the columns, then each table as CSV (through
tenancy/spreadsheets.py, formula-safe) and JSON."""

import io
import json
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time

from django.utils import timezone

from pages.school_export.tables import READERS, TABLES
from tenancy import spreadsheets
from tenancy.models import School


def _json_value(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _csv_value(value):
    value = _json_value(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


class _Encoded:
    """A text file read as UTF-8 bytes, for shutil.copyfileobj into the zip."""

    def __init__(self, text):
        self._text = text

    def read(self, size=-1) -> bytes:
        return self._text.read(size if size is None or size < 0 else max(1, size // 4)).encode()


def readme(school: School, made_at: datetime) -> str:
    lines = [
        f"Rollcall school export: {school.name}",
        f"Made {made_at:%Y-%m-%d %H:%M} UTC.",
        "",
        "Each table comes twice: name.csv (UTF-8, for a spreadsheet; text that a spreadsheet would run as a",
        "formula starts with a quote) and name.json (a list of objects, the same columns). Ids join the tables:",
        "an account's id is people.csv's id; memberships.csv's account_id points to it.",
        "Not included: passwords (only ever stored hashed), starter codes, tokens, and the uploaded spreadsheets",
        "and MIS feed files themselves (listed in uploads and feeds).",
        "",
    ]
    for table in TABLES:
        lines += [f"{table.name}.csv / {table.name}.json: {table.about}"]
        lines += [f"  {column}: {about}" for column, about in table.columns]
        lines.append("")
    return "\n".join(lines)


def school_export_write(*, school: School, fileobj, on_progress: Callable[[int], None] | None = None) -> dict:
    """The zip, table by table; the rows each table holds."""
    counts = {}
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("README.txt", readme(school, timezone.now()))
        for done, table in enumerate(TABLES, 1):
            header = [column for column, _about in table.columns]
            n = 0
            # A zip takes one file being written at a time: the JSON waits in a spooled file beside the CSV.
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8") as out_json:
                with archive.open(f"{table.name}.csv", "w", force_zip64=True) as raw_csv:
                    out_csv = io.TextIOWrapper(raw_csv, encoding="utf-8", newline="")
                    writer = spreadsheets.csv_writer(out_csv)
                    writer.writerow(header)
                    out_json.write("[")
                    for row in READERS[table.name](school):
                        writer.writerow([_csv_value(v) for v in row])
                        record = {column: _json_value(v) for column, v in zip(header, row, strict=True)}
                        out_json.write(("," if n else "") + "\n" + json.dumps(record, ensure_ascii=False, default=str))
                        n += 1
                    out_json.write("\n]\n")
                    out_csv.flush()
                    out_csv.detach()
                out_json.seek(0)
                with archive.open(f"{table.name}.json", "w", force_zip64=True) as raw_json:
                    shutil.copyfileobj(_Encoded(out_json), raw_json)
            counts[table.name] = n
            if on_progress:
                on_progress(done)
    return counts
