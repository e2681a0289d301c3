"""What a promotion did for sales (issue #21, the reports' promotions page). Pure: no I/O.

The page compares the days an offer ran (within the range a manager chose) with a
**baseline: the same number of days just before the offer began**. Not "the same
weekdays": most offers run a week or two, and the days just before are the nearest
picture of the shelf without the offer (same season, same stock, same prices); a
"same weekdays of last month" baseline would compare with a different month. An offer
that runs on some days of the week only (a weekend offer) is measured on those days,
against as many of those days just before it began (its hours are not: whole days).

Figures are what the bills of those days show for the products the offer targets
(its products and categories, and the "get" products of a buy X get Y); a bill offer
("₹50 off on ₹500") targets the whole bill, so its figures are the store's. Units are
pieces for a product sold by the piece and one per sale line for one sold loose (the
sales report's rule); revenue is what those lines came to after every discount, in
paise. Refunds are not taken off: a refund during the offer of a bill from before it
would move the comparison to the wrong side.

Percentages are whole numbers, rounded half away from zero from integer paise and
counts (no floats); a baseline of zero has no percentage: the verdict says so in words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from app.core.date_ranges import EARLIEST
from app.core.i18n import _, ngettext
from app.core.money import format_amount, round_half_up

BILL_KINDS: frozenset[str] = frozenset({"bill_amount_off", "bill_percent_off",
                                        "bill_free_item"})


@dataclass(frozen=True, slots=True)
class Period:
    """From ``first`` to ``last``, both local days included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]


def offer_days(starts: date | None, ends: date | None, made: date, ended: date | None,
               today: date) -> Period | None:
    """The local days an offer could run: from its first date (else the day it was made)
    to the earliest of its last date, the day it was ended early and today. None if
    that is no day at all (ended before it started, or starts after today). A first day
    before 2000 counts from 2000 (its baseline then never runs off the calendar)."""
    first = max(starts or made, EARLIEST)  # a first date of 0001 (a row by hand) is a typo
    last = min(d for d in (ends, ended, today) if d is not None)
    return Period(first, last) if first <= last else None


def measured(offer: Period, first: date, last: date) -> Period | None:
    """The part of the offer's days inside the chosen range (None: no day of it)."""
    a, b = max(offer.first, first), min(offer.last, last)
    return Period(a, b) if a <= b else None


def baseline(offer_first: date, days: int) -> Period:
    """The same number of days just before the offer began."""
    if days < 1:
        raise ValueError("a baseline needs at least one day")
    return Period(offer_first - timedelta(days=days), offer_first - timedelta(days=1))


def weekdays_of(text: str) -> frozenset[int]:
    """An offer's days of the week as stored ('0,5,6': Monday, Saturday, Sunday); anything
    that is not a weekday number is dropped, and no weekday left means every day."""
    found = {int(t) for t in text.split(",") if t.strip().isascii() and t.strip().isdigit()
             and len(t.strip()) == 1 and int(t) <= 6}
    return frozenset() if len(found) == 7 else frozenset(found)


def offer_dates(period: Period, weekdays: frozenset[int] = frozenset()) -> list[date]:
    """The days of ``period`` the offer runs on (its weekdays; every day if none)."""
    return [d for d in period.dates() if not weekdays or d.weekday() in weekdays]


def baseline_dates(offer_first: date, count: int,
                   weekdays: frozenset[int] = frozenset()) -> list[date]:
    """The ``count`` days just before the offer began, on its weekdays only when it runs
    on some (a weekend offer against the weekends before), oldest first."""
    if count < 1:
        raise ValueError("a baseline needs at least one day")
    wanted = frozenset(w for w in weekdays if 0 <= w <= 6)
    out: list[date] = []
    d = offer_first - timedelta(days=1)
    while len(out) < count:
        if not wanted or d.weekday() in wanted:
            out.append(d)
        d -= timedelta(days=1)
    return out[::-1]


# ---- what an offer targets ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Targets:
    """The products an offer is about: SKUs and categories (``everything`` for a bill
    offer: the whole bill)."""

    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    everything: bool = False

    def covers(self, sku: str, category: str) -> bool:
        return self.everything or sku in self.skus or (bool(category)
                                                       and category in self.categories)

    def words(self) -> str:
        """What the page says the figures are of."""
        if self.everything:
            return _("the whole bill (all products)")
        parts = []
        if self.skus:
            parts.append(ngettext("%(num)d product", "%(num)d products", len(self.skus))
                         % {"num": len(self.skus)})
        if self.categories:
            parts.append(", ".join(sorted(self.categories)[:5])
                         + (" …" if len(self.categories) > 5 else ""))
        return _(" and ").join(parts) or _("nothing")


def targets_of(kind: str, skus: Iterable[str], categories: Iterable[str],
               get_skus: Iterable[str] = (), get_categories: Iterable[str] = ()) -> Targets:
    """An offer's targets from its stored lists; a bill offer targets everything."""
    if kind in BILL_KINDS:
        return Targets(everything=True)
    return Targets(frozenset(skus) | frozenset(get_skus),
                   frozenset(categories) | frozenset(get_categories))


# ---- figures --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    units: int = 0
    revenue_minor: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.units + other.units, self.revenue_minor + other.revenue_minor)


def total(days: Mapping[date, Figures], dates: Iterable[date]) -> Figures:
    """The figures of ``dates`` (a Period's or a list) from figures per day (a day not
    given sold nothing)."""
    out = Figures()
    for d in dates.dates() if isinstance(dates, Period) else dates:
        out = out + days.get(d, Figures())
    return out


def series(days: Mapping[date, Figures], dates: Iterable[date]) -> list[int]:
    """Units for each of ``dates``, in order (the chart's bars)."""
    return [days.get(d, Figures()).units
            for d in (dates.dates() if isinstance(dates, Period) else dates)]


def percent_change(now: int, before: int) -> int | None:
    """Whole per cent from ``before`` to ``now``, rounded half away from zero; None when
    there was nothing before (no percentage of nothing)."""
    if before <= 0:
        return None
    return round_half_up((now - before) * 100, before)


@dataclass(frozen=True, slots=True)
class Uplift:
    """An offer's days against its baseline, with what it gave off and on how many bills."""

    days: int
    during: Figures
    before: Figures
    discount_minor: int = 0
    bills: int = 0
    weekdays_only: bool = False  # measured on the offer's days of the week only

    @property
    def unit_change(self) -> int:
        return self.during.units - self.before.units

    @property
    def revenue_change_minor(self) -> int:
        return self.during.revenue_minor - self.before.revenue_minor

    @property
    def unit_percent(self) -> int | None:
        return percent_change(self.during.units, self.before.units)

    @property
    def revenue_percent(self) -> int | None:
        return percent_change(self.during.revenue_minor, self.before.revenue_minor)


def _before(days: int, weekdays_only: bool = False) -> str:
    if weekdays_only:
        return (_("the one day before on the same days of the week") if days == 1
                else ngettext("the %(num)d day before on the same days of the week",
                              "the %(num)d days before on the same days of the week", days)
                % {"num": days})
    return (_("the day before") if days == 1
            else ngettext("the %(num)d day before", "the %(num)d days before", days)
            % {"num": days})


def _units(u: Uplift) -> str:
    """'34 % more units than the 14 days before', in the shapes a percentage can take."""
    percent, before = u.unit_percent or 0, _before(u.days, u.weekdays_only)
    if percent > 0:
        return _("%(percent)s %% more units than %(before)s") % {"percent": percent,
                                                                 "before": before}
    if percent < 0:
        return _("%(percent)s %% fewer units than %(before)s") % {"percent": -percent,
                                                                  "before": before}
    if u.unit_change == 0:
        return _("as many units as %(before)s") % {"before": before}
    return _("about as many units as %(before)s") % {"before": before}


def _revenue(u: Uplift) -> str:
    percent = u.revenue_percent
    if percent is None:
        return _("no revenue before to compare") if u.during.revenue_minor else _("no revenue")
    if percent > 0:
        return _("revenue up %(percent)s %%") % {"percent": percent}
    if percent < 0:
        return _("revenue down %(percent)s %%") % {"percent": -percent}
    return _("revenue the same") if u.revenue_change_minor == 0 else _("revenue about the same")


def verdict(u: Uplift) -> str:
    """One sentence for the manager: 'Sold 34 % more units than the 14 days before,
    revenue up 20 %; gave ₹1,240.00 off on 52 bills.' A baseline of nothing is said in
    words, never as an infinite per cent."""
    off = (ngettext("gave %(amount)s off on %(num)d bill", "gave %(amount)s off on %(num)d bills",
                    u.bills) % {"amount": format_amount(u.discount_minor), "num": u.bills}
           if u.bills else _("took nothing off any bill"))
    before = _before(u.days, u.weekdays_only)
    if u.during.units == 0 and u.before.units == 0:
        return (_("Nothing it covers sold, during the offer or in %(before)s; %(off)s.")
                % {"before": before, "off": off})
    if u.before.units == 0:
        return (ngettext("Sold %(num)d unit; none in %(before)s, so there is no percentage to "
                         "compare; %(off)s.",
                         "Sold %(num)d units; none in %(before)s, so there is no percentage to "
                         "compare; %(off)s.", u.during.units)
                % {"num": u.during.units, "before": before, "off": off})
    return (_("Sold %(units)s, %(revenue)s; %(off)s.")
            % {"units": _units(u), "revenue": _revenue(u), "off": off})


# ---- what the sale lines kept --------------------------------------------------------


def line_offers(text: str) -> list[tuple[str, int]]:
    """(promotion id, paise off) of a sale line's kept offers (app/pos/pricing.offers_json);
    nothing for an empty or unreadable value, and an entry without a whole, non-negative
    amount counts as 0 off (it still names the offer)."""
    if not text:
        return []
    try:
        found = json.loads(text)
    except ValueError:
        return []
    if not isinstance(found, list):
        return []
    out = []
    for o in found:
        if not isinstance(o, dict) or not isinstance(o.get("id"), str):
            continue
        off = o.get("off")
        paise = off if isinstance(off, int) and not isinstance(off, bool) and off >= 0 else 0
        out.append((o["id"], paise))
    return out


@dataclass(frozen=True, slots=True)
class Applied:
    """What the bills kept about one offer: how many bills it applied to and how much
    it took off them."""

    bills: int = 0
    discount_minor: int = 0


def applied(lines: Sequence[tuple[str, str]]) -> dict[str, Applied]:
    """Per promotion id, from (sale id, the line's kept offers) of the range's lines."""
    bills: dict[str, set[str]] = {}
    off: dict[str, int] = {}
    for sale_id, text in lines:
        for pid, paise in line_offers(text):
            bills.setdefault(pid, set()).add(sale_id)
            off[pid] = off.get(pid, 0) + paise
    return {pid: Applied(len(bills[pid]), off[pid]) for pid in bills}


def combined(results: Iterable[Uplift]) -> Uplift:
    """Several stores' results of one offer added up (the chain's line): figures, bills
    and discount summed; the days are the longest any store was measured on (every
    store of a chain offer is measured on the same days)."""
    out = list(results)
    if not out:
        return Uplift(0, Figures(), Figures())
    return Uplift(max(u.days for u in out), sum((u.during for u in out), Figures()),
                  sum((u.before for u in out), Figures()),
                  sum(u.discount_minor for u in out), sum(u.bills for u in out),
                  weekdays_only=any(u.weekdays_only for u in out))


# ---- the offers a store's sale event carries (the hub's chain view) --------------------

MAX_LINES = 10_000  # lines read from one event (a bill has far fewer)
MAX_LINE_OFFERS = 8  # offers read from one line (the engine applies a few at most)
ID_CHARS = 36
NAME_CHARS = 80
SKU_CHARS = 40
AMOUNT_LIMIT = 10**13  # paise (10^11 rupees): beyond it a figure is not a shop's
QUANTITY_LIMIT = 10**12
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class KeptOffer:
    """One offer on one line: its id, name, what it took off and whether it is a bill
    offer (its share of a "₹50 off on ₹500" spread over the bill's lines)."""

    id: str
    name: str
    off_minor: int
    bill: bool = False

    def sent(self) -> dict[str, object]:
        """As the sale and refund events carry it (docs/sync-protocol.md)."""
        return {"id": self.id, "name": self.name, "off": self.off_minor, "bill": self.bill}


@dataclass(frozen=True, slots=True)
class SoldLine:
    """A line of a sale or refund event as the hub books it (refunds negative)."""

    position: int  # its place in the event's lines
    sku: str
    quantity: int
    net_minor: int
    offers: tuple[KeptOffer, ...] = ()


def _whole(value: object, limit: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > limit:
        return None
    return value


def _plain(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join(_CONTROL.sub("", value[: limit * 4]).split())[:limit]


def _offer(o: object) -> KeptOffer | None:
    """One offer entry, or None if it cannot be read: an id of 1..36 printable
    characters and a whole amount off from 0 to AMOUNT_LIMIT (no float, NaN, bool or
    2**63); the name is cut and cleaned; ``bill`` is true only when it is ``true``."""
    if not isinstance(o, dict):
        return None
    pid, off = o.get("id"), _whole(o.get("off"), AMOUNT_LIMIT)
    if (not isinstance(pid, str) or not 0 < len(pid) <= ID_CHARS or _CONTROL.search(pid)
            or pid != pid.strip() or off is None or off < 0):
        return None
    return KeptOffer(pid, _plain(o.get("name"), NAME_CHARS), off, o.get("bill") is True)


def kept_offers(value: object) -> tuple[list[KeptOffer], int]:
    """The readable offers of a line (a sale line's kept JSON list, or an event line's
    ``offers``) and how many entries were not readable (the hub logs them). Nothing
    sent (an older store) is no offer; an id twice on one line counts once (the first);
    past MAX_LINE_OFFERS entries the rest are dropped."""
    if value is None or value == "":
        return [], 0
    if not isinstance(value, list):
        return [], 1
    out: list[KeptOffer] = []
    dropped = max(0, len(value) - MAX_LINE_OFFERS)
    for o in value[:MAX_LINE_OFFERS]:
        kept = _offer(o)
        if kept is None or any(k.id == kept.id for k in out):
            dropped += 1
            continue
        out.append(kept)
    return out, dropped


def sold_lines(data: Mapping[str, object], refund: bool) -> tuple[list[SoldLine], int]:
    """A `sale.completed` (or, ``refund``, `sale.refunded`) event's lines with their
    offers, refunds negative, and how many lines or offers were left out as unreadable.
    A line needs a SKU (1..40 printable characters), a whole quantity and a whole
    amount (``net`` of a sale, ``amount`` of a refund) within the limits; one that has
    not is left out whole. Never raises: a store's bad line never stops its link."""
    lines = data.get("lines")
    if not isinstance(lines, list):
        return [], 0 if lines is None else 1
    sign = -1 if refund else 1
    out: list[SoldLine] = []
    dropped = max(0, len(lines) - MAX_LINES)
    for i, line in enumerate(lines[:MAX_LINES]):
        if not isinstance(line, dict):
            dropped += 1
            continue
        sku = line.get("sku")
        quantity = _whole(line.get("quantity"), QUANTITY_LIMIT)
        amount = _whole(line.get("amount" if refund else "net"), AMOUNT_LIMIT)
        if (not isinstance(sku, str) or not 0 < len(sku) <= SKU_CHARS or _CONTROL.search(sku)
                or quantity is None or amount is None):
            dropped += 1
            continue
        offers, bad = kept_offers(line.get("offers"))
        dropped += bad
        out.append(SoldLine(i, sku, sign * quantity, sign * amount, tuple(
            KeptOffer(o.id, o.name, sign * o.off_minor, o.bill) for o in offers)))
    if (sum(abs(x.net_minor) for x in out) > AMOUNT_LIMIT
            or sum(abs(x.quantity) for x in out) > QUANTITY_LIMIT
            or sum(abs(o.off_minor) for x in out for o in x.offers) > AMOUNT_LIMIT):
        return [], dropped + len(out)  # together not a shop's bill: none of it
    return out, dropped


def line_units(line: SoldLine, loose: bool) -> int:
    """The units a line counts for (the sales report's rule): its pieces, or one for a
    line of a product sold loose (by weight or volume); a refund's line negative."""
    if not loose:
        return line.quantity
    return -1 if line.quantity < 0 or line.net_minor < 0 else 1


def refunded_offers(kept: Sequence[KeptOffer], sold: int, refunded_before: int,
                    quantity: int) -> list[KeptOffer]:
    """What a refund of ``quantity`` of a line (``sold`` in all, ``refunded_before``
    already back) gives back of each offer's amount off: its share of the quantity,
    counted on the line's running total so that refunds of the whole line, in any
    number of parts, give back exactly what the offer took (no paisa lost to rounding).
    A share of zero is still named (the offer applied to what came back)."""
    if sold <= 0 or quantity <= 0:
        return []
    before = min(max(refunded_before, 0), sold)
    after = min(before + quantity, sold)
    return [KeptOffer(k.id, k.name, k.off_minor * after // sold - k.off_minor * before // sold,
                      k.bill) for k in kept]


def stored_offers(text: str) -> list[KeptOffer]:
    """A sale line's kept offers (app/pos/pricing.offers_json) as KeptOffers; nothing
    for an empty or unreadable value."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return []
    return kept_offers(value)[0]
