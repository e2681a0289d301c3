"""Stock report figures (issue #18): valuation, ageing, dead stock, days of cover and
stock-out minutes. Pure: rows in, figures out; no database, no clock (``now`` and
``today`` are passed in). app/reports/stock.py reads the rows, docs/stock-reports.md
says what each figure means to a manager.

Quantities are base units (pieces, grams, millilitres). Money is integer paise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Generic, TypeVar

from app.core.date_ranges import RangeError, parse_date_range
from app.core.i18n import _
from app.core.money import price_for_measure, round_half_up

VELOCITY_DAYS = 28  # "sells": sold at least once in this many days; cover averages over them
MAX_RANGE_DAYS = 366  # a stock-out range longer than this is refused
DEAD_DAYS_DEFAULT = 90
DEAD_DAYS_MAX = 3650
NEVER = "never sold"
AGE_BUCKETS = ("0-7 days", "8-30 days", "31-90 days", "over 90 days", NEVER)
UNCATEGORISED = "Uncategorised"
T = TypeVar("T")


class ReportInputError(ValueError):
    """A refused report input; the message is shown to the manager as it is."""


@dataclass(frozen=True, slots=True)
class StockRow:
    """One product as the report sees it (app/reports/stock.py reads these)."""

    product_id: str
    sku: str
    name: str
    category: str
    unit: str  # piece | kg | litre (price per piece, per kg or per litre)
    on_hand: int  # all bins and batches, base units; may be below zero (a count is due)
    price_minor: int  # selling price, GST-inclusive, per piece / kg / litre
    cost_quantity: int | None  # product_costs: cost_value_minor pays for this many units
    cost_value_minor: int | None  # None: no cost known (never received with a cost)
    last_sale: datetime | None = None  # the last till sale or online order (UTC)
    first_move: datetime | None = None  # the first time the product moved at all (UTC)
    sold_recent: int = 0  # net units sold in the last VELOCITY_DAYS days (refunds back)


# ---- valuation --------------------------------------------------------------------------


def cost_value(row: StockRow) -> int | None:
    """What the stock on hand cost at the moving-average cost, to the nearest paisa, from
    the exact cost of ``cost_quantity`` units (a gram costs a fraction of a paisa).
    None when no cost is known; stock at or below zero is worth nothing."""
    if row.cost_value_minor is None or not row.cost_quantity or row.cost_quantity <= 0:
        return None
    if row.on_hand <= 0:
        return 0
    return round_half_up(row.on_hand * row.cost_value_minor, row.cost_quantity)


def selling_value(row: StockRow) -> int:
    """The stock on hand at today's selling price (GST-inclusive).
    MRP (issue #21): when products carry an MRP, value it here the same way from
    ``row.mrp_minor`` (per piece, or per kg / litre through price_for_measure)."""
    if row.on_hand <= 0:
        return 0
    if row.unit == "piece":
        return row.on_hand * row.price_minor
    return price_for_measure(row.price_minor, row.on_hand)


@dataclass(frozen=True, slots=True)
class ValuedRow:
    row: StockRow
    cost_minor: int | None  # None: no cost known
    selling_minor: int

    @property
    def status(self) -> str:
        if self.row.on_hand < 0:
            return "below zero"
        return "no cost" if self.cost_minor is None else "valued"


@dataclass(frozen=True, slots=True)
class Valuation:
    rows: list[ValuedRow]  # on hand not zero, largest value at cost first
    cost_total_minor: int  # products with a cost
    selling_total_minor: int  # every product in stock
    no_cost: int  # products in stock without a known cost (not in cost_total)
    no_cost_selling_minor: int  # ... their value at selling price
    below_zero: int  # products whose book figure is below zero (not valued)


def valuation(rows: Iterable[StockRow]) -> Valuation:
    valued = [ValuedRow(r, cost_value(r), selling_value(r)) for r in rows if r.on_hand != 0]
    valued.sort(key=lambda v: (v.status != "valued", -(v.cost_minor or 0),
                               -v.selling_minor, v.row.name, v.row.product_id))
    in_stock = [v for v in valued if v.row.on_hand > 0]
    no_cost = [v for v in in_stock if v.cost_minor is None]
    return Valuation(
        rows=valued,
        cost_total_minor=sum(v.cost_minor or 0 for v in in_stock),
        selling_total_minor=sum(v.selling_minor for v in in_stock),
        no_cost=len(no_cost),
        no_cost_selling_minor=sum(v.selling_minor for v in no_cost),
        below_zero=sum(1 for v in valued if v.row.on_hand < 0))


@dataclass(frozen=True, slots=True)
class CategoryValue:
    category: str
    products: int
    cost_minor: int
    selling_minor: int
    no_cost: int


def by_category(v: Valuation) -> list[CategoryValue]:
    """The valuation per category, the largest at cost first."""
    groups: dict[str, list[ValuedRow]] = {}
    for item in v.rows:
        if item.row.on_hand > 0:
            groups.setdefault(item.row.category.strip() or UNCATEGORISED, []).append(item)
    out = [CategoryValue(name, len(items), sum(i.cost_minor or 0 for i in items),
                         sum(i.selling_minor for i in items),
                         sum(1 for i in items if i.cost_minor is None))
           for name, items in groups.items()]
    return sorted(out, key=lambda c: (-c.cost_minor, -c.selling_minor, c.category))


# ---- ageing and dead stock ---------------------------------------------------------------


def days_since(at: datetime | None, today: date, tz: tzinfo) -> int | None:
    """Whole days from ``at``'s local date to ``today`` (0: today); None for never."""
    if at is None:
        return None
    return max(0, (today - at.astimezone(tz).date()).days)


def age_bucket(days: int | None) -> str:
    if days is None:
        return NEVER
    if days <= 7:
        return AGE_BUCKETS[0]
    if days <= 30:
        return AGE_BUCKETS[1]
    if days <= 90:
        return AGE_BUCKETS[2]
    return AGE_BUCKETS[3]


@dataclass(frozen=True, slots=True)
class AgeBucket:
    label: str
    products: int
    cost_minor: int
    selling_minor: int
    no_cost: int


def ageing(rows: Iterable[StockRow], today: date, tz: tzinfo) -> list[AgeBucket]:
    """Products in stock (on hand above zero) by days since their last sale, in
    AGE_BUCKETS order; every bucket is there, empty ones at zero."""
    tally: dict[str, list[StockRow]] = {label: [] for label in AGE_BUCKETS}
    for r in rows:
        if r.on_hand > 0:
            tally[age_bucket(days_since(r.last_sale, today, tz))].append(r)
    out = []
    for label, items in tally.items():
        costs = [cost_value(r) for r in items]
        out.append(AgeBucket(label, len(items), sum(c or 0 for c in costs),
                             sum(selling_value(r) for r in items),
                             sum(1 for c in costs if c is None)))
    return out


@dataclass(frozen=True, slots=True)
class DeadRow:
    row: StockRow
    days: int | None  # since the last sale; None: never sold
    in_store_days: int | None  # since the product first moved (for one never sold)
    cost_minor: int | None
    selling_minor: int


def dead_stock(rows: Iterable[StockRow], days: int, today: date, tz: tzinfo) -> list[DeadRow]:
    """On hand above zero and no sale for ``days`` days or more. A product never sold
    counts once it has been in the store that long (new stock is not dead yet). The most
    money tied up (at cost, then at selling price) first."""
    days = parse_days(str(days))
    out = []
    for r in rows:
        if r.on_hand <= 0:
            continue
        since_sale = days_since(r.last_sale, today, tz)
        in_store = days_since(r.first_move, today, tz)
        idle = since_sale if since_sale is not None else in_store
        if idle is None or idle >= days:
            out.append(DeadRow(r, since_sale, in_store, cost_value(r), selling_value(r)))
    return sorted(out, key=lambda d: (-(d.cost_minor or 0), -d.selling_minor, d.row.name,
                                      d.row.product_id))


def parse_days(text: str) -> int:
    """The dead-stock age from the page: whole days, 1 to DEAD_DAYS_MAX."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 5:
        raise ReportInputError(_("Days must be a whole number from 1 to %(most)s.")
                               % {"most": DEAD_DAYS_MAX})
    value = int(cleaned)
    if not 1 <= value <= DEAD_DAYS_MAX:
        raise ReportInputError(_("Days must be a whole number from 1 to %(most)s.")
                               % {"most": DEAD_DAYS_MAX})
    return value


# ---- days of cover ----------------------------------------------------------------------


def days_of_cover(on_hand: int, sold_recent: int) -> float | None:
    """How many days the stock lasts at the average daily sales of the last
    VELOCITY_DAYS days; None when it did not sell (shown as "no sales")."""
    if sold_recent <= 0:
        return None
    if on_hand <= 0:
        return 0.0
    return on_hand * VELOCITY_DAYS / sold_recent


@dataclass(frozen=True, slots=True)
class CoverRow:
    row: StockRow
    per_day: float  # average units sold a day
    days: float | None  # None: no sales


def cover(rows: Iterable[StockRow]) -> list[CoverRow]:
    """Products in stock or selling, the fewest days of cover first, "no sales" last."""
    out = [CoverRow(r, max(r.sold_recent, 0) / VELOCITY_DAYS,
                    days_of_cover(r.on_hand, r.sold_recent))
           for r in rows if r.on_hand > 0 or r.sold_recent > 0]
    return sorted(out, key=lambda c: (c.days is None, c.days or 0.0, c.row.name,
                                      c.row.product_id))


# ---- stock-outs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """The store's daily opening hours in its local time; ``closes`` after ``opens``."""

    opens: time
    closes: time

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ReportInputError("Opening hours must close after they open.")


def open_windows(start: datetime, end: datetime, tz: tzinfo,
                 hours: OpeningHours | None) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) the store is open, in UTC, in time order: the whole
    period when the store has no opening hours set."""
    if end <= start:
        return []
    if hours is None:
        return [(start, end)]
    out = []
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date()
    while day <= last:
        a = datetime.combine(day, hours.opens, tz).astimezone(UTC)
        b = datetime.combine(day, hours.closes, tz).astimezone(UTC)
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
        day += timedelta(days=1)
    return out


def replay(level: int, moves: Iterable[tuple[object, int]]) -> int:
    """The level after the moves (deltas commute: their order does not matter here)."""
    return level + sum(delta for _at, delta in moves)


def level_at_start(current: int, moves_since_start: Iterable[tuple[object, int]]) -> int:
    """The level at the period's start: today's level minus every move since then."""
    return current - sum(delta for _at, delta in moves_since_start)


def zero_spans(start_level: int, moves: Sequence[tuple[datetime, int]], start: datetime,
               end: datetime) -> list[tuple[datetime, datetime]]:
    """The spans of [start, end) when the level was at zero or below, from the level at
    ``start`` and the period's moves in time order (moves outside the period are
    refused: the caller's start level would be wrong)."""
    out = []
    level = start_level
    since = start if level <= 0 else None
    previous = start
    for at, delta in moves:
        if not start <= at < end or at < previous:
            raise ValueError("moves must be in time order within the period")
        previous = at
        level += delta
        if level <= 0 and since is None:
            since = at
        elif level > 0 and since is not None:
            if at > since:
                out.append((since, at))
            since = None
    if since is not None and end > since:
        out.append((since, end))
    return out


class Crossings(Generic[T]):
    """Moves fed one at a time in time order, kept only where the level crosses between
    above zero and zero-or-below, each carrying the sum of the deltas since the last one
    kept (the rest at the end, at the last move's time). ``zero_spans`` and ``replay``
    give the same answers from ``moves()`` as from all the moves: a year of a store's
    ledger is read without keeping every move (app/reports/stock.py)."""

    __slots__ = ("_kept", "_last", "_out", "_pending", "level")

    def __init__(self, start_level: int) -> None:
        self.level = start_level
        self._out = start_level <= 0
        self._pending = 0
        self._kept: list[tuple[T, int]] = []
        self._last: T | None = None

    def add(self, at: T, delta: int) -> None:
        self.level += delta
        self._pending += delta
        self._last = at
        out = self.level <= 0
        if out != self._out:
            self._kept.append((at, self._pending))
            self._pending, self._out = 0, out

    def moves(self) -> list[tuple[T, int]]:
        if self._pending and self._last is not None:
            return [*self._kept, (self._last, self._pending)]
        return list(self._kept)


def overlap_seconds(spans: Sequence[tuple[datetime, datetime]],
                    windows: Sequence[tuple[datetime, datetime]]) -> float:
    total = 0.0
    for a, b in spans:
        for c, d in windows:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                total += (hi - lo).total_seconds()
    return total


@dataclass(frozen=True, slots=True)
class StockOut:
    product_id: str
    minutes: int  # whole minutes at zero or below while open
    times: int  # how many times it ran out (spans that touch opening hours)
    out_now: bool  # at zero or below at the period's end


def stock_out(product_id: str, start_level: int, moves: Sequence[tuple[datetime, int]],
              start: datetime, end: datetime, windows: Sequence[tuple[datetime, datetime]]
              ) -> StockOut:
    spans = zero_spans(start_level, moves, start, end)
    counted = [s for s in spans if overlap_seconds([s], windows) > 0]
    return StockOut(product_id, int(overlap_seconds(spans, windows) // 60), len(counted),
                    replay(start_level, moves) <= 0)


# ---- the date range of the stock-out section --------------------------------------------

def parse_range(from_text: str, to_text: str, today: date) -> tuple[date, date]:
    """The stock-out period's first and last local dates from the page's pickers
    (app/core/date_ranges.py, the one rule; empty: the last 7 days to today). Refused: a
    date that is not one, the wrong way round, in the future, before 2000 or more than
    MAX_RANGE_DAYS days."""
    try:
        return parse_date_range(from_text, to_text, today, default_days=7,
                                max_days=MAX_RANGE_DAYS, what="stock move")
    except RangeError as exc:
        raise ReportInputError(str(exc)) from None


def period_bounds(first: date, last: date, tz: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC: from the first day's local midnight to the end of the last
    day, or to now while that day is not over."""
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tz).astimezone(UTC)
    return start, max(start, min(end, now))
