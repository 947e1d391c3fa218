"""The school export: everything Rollcall holds for one school, as one zip of CSV and JSON files with a README
of their columns, so that a school (the data controller) can show what it holds or take it elsewhere.

Made by a background job ("School export") with progress, one table at a time; the zip is kept as the job's
report, downloadable once (then deleted) by the roles the permission table gives Perm.SCHOOL_EXPORT, and
removed unclaimed after settings.SCHOOL_EXPORT_RETENTION_DAYS (school_exports_purge). Starting and downloading
are audited.

Every CSV goes through tenancy/spreadsheets.py (formula-safe). Secrets are never exported: no password hashes,
no starter codes, no token hashes, no default password of the sync policy. Uploaded spreadsheets and MIS feeds
are listed (name, date, rows), not included: they hold the same people as people.csv, and go on their own
retention schedule.
"""

from pages.school_export.archive import readme, school_export_write
from pages.school_export.job import (
    EXPIRED,
    NOT_READY,
    TAKEN,
    ExportGone,
    latest_exports,
    school_export_make,
    school_export_start,
    school_export_take,
    school_exports_purge,
)
from pages.school_export.tables import READERS, TABLES, Table

__all__ = [
    "EXPIRED",
    "NOT_READY",
    "READERS",
    "TABLES",
    "TAKEN",
    "ExportGone",
    "Table",
    "latest_exports",
    "readme",
    "school_export_make",
    "school_export_start",
    "school_export_take",
    "school_export_write",
    "school_exports_purge",
]
