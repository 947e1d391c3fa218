"""Microsoft School Data Sync (SDS) CSV exports, read into the same ParsedFeed as Rollcall's export.

Many schools already export these for Microsoft 365, so Rollcall reads both versions as they are:

- v2.1 (v21.py): orgs.csv, users.csv, roles.csv (+ relationships.csv for guardians). A person's type comes
  from their current roles at the school's own org in roles.csv (student; teacher, staff and the other staff
  roles); a person with no roles row at all is a contact when relationships.csv relates them to one of the
  school's students.
- v1, the "UK format" (v1.py): School.csv, Student.csv, Teacher.csv keyed by DfE number (+ user.csv and
  guardianrelationship.csv, SDS v1's parent and guardian files). The standard v1 headers (SIS ID, School SIS
  ID) are read too.

Both are full snapshots (SDS itself treats a record missing from the next upload as no longer active). Only
parents and guardians get parent portal access; other relationships (relative, aide...) are links without it.
Class files are not synchronised and are ignored with a warning. See docs/feed-sds.md.
"""

from datetime import date

from provisioning.sync.feed_dates import ISO
from provisioning.sync.feeds import ParsedFeed
from provisioning.sync.sds.common import SDS_21, SDS_V1, V1_FILES, V21_FILES, Tables
from provisioning.sync.sds.v1 import read_v1
from provisioning.sync.sds.v21 import read_v21

__all__ = ["SDS_21", "SDS_V1", "V1_FILES", "V21_FILES", "parse_sds"]


def parse_sds(content: bytes, *, file_format: str, today: date | None = None, org_identifier: str = "",
              date_order: str = ISO) -> ParsedFeed:  # fmt: skip
    """org_identifier (the school's URN / DfE number) picks the school's own people out of an export that
    lists several schools; date_order is the school's "Dates in feeds"."""
    feed = ParsedFeed(file_format=file_format)
    tables = Tables(content)
    if file_format == SDS_21:
        read_v21(feed, tables, today=today or date.today(), org_identifier=org_identifier, date_order=date_order)
    else:
        read_v1(feed, tables, org_identifier=org_identifier)
    for kind in ("student", "staff", "contact"):
        if feed.modes.get(kind) == "bulk":
            feed.people.setdefault(kind, [])
    return feed
