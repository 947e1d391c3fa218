"""The feed as received: stored, dated, with its row counts and every problem found.

The first stage of a sync: what the MIS pushed (the API) or a person uploaded is kept here, password
columns dropped (feed_secrets.py), parsed once (feeds.py, oneroster.py) for its counts and problems. Runs
plan from the newest accepted one.
"""

import logging

from django.core.files.base import ContentFile

from accounts.models import Account
from provisioning.models import Feed
from provisioning.sync.feed_secrets import drop_secret_columns
from provisioning.sync.feeds import FeedUnreadable, parse_feed
from provisioning.sync.policy import policy_date_order
from tenancy.models import School

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 200 * 1024 * 1024


def feed_too_large(size: int) -> str | None:
    """Why a feed of `size` bytes is refused before it is read (the API and the upload screen ask the same),
    or None."""
    if size > MAX_FEED_BYTES:
        return f"The export is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB."
    return None


def feed_receive(*, school: School, actor: Account | None, name: str, content: bytes, source: str) -> Feed:
    """Keep what the MIS sent, dated, with its row counts and every problem found.

    A feed whose rows have errors is accepted: those rows are left out of every run planned from it and
    listed with it. A feed with a structural problem (unreadable, a required file or column missing) is
    rejected: stored too (so the school sees why), but no run ever plans from it. Password columns some
    systems send are dropped first: the stored file never holds them.
    """
    errors, warnings, counts, modes, file_format, refused = [], [], {}, {}, "", True
    content, dropped = drop_secret_columns(content)
    try:
        parsed = parse_feed(content, name=name, org_identifier=school.urn, date_order=policy_date_order(school))
        errors, warnings, counts, modes = parsed.errors, parsed.warnings, parsed.row_counts(), parsed.modes
        file_format, refused = parsed.file_format, not parsed.ok
        if parsed.error_total > len(errors):
            warnings.append(f"{parsed.error_total} problems in all; the first {len(errors)} are listed.")
    except FeedUnreadable as exc:
        errors = [{"file": name, "row": None, "column": "", "message": str(exc)}]
    except Exception as exc:  # noqa: BLE001 - a broken file is the sender's problem, never a 500
        log.warning("feed %s unreadable: %s", name, exc)
        errors = [{"file": name, "row": None, "column": "", "message": f"The file cannot be read: {exc}"}]
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
    feed.file.save(name.rsplit("/", 1)[-1] or "feed", ContentFile(content), save=False)
    feed.save()
    return feed


MAX_WARNINGS = 200


def _first_warnings(warnings: list[str]) -> list[str]:
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    return warnings[: MAX_WARNINGS - 1] + [f"{len(warnings) - MAX_WARNINGS + 1} more warnings, not listed."]


def newest_feed(school: School) -> Feed | None:
    return Feed.objects.filter(school=school, state=Feed.State.VALID).order_by("-received_at").first()
