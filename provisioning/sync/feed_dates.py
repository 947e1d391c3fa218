"""Dates in feeds, read in the one order the school chose (the sync policy's "Dates in feeds").

03/04/2012 is 3 April in the UK and March 4 in the US: nothing in the text says which, so it is never
guessed. YYYY-MM-DD (and YYYYMMDD, which Microsoft also recommends) is read whatever the setting; a date
written day and month with slashes, dots or dashes is read only when the school said which comes first.
"""

import re
from calendar import month_name
from datetime import date

ISO, DAY_FIRST, MONTH_FIRST = "iso", "dmy", "mdy"
SETTING = "Dates in feeds on Bulk User Synchronise"
_PARTS = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_COMPACT = re.compile(r"\d{8}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


class FeedDateError(ValueError):
    """Why a date cannot be read, in words for the school."""


def parse_feed_date(text: str, order: str = ISO) -> date:
    """The date `text` names under the school's order, or FeedDateError saying why not."""
    text = text.strip()
    if _ISO.fullmatch(text):
        return _date(text, int(text[:4]), int(text[5:7]), int(text[8:]))
    if _COMPACT.fullmatch(text):
        return _date(text, int(text[:4]), int(text[4:6]), int(text[6:]))
    parts = _PARTS.fullmatch(text)
    if parts is None:
        raise FeedDateError(f"{text!r} is not a date: write it as YYYY-MM-DD.")
    first, second, year = (int(p) for p in parts.groups())
    if order == DAY_FIRST:
        return _date(text, year, second, first, "as day/month/year, as Dates in feeds says")
    if order == MONTH_FIRST:
        return _date(text, year, first, second, "as month/day/year, as Dates in feeds says")
    if first <= 12 and second <= 12 and first != second:
        raise FeedDateError(
            f"{text!r} could be {first} {month_name[second]} {year} (day first) or {second} {month_name[first]} "
            f"{year} (month first). Write dates as YYYY-MM-DD, or choose the order your MIS uses under {SETTING}."
        )
    raise FeedDateError(
        f"{text!r} is not a date as YYYY-MM-DD. If your MIS writes dates this way, choose its order under {SETTING}."
    )


def _date(text: str, year: int, month: int, day: int, reading: str = "") -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise FeedDateError(f"{text!r} is not a real date{' ' + reading if reading else ''}.") from None


def read_feed_date(feed, file: str, number: int, column: str, text: str, date_order: str) -> tuple[date | None, bool]:
    """A date cell of any feed format: (the date or None when empty, whether it was read). An unreadable one is
    an error on its row (feed.error), so the row is left out and the rest of the feed goes on."""
    if not text:
        return None, True
    try:
        return parse_feed_date(text, date_order), True
    except FeedDateError as exc:
        feed.error(file, number, column, str(exc))
        return None, False
