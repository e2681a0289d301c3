"""Count accuracy per week and the bars that draw it (issue #17). Pure: no I/O.

A line is *counted right* when its first count equals the book figure taken at that
moment. :func:`weekly_accuracy` groups first counts by week (Monday to Sunday, the
store's local dates); :func:`share_bars` turns each week's share into the shapes of a
small column chart that the template draws as inline SVG (no script, nothing fetched),
scaled 0 to 100 % so weeks compare at a glance.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Bar", "Week", "share_bars", "weekly_accuracy"]


@dataclass(frozen=True, slots=True)
class Week:
    start: datetime.date  # the Monday
    lines: int  # lines counted for the first time that week
    right: int  # ... whose first count matched the book

    @property
    def share_bp(self) -> int | None:
        """Share counted right in basis points (10000 = 100 %), rounded down; None for a
        week without counts (no bar, not a bar at zero)."""
        return None if self.lines == 0 else self.right * 10_000 // self.lines

    @property
    def percent(self) -> int | None:
        """The share in whole per cent, rounded down (99.9 % is not 100 %)."""
        return None if self.lines == 0 else self.right * 100 // self.lines


def _monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def weekly_accuracy(first_counts: Iterable[tuple[datetime.date, bool]], today: datetime.date,
                    weeks: int = 12) -> list[Week]:
    """The last ``weeks`` weeks up to the one holding ``today``, oldest first, from
    (local date of a line's first count, counted right) pairs; counts outside are left out."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 520:
        raise ValueError(f"weeks must be a whole number from 1 to 520, got {weeks!r}")
    last = _monday(today)
    starts = [last - datetime.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    tally = {start: [0, 0] for start in starts}
    for day, right in first_counts:
        slot = tally.get(_monday(day))
        if slot is None:
            continue
        slot[0] += 1
        slot[1] += 1 if right else 0
    return [Week(start, *tally[start]) for start in starts]


@dataclass(frozen=True, slots=True)
class Bar:
    """One column, in the SVG's own units (y grows downwards); ``height`` 0 for a week
    without counts."""

    x: float
    y: float
    width: float
    height: float
    share_bp: int | None


def share_bars(shares: Sequence[int | None], width: float, height: float,
               gap: float = 2.0) -> tuple[Bar, ...]:
    """One column per share (basis points, 0 to 10000; None: no counts), side by side
    across ``width``; 100 % reaches ``height``. A share above zero gets at least one unit
    so it shows; shares outside 0..10000 are clipped."""
    if not shares or width <= 0 or height <= 0:
        return ()
    step = width / len(shares)
    bar = max(step - gap, step / 2)
    out = []
    for i, share in enumerate(shares):
        shown = 0 if share is None else min(max(share, 0), 10_000)
        h = max(1.0, height * shown / 10_000) if shown else 0.0
        out.append(Bar(x=round(i * step, 2), y=round(height - h, 2), width=round(bar, 2),
                       height=round(h, 2), share_bp=share))
    return tuple(out)
