"""The date range a report page was asked for (issue #18): one rule for the store's sales
and stock reports and the hub's chain overview. Pure: no I/O.

Dates come from the pages' pickers as YYYY-MM-DD (ASCII digits only, at most 10
characters after trimming). Refused, with a message for the person who typed it: a
text that is not such a date, a date the calendar does not have, the range the wrong
way round, a range longer than ``max_days``, an end after today (unless the page lets
the range run on, as the sales report's "This month" may), a start before 2000 (a typo;
0001-01-01 overflowed the day's bounds and the previous period).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from app.core.words import count_of

EARLIEST = date(2000, 1, 1)  # a date before this is a typo
MAX_DAYS = 366

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (no '١٢' digits)


class RangeError(ValueError):
    """A date range a report refuses, with a message for the person who asked."""


def _shown(text: str) -> str:
    return repr(text[:20] + ("…" if len(text) > 20 else ""))


def parse_day(text: str, label: str) -> date:
    """One picker's date; RangeError if it is not one."""
    cleaned = text.strip()
    if len(cleaned) != 10 or not _DATE.fullmatch(cleaned):
        raise RangeError(f"The {label} date {_shown(cleaned)} is not a date like 2026-11-30: "
                         "pick one from the calendar.")
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise RangeError(f"The {label} date {_shown(cleaned)} is not a date: it does not "
                         "exist in the calendar. Pick one from the calendar.") from None


def parse_date_range(start_text: str | None, end_text: str | None, today: date, *,
                     default_days: int = 1, lone_day: bool = False,
                     max_days: int = MAX_DAYS, future_end: bool = False,
                     what: str = "sale") -> tuple[date, date]:
    """(first, last) local dates, both included. Nothing given: the last ``default_days``
    days up to today. Only the end: ``default_days`` days up to it; only the start: from
    it to today; with ``lone_day`` a single date given is that one day (the sales
    report). ``what`` names what could not be recorded before 2000 ('bill', 'stock move')."""
    a = (start_text or "").strip()
    b = (end_text or "").strip()
    if not a and not b:
        last = today
        first = today - timedelta(days=default_days - 1)
    else:
        first_given = parse_day(a, "start") if a else None
        last_given = parse_day(b, "end") if b else None
        if lone_day:
            first = first_given or last_given or today
            last = last_given or first
        else:
            last = last_given or today
            if first_given is None and last < EARLIEST:
                first = last
            else:
                first = first_given or last - timedelta(days=default_days - 1)
    if last < first:
        raise RangeError(f"The period runs the wrong way round: {first.isoformat()} is after "
                         f"{last.isoformat()}. Swap the two dates.")
    days = (last - first).days + 1
    if days > max_days:
        raise RangeError(f"That period is {count_of(days, 'day')}; a report covers at most "
                         f"{count_of(max_days, 'day')}. Choose a shorter period.")
    if first > today or (last > today and not future_end):
        shown = first if first > today else last
        raise RangeError(f"{shown.isoformat()} has not come yet: choose days up to today.")
    if first < EARLIEST:
        raise RangeError(f"{first.isoformat()} is before any {what} could have been recorded: "
                         f"choose a day from {EARLIEST.isoformat()} on.")
    return first, last
