"""The suggested order: what to buy from one supplier now. Pure: no I/O.

For each product the supplier sells us:

- **Rate.** Sales per day over the last 14 days and the last 28 days (yesterday
  backwards; today is not over yet), blended 2:1 towards the recent figure, so a
  product that picked up is not under-ordered and one blip does not rule.
- **Weekday.** Each weekday's share of the last 28 days (four of each): a shop that
  sells twice as much atta on Sundays needs more cover when a Sunday falls in the
  window. With no sales at all every weekday counts the same.
- **Need.** The rate, shaped by weekday, summed over the days from today until the
  next delivery could land (lead time) plus the days of cover wanted after it.
- **Order.** Need minus stock on hand (a negative book figure counts as none) minus
  what is already on order, rounded up to whole cases; never below zero.

All arithmetic is exact (fractions); the need is rounded up to a whole unit once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache
from operator import mul

from app.core.i18n import _

HISTORY_DAYS = 28
RECENT_DAYS = 14
DEFAULT_COVER_DAYS = 7
MAX_COVER_DAYS = 90


class SuggestError(ValueError):
    pass


@dataclass(frozen=True, slots=True)  # slots: 2,000 of each per suggested order
class ProductHistory:
    """What the service read for one product. ``daily_sales`` holds the last 28 days'
    sales in base units, oldest first; the last one is yesterday's."""

    product_id: str
    sku: str
    name: str
    pack_size: int
    on_hand: int
    on_order: int
    daily_sales: tuple[int, ...]


@dataclass(frozen=True, slots=True)  # slots: 2,000 of each per suggested order
class Suggestion:
    product_id: str
    sku: str
    name: str
    pack_size: int
    on_hand: int
    on_order: int
    per_day: Fraction  # blended rate, before the weekday shape
    need: int  # units wanted from today to the end of the cover
    cases: int

    @property
    def units(self) -> int:
        return self.cases * self.pack_size


def parse_cover_days(text: str) -> int:
    """Days of cover typed on the page: '' -> the default, else a whole number 1..90."""
    cleaned = (text or "").strip()
    if not cleaned:
        return DEFAULT_COVER_DAYS
    if not re.fullmatch(r"[0-9]{1,3}", cleaned):
        raise SuggestError(_("days of cover must be a whole number from 1 to %(max)s")
                           % {"max": MAX_COVER_DAYS})
    return check_cover_days(int(cleaned))


def check_cover_days(days: int) -> int:
    if not 1 <= days <= MAX_COVER_DAYS:
        raise SuggestError(_("days of cover must be a whole number from 1 to %(max)s")
                           % {"max": MAX_COVER_DAYS})
    return days


def weekday_shares(daily_sales: Sequence[int], yesterday: date) -> dict[int, Fraction]:
    """weekday -> that weekday's sales over the average day's (1 when nothing sold)."""
    total = sum(daily_sales)
    n = len(daily_sales)
    if total <= 0 or n == 0:
        return dict.fromkeys(range(7), Fraction(1))
    sums = [0] * 7
    days = [0] * 7
    first = yesterday.weekday() - (n - 1)  # the weekday of daily_sales[0], mod 7
    for i, qty in enumerate(daily_sales):
        wd = (first + i) % 7
        sums[wd] += qty
        days[wd] += 1
    # (sums/days) / (total/n), as one fraction
    return {wd: (Fraction(sums[wd] * n, days[wd] * total) if days[wd] else Fraction(1))
            for wd in range(7)}


@lru_cache(maxsize=256)
def weekdays_in(start: date, days: int) -> dict[int, int]:
    """weekday -> how many times it falls in the `days` days from `start` (whole weeks
    and the rest: the same for every product, so it is counted once, not per day).
    Cached: the dict returned is shared, read it only."""
    counts = dict.fromkeys(range(7), max(0, days) // 7)
    for d in range(max(0, days) % 7):
        counts[(start + timedelta(days=d)).weekday()] += 1
    return counts


def rate_per_day(daily_sales: Sequence[int]) -> Fraction:
    """Sales a day: two parts the last 14 days, one part the last 28 (negative days,
    more refunds than sales, count as none)."""
    clean = [max(0, q) for q in daily_sales[-HISTORY_DAYS:]]
    if not clean:
        return Fraction(0)
    recent = clean[-RECENT_DAYS:]
    r14 = Fraction(sum(recent), len(recent))
    r28 = Fraction(sum(clean), len(clean))
    return (2 * r14 + r28) / 3


def need_for(history: ProductHistory, today: date, horizon_days: int) -> tuple[Fraction, int]:
    """(rate, whole units needed from today over `horizon_days` days): the rate times
    each weekday's share, summed over the window, rounded up once.

    Done in integers (this runs for every product of a supplier, 2,000 of them in the
    benchmark): with at most 28 days, each weekday has 1 to 4 samples, so 12 (their
    least common multiple) over the sample count is whole. What a day of the history
    weighs in the window's sum depends only on today, the window and the history's
    length, the same for every product, so the weights are worked out once
    (_day_weights, cached) and each product's sum is one dot product."""
    daily = history.daily_sales[-HISTORY_DAYS:]
    clean = daily if min(daily, default=0) >= 0 else [max(0, q) for q in daily]
    total, n = sum(clean), len(clean)
    if total == 0:
        return Fraction(0), 0
    l14 = min(n, RECENT_DAYS)
    s14 = sum(clean[-RECENT_DAYS:])
    rate_num, rate_den = 2 * s14 * n + total * l14, 3 * l14 * n  # (2*s14/l14 + total/n) / 3
    weights, unsampled = _day_weights(today, horizon_days, n)
    # sum over weekdays of count * share, share = (sums/days) / (total/n), over 12 * total
    shares_num = sum(map(mul, weights, clean)) + unsampled * total
    num, den = rate_num * shares_num, rate_den * 12 * total
    return Fraction(rate_num, rate_den), -(-num // den)


@lru_cache(maxsize=256)
def _day_weights(today: date, horizon_days: int, n: int) -> tuple[tuple[int, ...], int]:
    """For a history of `n` days ending yesterday: each day's weight in need_for's sum
    (its weekday's count in the window x 12 / its weekday's samples x n), and the weight
    of the total for the weekdays without a sample (under 7 days of history: they count
    as an average day)."""
    first = _weekday_before(today) - (n - 1)  # the weekday of daily[0], mod 7
    counts = weekdays_in(today, horizon_days)
    weights = tuple(counts[(first + i) % 7] * (12 // len(range(i % 7, n, 7))) * n
                    for i in range(n))
    sampled = {(first + k) % 7 for k in range(n)}
    unsampled = 12 * sum(counts[wd] for wd in range(7) if wd not in sampled)
    return weights, unsampled


@lru_cache(maxsize=64)
def _weekday_before(today: date) -> int:
    return (today - timedelta(days=1)).weekday()


def suggest_line(history: ProductHistory, *, today: date, lead_time_days: int,
                 cover_days: int) -> Suggestion:
    if history.pack_size < 1:
        raise SuggestError(_("%(sku)s: pack size must be at least 1") % {"sku": history.sku})
    rate, need = need_for(history, today, max(0, lead_time_days) + cover_days)
    short = need - max(0, history.on_hand) - max(0, history.on_order)
    cases = -(-short // history.pack_size) if short > 0 else 0
    return Suggestion(product_id=history.product_id, sku=history.sku, name=history.name,
                      pack_size=history.pack_size, on_hand=history.on_hand,
                      on_order=history.on_order, per_day=rate, need=need, cases=cases)


def suggest(histories: Sequence[ProductHistory], *, today: date, lead_time_days: int,
            cover_days: int = DEFAULT_COVER_DAYS) -> list[Suggestion]:
    """One suggestion per product, in the order given (the page lists them all, the ones
    to order first)."""
    check_cover_days(cover_days)
    out = [suggest_line(h, today=today, lead_time_days=lead_time_days, cover_days=cover_days)
           for h in histories]
    return sorted(out, key=lambda s: (s.cases == 0, s.name.lower()))
