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

from app.core.i18n import _, ngettext

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
    first = label == "start"
    if len(cleaned) != 10 or not _DATE.fullmatch(cleaned):
        raise RangeError((_("The start date %(text)s is not a date like 2026-11-30: pick one "
                            "from the calendar.") if first else
                          _("The end date %(text)s is not a date like 2026-11-30: pick one "
                            "from the calendar.")) % {"text": _shown(cleaned)})
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise RangeError((_("The start date %(text)s is not a date: it does not exist in the "
                            "calendar. Pick one from the calendar.") if first else
                          _("The end date %(text)s is not a date: it does not exist in the "
                            "calendar. Pick one from the calendar."))
                         % {"text": _shown(cleaned)}) from None


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
        raise RangeError(_("The period runs the wrong way round: %(first)s is after "
                           "%(last)s. Swap the two dates.")
                         % {"first": first.isoformat(), "last": last.isoformat()})
    days = (last - first).days + 1
    if days > max_days:
        raise RangeError(_("That period is %(days)s; a report covers at most %(most)s. "
                           "Choose a shorter period.")
                         % {"days": ngettext("%(num)d day", "%(num)d days", days)
                            % {"num": days},
                            "most": ngettext("%(num)d day", "%(num)d days", max_days)
                            % {"num": max_days}})
    if first > today or (last > today and not future_end):
        shown = first if first > today else last
        raise RangeError(_("%(day)s has not come yet: choose days up to today.")
                         % {"day": shown.isoformat()})
    if first < EARLIEST:
        words = {"sale": _("before any sale could have been recorded"),
                 "bill": _("before any bill could have been recorded"),
                 "stock move": _("before any stock move could have been recorded")}
        raise RangeError(_("%(day)s is %(before)s: choose a day from %(earliest)s on.")
                         % {"day": first.isoformat(),
                            "before": words.get(what, f"before any {what} could have been "
                                                      "recorded"),
                            "earliest": EARLIEST.isoformat()})
    return first, last
