"""The feed as received: stored, dated, with its row counts and every problem found.

The first stage of a sync: what the MIS pushed (the API) or a person uploaded is kept here, password
columns dropped (feed_secrets.py), parsed once (feeds.py, oneroster.py) for its counts and problems. Runs
plan from the newest accepted one.
"""

import io
import logging
import zipfile

from django.core.files.base import ContentFile

from accounts.models import Account
from provisioning.models import Feed
from provisioning.sync.feed_diff import feed_digest
from provisioning.sync.feed_secrets import drop_secret_columns
from provisioning.sync.feeds import FeedUnreadable, parse_feed
from provisioning.sync.policy import policy_date_order
from tenancy.models import School
from tenancy.spreadsheets import csv_read_problem

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 200 * 1024 * 1024
# What a feed may unpack to. A nightly export of 100,000 people is some 20 MB of CSV; the limits leave a wide
# margin and stop a zip bomb (a small zip of blank lines, which becomes gigabytes of rows in memory) before any
# reader inflates it.
MAX_FEED_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_FEED_LINES = 2_000_000  # lines per file: 20 times the largest school's nightly export
MAX_FEED_ENTRIES = 200


def feed_too_large(size: int) -> str | None:
    """Why a feed of `size` bytes is refused before it is read (the API and the upload screen ask the same),
    or None."""
    if size > MAX_FEED_BYTES:
        return f"The export is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB."
    return None


def feed_too_big_unpacked(content: bytes) -> str | None:
    """Why a feed is refused before any reader unpacks it (a zip bomb, or millions of lines), or None.

    Every entry of a zip is inflated in chunks and counted, so an entry whose header lies about its size is
    caught as soon as the count passes the limit; a plain CSV is counted as it is."""
    if content[:2] != b"PK":
        if content.count(b"\n") > MAX_FEED_LINES:
            return f"The export has more than {MAX_FEED_LINES:,} lines: it is not a school's MIS export."
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_FEED_ENTRIES:
                return f"The zip holds {len(entries)} files; an MIS export has a handful."
            total = 0
            for entry in entries:
                lines = 0
                with archive.open(entry) as part:
                    while chunk := part.read(1024 * 1024):
                        total += len(chunk)
                        lines += chunk.count(b"\n")
                        if total > MAX_FEED_UNZIPPED_BYTES:
                            return (
                                f"The zip unpacks to more than {MAX_FEED_UNZIPPED_BYTES // (1024 * 1024)} MB: "
                                "it is not a school's MIS export."
                            )
                        if lines > MAX_FEED_LINES:
                            return (
                                f"{entry.filename} has more than {MAX_FEED_LINES:,} lines: it is not a school's "
                                "MIS export."
                            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, RuntimeError, ValueError):
        return "The zip is damaged or encrypted and cannot be opened. Export it again."
    return None


def feed_receive(*, school: School, actor: Account | None, name: str, content: bytes, source: str) -> Feed:
    """Keep what the MIS sent, dated, with its row counts and every problem found.

    A feed whose rows have errors is accepted: those rows are left out of every run planned from it and
    listed with it. A feed with a structural problem (unreadable, a required file or column missing) is
    rejected: stored too (so the school sees why), but no run ever plans from it. Password columns some
    systems send are dropped first: the stored file never holds them.
    """
    errors, warnings, counts, modes, file_format, refused, dropped = [], [], {}, {}, "", True, []
    try:
        if problem := feed_too_big_unpacked(content):
            raise FeedUnreadable(problem)
        content, dropped = drop_secret_columns(content)
        parsed = parse_feed(content, name=name, org_identifier=school.urn, date_order=policy_date_order(school))
        errors, warnings, counts, modes = parsed.errors, parsed.warnings, parsed.row_counts(), parsed.modes
        file_format, refused = parsed.file_format, not parsed.ok
        if parsed.error_total > len(errors):
            warnings.append(f"{parsed.error_total} problems in all; the first {len(errors)} are listed.")
    except FeedUnreadable as exc:
        errors = [{"file": name, "row": None, "column": "", "message": str(exc)}]
    except Exception as exc:  # noqa: BLE001 - a broken file is the sender's problem, never a 500
        log.warning("feed %s unreadable: %s", name, exc)
        errors = [
            {"file": name, "row": None, "column": "", "message": f"The file cannot be read: {csv_read_problem(exc)}"}
        ]
    if refused and not dropped and not file_format:
        # Unreadable as a whole: what it holds was never looked at, so a password column in it could not have
        # been dropped. Keep the record of the refusal, not the file.
        content = b""
    warnings = [f"{column}: a password column, dropped and not stored." for column in dropped] + warnings
    feed = Feed(
        school=school,
        file_name=name[:200],
        file_format=file_format or "rollcall_csv",
        source=source,
        state=Feed.State.REJECTED if refused else Feed.State.VALID,
        row_counts=counts,
        modes=modes,
        errors=errors,
        warnings=_first_warnings(warnings),
        received_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if feed.state == Feed.State.VALID and feed.file_format == Feed.Format.ROLLCALL_CSV:
        feed.digest = feed_digest(content)
    feed.file.save(name.rsplit("/", 1)[-1] or "feed", ContentFile(content), save=False)
    feed.save()
    return feed


MAX_WARNINGS = 200


def _first_warnings(warnings: list[str]) -> list[str]:
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    return warnings[: MAX_WARNINGS - 1] + [f"{len(warnings) - MAX_WARNINGS + 1} more warnings, not listed."]


def newest_feed(school: School) -> Feed | None:
    return newest_feeds(school).first()


def newest_feeds(school: School):
    """The school's accepted feeds, newest first: runs plan from the first."""
    return Feed.objects.filter(school=school, state=Feed.State.VALID).order_by("-received_at")
