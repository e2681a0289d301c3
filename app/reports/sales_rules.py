"""The sales report's rules (issue #18): which days a range covers, and how the sums the
database made (app/reports/sales.py groups by local day and hour) become the report's
figures: totals, by hour, by day, by category, by product, by cashier, by tender, and
the comparison with the previous period of the same length. Pure: no I/O.

The figures mean what the Z report (app/pos/shifts.py) means, so a day's report equals
the sum of that day's Z reports to the paisa:

- *sales* is what bills came to (``sales.total_minor``: gross - discounts + rounding);
- *refunds* is what was paid back, counted on the day the refund happened, whatever
  the day of the bill;
- *net* = sales - refunds; *tax* is the GST table of the lines sold less the lines
  refunded, from :func:`app.core.gst.tax_rows` (the one rule every document uses).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from app.core.date_ranges import EARLIEST as EARLIEST  # (re-exported for the pages)
from app.core.date_ranges import MAX_DAYS, parse_date_range
from app.core.date_ranges import RangeError as RangeError
from app.core.gst import TaxRow, mixed_tax_rows
from app.core.i18n import N_
from app.core.money import round_half_up

TOP = 10  # products shown in each of the top and bottom lists


# ---- the range -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateRange:
    """From ``start`` to ``end``, both days included, in the store's local dates."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def previous(self) -> DateRange:
        """The period of the same length just before this one."""
        return DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def parse_range(start_text: str | None, end_text: str | None, today: date) -> DateRange:
    """The range a manager asked for (app/core/date_ranges.py, the one rule). Nothing
    given: today. Only one end given: that one day. Refused with a plain message: not a
    date, an impossible date, the range the wrong way round, more than 366 days, a start
    after today, or before 2000. The end may run past today ("This month")."""
    return DateRange(*parse_date_range(start_text, end_text, today, lone_day=True,
                                       max_days=MAX_DAYS, future_end=True, what="bill"))


def quick_ranges(today: date) -> list[tuple[str, DateRange]]:
    """The picker's quick choices: Today, Yesterday, Last 7 days, This month, Last month."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return [
        (N_("Today"), DateRange(today, today)),
        (N_("Yesterday"), DateRange(today - timedelta(days=1), today - timedelta(days=1))),
        (N_("Last 7 days"), DateRange(today - timedelta(days=6), today)),
        (N_("This month"), DateRange(first, today)),
        (N_("Last month"), DateRange(last_month_end.replace(day=1), last_month_end)),
    ]


def month_range(year: int, month: int) -> DateRange:
    return DateRange(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def utc_bounds(r: DateRange, tz: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC: local midnight of the first day to local midnight after the
    last day."""
    start = datetime.combine(r.start, time(0), tz).astimezone(UTC)
    end = datetime.combine(r.end + timedelta(days=1), time(0), tz).astimezone(UTC)
    return start, end


def offset_spans(start: datetime, end: datetime, tz: tzinfo
                 ) -> list[tuple[datetime, datetime, int]]:
    """[start, end) cut where the zone's UTC offset changes (daylight saving), each piece
    with its offset in seconds, so the database can shift times by a fixed offset
    within a piece. IST never changes: one piece."""
    def offset(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    spans: list[tuple[datetime, datetime, int]] = []
    cursor, current = start, offset(start)
    probe = start
    while probe < end:  # a zone changes its offset at most a few times a year: a day apart
        nxt = min(probe + timedelta(days=1), end)
        # the last second before ``end`` too: a change within a range's last day counts
        seen = nxt if nxt < end else end - timedelta(seconds=1)
        if seen > probe and offset(seen) != current:
            # the change lies in (low, high]: narrow to the whole second it happens at
            low, high = int(probe.timestamp()), int(seen.timestamp()) + 1
            while high - low > 1:
                mid = (low + high) // 2
                if offset(datetime.fromtimestamp(mid, UTC)) == current:
                    low = mid
                else:
                    high = mid
            changed = datetime.fromtimestamp(high, UTC)
            spans.append((cursor, changed, current))
            cursor, current = changed, offset(changed)
        probe = nxt
    spans.append((cursor, end, current))
    return spans


def offset_is_constant(start: datetime, end: datetime, tz: tzinfo) -> bool:
    """Quick test (noon of every day would be slow for a year: check each day's start)."""
    first = start.astimezone(tz).utcoffset()
    day = start
    while day < end:
        if day.astimezone(tz).utcoffset() != first:
            return False
        day += timedelta(days=1)
    return end.astimezone(tz).utcoffset() == first


# ---- rows the database gives ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SalesBucket:
    """Bills of one local day and hour."""

    day: date
    hour: int
    bills: int
    gross: int
    discounts: int
    rounding: int
    total: int
    items: int  # pieces, and one for each line sold by weight or volume


@dataclass(frozen=True, slots=True)
class RefundBucket:
    day: date
    hour: int
    refunds: int
    total: int


@dataclass(frozen=True, slots=True)
class ProductRow:
    """One product's lines in the period: sold (on bills of the period) and refunded (on
    refunds of the period, whatever the bill's day)."""

    product_id: str
    sku: str
    name: str
    category: str
    unit: str
    sold_qty: int
    sold_lines: int
    sold_net: int
    refunded_qty: int = 0
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.sold_net - self.refunded

    @property
    def units(self) -> int:
        """Pieces for a product sold by the piece; one per sale line for one sold loose."""
        return self.sold_qty - self.refunded_qty if self.unit == "piece" else self.sold_lines


@dataclass(frozen=True, slots=True)
class PersonRow:
    user_id: str
    name: str
    bills: int
    sales: int
    refunds: int = 0
    refund_count: int = 0

    @property
    def net(self) -> int:
        return self.sales - self.refunds


@dataclass(frozen=True, slots=True)
class TenderRow:
    kind: str
    taken: int
    refunded: int = 0

    @property
    def net(self) -> int:
        return self.taken - self.refunded


@dataclass(frozen=True, slots=True)
class TaxPart:
    """Sum of lines of one GST rate, sold (positive) or refunded (negative)."""

    rate_bp: int
    inter_state: bool
    amount: int
    tax: int


@dataclass(frozen=True)
class SalesData:
    """Everything the database summed for one range."""

    sales: Sequence[SalesBucket] = ()
    refunds: Sequence[RefundBucket] = ()
    products: Sequence[ProductRow] = ()
    cashiers: Sequence[PersonRow] = ()
    tenders: Sequence[TenderRow] = ()
    tax: Sequence[TaxPart] = ()


# ---- the report ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    bills: int = 0
    gross: int = 0
    discounts: int = 0
    rounding: int = 0
    sales: int = 0
    refund_count: int = 0
    refunds: int = 0
    items: int = 0
    tax: int = 0

    @property
    def net(self) -> int:
        return self.sales - self.refunds

    @property
    def average_bill(self) -> int:
        """What a bill came to on average, in paise, rounded half up; 0 without bills."""
        return round_half_up(self.sales, self.bills) if self.bills else 0

    @property
    def items_per_bill_tenths(self) -> int:
        """Items per bill in tenths (23 = 2.3), rounded half up; 0 without bills."""
        return round_half_up(self.items * 10, self.bills) if self.bills else 0


@dataclass(frozen=True, slots=True)
class Change:
    """One figure now and in the previous period."""

    now: int
    before: int

    @property
    def diff(self) -> int:
        return self.now - self.before

    @property
    def percent_tenths(self) -> int | None:
        """The change in tenths of a per cent (125 = +12.5 %), None when the previous
        period had nothing (no division by zero: 'new', not 'infinite')."""
        if self.before == 0:
            return None
        return round_half_up(self.diff * 1000, abs(self.before))


@dataclass(frozen=True, slots=True)
class Slot:
    """One bar of the by-hour or by-day chart."""

    label: str
    bills: int
    sales: int
    refunds: int

    @property
    def net(self) -> int:
        return self.sales - self.refunds


@dataclass(frozen=True, slots=True)
class CategoryRow:
    category: str
    products: int
    units: int
    net: int


@dataclass(frozen=True)
class SalesReport:
    range: DateRange
    totals: Totals
    hours: list[Slot]
    days: list[Slot]
    categories: list[CategoryRow]
    products: list[ProductRow]  # every product sold or refunded, by net revenue
    cashiers: list[PersonRow]
    tenders: list[TenderRow]
    tax_rows: tuple[TaxRow, ...]
    previous: SalesReport | None = field(default=None, repr=False)

    @property
    def top_by_revenue(self) -> list[ProductRow]:
        return self.products[:TOP]

    @property
    def bottom_by_revenue(self) -> list[ProductRow]:
        """The slowest sellers (fewest rupees), slowest first; none repeated from the top."""
        rest = self.products[TOP:]
        return list(reversed(rest[-TOP:]))

    @property
    def top_by_units(self) -> list[ProductRow]:
        return sorted(self.products, key=lambda p: (-p.units, p.name, p.product_id))[:TOP]

    @property
    def bottom_by_units(self) -> list[ProductRow]:
        ranked = sorted(self.products, key=lambda p: (-p.units, p.name, p.product_id))
        return list(reversed(ranked[TOP:][-TOP:]))

    def change(self, name: str) -> Change:
        """A totals figure ('net', 'bills', 'average_bill' ...) against the previous period."""
        before = getattr(self.previous.totals, name) if self.previous else 0
        return Change(int(getattr(self.totals, name)), int(before))

    def previous_hours(self) -> list[int]:
        return [s.net for s in self.previous.hours] if self.previous else [0] * 24

    def previous_days(self) -> list[int]:
        """The previous period's nets, day by day, aligned with this period's days."""
        return [s.net for s in self.previous.days] if self.previous else [0] * len(self.days)


def report_tax_rows(parts: Iterable[TaxPart]) -> tuple[TaxRow, ...]:
    """The GST table of the period, by the rule the X/Z report uses
    (``gst.mixed_tax_rows``): CGST + SGST halves within the state, IGST across."""
    return mixed_tax_rows((p.rate_bp, p.amount, p.tax, p.inter_state) for p in parts)


def _hour_label(h: int) -> str:
    return f"{h:02d}"


def _day_label(d: date, many_months: bool) -> str:
    return d.strftime("%d %b") if many_months else d.strftime("%a %d")


def build_report(r: DateRange, data: SalesData, previous: SalesData | None = None
                 ) -> SalesReport:
    """The report for ``r`` from the sums in ``data`` (buckets outside the range are left
    out); with ``previous``, the same for the period before, kept for comparison."""
    days = r.dates()
    inside = set(days)
    sales = [b for b in data.sales if b.day in inside]
    refunds = [b for b in data.refunds if b.day in inside]
    tax = report_tax_rows(data.tax)
    totals = Totals(
        bills=sum(b.bills for b in sales), gross=sum(b.gross for b in sales),
        discounts=sum(b.discounts for b in sales), rounding=sum(b.rounding for b in sales),
        sales=sum(b.total for b in sales), refund_count=sum(b.refunds for b in refunds),
        refunds=sum(b.total for b in refunds), items=sum(b.items for b in sales),
        tax=sum(row.tax for row in tax))
    hours = [[0, 0, 0] for _ in range(24)]
    by_day = {d: [0, 0, 0] for d in days}
    for b in sales:
        for slot in (hours[b.hour % 24], by_day[b.day]):
            slot[0] += b.bills
            slot[1] += b.total
    for rb in refunds:
        hours[rb.hour % 24][2] += rb.total
        by_day[rb.day][2] += rb.total
    many_months = days[0].month != days[-1].month or len(days) > 31
    products = sorted(data.products, key=lambda p: (-p.net, p.name, p.product_id))
    categories: dict[str, list[int]] = {}
    for p in products:
        c = categories.setdefault(p.category or "No category", [0, 0, 0])
        c[0] += 1
        c[1] += p.units
        c[2] += p.net
    return SalesReport(
        range=r, totals=totals,
        hours=[Slot(_hour_label(h), *hours[h]) for h in range(24)],
        days=[Slot(_day_label(d, many_months), *by_day[d]) for d in days],
        categories=sorted((CategoryRow(name, n, u, net) for name, (n, u, net)
                           in categories.items()), key=lambda c: (-c.net, c.category)),
        products=products,
        cashiers=sorted(data.cashiers, key=lambda c: (-c.net, c.name, c.user_id)),
        tenders=sorted(data.tenders, key=lambda t: (-t.net, t.kind)),
        tax_rows=tax,
        previous=None if previous is None else build_report(r.previous(), previous),
    )
