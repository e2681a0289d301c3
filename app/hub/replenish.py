"""Replenishment between stores (issue #17), the pure rule: which SKUs each dark store
will run out of before its next delivery, and which store can spare them.

- velocity: what the store sold of the SKU per day over the last `history_days`
  (till sales and online orders less refunds; hub_sku_days);
- need until the next delivery: velocity x `lead_days`, rounded up to whole units;
- available: on hand - reserved for accepted orders + what is already coming (in
  transit or asked in an open transfer);
- a dark store is short when available < need; it runs out in available / velocity days;
- a store's surplus: available - what is already asked of it - its own need over the
  same days. Only a surplus above zero is offered, so a source never goes below its
  own need by what the page suggests.

Shortages are served most urgent first (earliest run-out, then the larger shortfall),
each from the store with the largest surplus left (then the lower store id), for at
most the shortfall and what that store can spare. Exact integers and fractions: no
floats decide anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from app.core.i18n import gettext

MAX_DAYS = 90


@dataclass(frozen=True)
class StoreSku:
    """One store's figures for one SKU."""

    store: str
    sku: str
    on_hand: int
    reserved: int = 0
    inbound: int = 0  # in transit to it, or asked in an open transfer to it
    outbound: int = 0  # asked of it in open transfers, not yet dispatched
    sold: int = 0  # over the history window


@dataclass(frozen=True)
class Suggestion:
    dest: str
    sku: str
    available: int
    per_day: Fraction
    need: int
    shortfall: int
    runs_out_in_days: Fraction  # 0: already out
    source: str | None  # None: no store can spare it
    quantity: int  # 0 when no source


def velocity(sold: int, history_days: int) -> Fraction:
    """Units per day; a net return (sold < 0) counts as no sales."""
    if history_days < 1:
        raise ValueError("the history needs at least one day")
    return Fraction(max(sold, 0), history_days)


def need(per_day: Fraction, days: int) -> int:
    return math.ceil(per_day * days)


def available(x: StoreSku) -> int:
    return x.on_hand - x.reserved + x.inbound


def suggest(figures: Iterable[StoreSku], dark_stores: Iterable[str], *, lead_days: int,
            history_days: int) -> list[Suggestion]:
    """The page's suggestions (see the module's docstring), most urgent first."""
    if not 1 <= lead_days <= MAX_DAYS or not 1 <= history_days <= MAX_DAYS:
        raise ValueError(gettext("days must be from 1 to %(max)s") % {"max": MAX_DAYS})
    darks = set(dark_stores)
    by_sku: dict[str, list[StoreSku]] = {}
    for x in figures:
        by_sku.setdefault(x.sku, []).append(x)
    shortages: list[Suggestion] = []
    surplus: dict[tuple[str, str], int] = {}
    for sku, rows in by_sku.items():
        for x in rows:
            per_day = velocity(x.sold, history_days)
            wanted = need(per_day, lead_days)
            have = available(x)
            if x.store in darks and per_day > 0 and have < wanted:
                shortages.append(Suggestion(
                    dest=x.store, sku=sku, available=have, per_day=per_day, need=wanted,
                    shortfall=wanted - have,
                    runs_out_in_days=max(Fraction(0), Fraction(have) / per_day),
                    source=None, quantity=0))
            spare = have - x.inbound - x.outbound - wanted
            if spare > 0:
                surplus[(x.store, sku)] = spare
    shortages.sort(key=lambda s: (s.runs_out_in_days, -s.shortfall, s.dest, s.sku))
    out = []
    for short in shortages:
        sources = [(n, store) for (store, sku), n in surplus.items()
                   if sku == short.sku and store != short.dest and n > 0]
        if not sources:
            out.append(short)
            continue
        spare, store = min(sources, key=lambda t: (-t[0], t[1]))
        qty = min(short.shortfall, spare)
        surplus[(store, short.sku)] = spare - qty
        out.append(Suggestion(**{**short.__dict__, "source": store, "quantity": qty}))
    return out


def figures_from(on_hand: Mapping[tuple[str, str], int],
                 reserved: Mapping[tuple[str, str], int],
                 sold: Mapping[tuple[str, str], int],
                 inbound: Mapping[tuple[str, str], int],
                 outbound: Mapping[tuple[str, str], int],
                 stores: Iterable[str]) -> list[StoreSku]:
    """One StoreSku per (store, SKU) any of the maps mentions, for the given stores."""
    wanted = set(stores)
    keys = {k for m in (on_hand, reserved, sold, inbound, outbound) for k in m
            if k[0] in wanted}
    return [StoreSku(store, sku, on_hand.get((store, sku), 0), reserved.get((store, sku), 0),
                     inbound.get((store, sku), 0), outbound.get((store, sku), 0),
                     sold.get((store, sku), 0))
            for store, sku in sorted(keys)]


@dataclass(frozen=True)
class Pick:
    """One ticked suggestion of the bulk confirm."""

    source: str
    dest: str
    sku: str
    quantity: int


MAX_PICKS = 2000


def picks_from_form(form: Mapping[str, str]) -> list[Pick]:
    """The replenishment form's ticked rows: `take:D2:MILK` = on, with `from:D2:MILK`
    (the source) and `qty:D2:MILK` (whole units, editable). Raises ValueError with a
    message for the person when a ticked row is not usable."""
    picks: list[Pick] = []
    for name in sorted(form):
        if not name.startswith("take:"):
            continue
        if len(picks) >= MAX_PICKS:
            raise ValueError(gettext("at most %(max)s rows at once") % {"max": MAX_PICKS})
        _take, _, rest = name.partition(":")
        dest, _, sku = rest.partition(":")
        source = form.get(f"from:{rest}", "").strip().upper()
        text = form.get(f"qty:{rest}", "").strip()
        if not source:
            raise ValueError(gettext("%(sku)s for %(store)s: no store can spare it; untick it")
                             % {"sku": sku[:40], "store": dest[:8]})
        if not text.isascii() or not text.isdigit() or len(text) > 7 or int(text) < 1:
            raise ValueError(gettext("%(sku)s for %(store)s: the quantity must be a whole "
                                     "number from 1") % {"sku": sku[:40], "store": dest[:8]})
        picks.append(Pick(source[:9], dest[:9], sku[:41], int(text)))
    return picks


def group(picks: Iterable[Pick]) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """One transfer per (source, destination), its lines by SKU."""
    out: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for p in picks:
        out.setdefault((p.source, p.dest), []).append((p.sku, p.quantity))
    return {k: sorted(v) for k, v in sorted(out.items())}
