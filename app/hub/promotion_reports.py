"""The chain's promotions report at the hub (issue #21): what each chain promotion, and
each store's own offers, did across the stores. The store's page (/reports/promotions,
app/reports/promotions.py) does this for one store; here the figures come from the
stores' `sale.completed` / `sale.refunded` events, whose lines carry the offers that
applied and what each took off (docs/sync-protocol.md).

Booking (``record_sale_lines``, called by app/hub/service.py with the sale's hub_sales
row, so a replayed event books nothing twice): every readable line adds to its store's
SKU and day (``hub_sale_sku_days``: lines, quantity, net; refunds negative) and every
offer on it gives a ``hub_sale_offers`` row. Unreadable lines and offers (a wrong type,
2**63, NaN, a huge text) are left out with a warning; the sale itself is still booked.

The report: for a chain promotion, its days (hub_promotions: first and last date, the
day it was ended), what it targets (its SKUs and categories in the hub's catalogue; a
bill offer the whole bill) and, per store and for the chain, bills and discount from the
offer rows and units and revenue from the SKU days during the offer against the same
number of days just before it began. A store's own offer is known to the hub only from
its bills: its days are the first to the last day a bill of that store carried it, and
its products the SKUs it applied to. The comparison and the words are the store's, one
pure core: app/core/promotion_uplift.py. Days are the hub's local dates; a refund counts
on the day it was made (as every hub report), so net figures are right over a range.
"""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import case, func, select

from app.catalog.models import Product
from app.core import csv_safe
from app.core import promotion_uplift as uplift
from app.core.date_ranges import EARLIEST
from app.core.db import Session
from app.core.i18n import N_
from app.core.money import to_decimal_string
from app.hub.db import HubDatabase, upsert
from app.hub.models import HubPromotion, HubSaleOffer, HubSaleSkuDay, HubStore
from app.promotions.service import KIND_WORDS

log = logging.getLogger(__name__)
IN_CHUNK = 500  # SKUs per IN list (SQLite's bound on variables, with room)
OWN_KIND_WORDS = {True: N_("A store's own offer on the bill"), False: N_("A store's own offer")}


# ---- booking -------------------------------------------------------------------------


async def record_sale_lines(s: Session, store_id: str, doc_id: str, refund: bool, day: str,
                            data: Mapping[str, object]) -> None:
    """Book a sale's (or refund's) lines and their offers; call once, with the sale's
    hub_sales row (its insert tells a replay apart)."""
    lines, dropped = uplift.sold_lines(data, refund)
    if dropped:
        log.warning("store %s sent %d unreadable sale line(s) or offer(s) in %s: left out",
                    store_id, dropped, doc_id[:36])
    if not lines:
        return
    kind = "refund" if refund else "sale"
    offers = [{"doc_id": doc_id, "line": ln.position, "promotion_id": o.id,
               "store_id": store_id, "kind": kind, "day": day, "sku": ln.sku,
               "name": o.name, "bill": o.bill, "off_minor": o.off_minor}
              for ln in lines for o in ln.offers]
    if offers:
        await s.execute(upsert(s, HubSaleOffer.__table__).on_conflict_do_nothing(), offers)
    skus = sorted({ln.sku for ln in lines})
    loose: set[str] = set()
    for i in range(0, len(skus), IN_CHUNK):
        loose.update(str(x) for x in await s.scalars(select(Product.sku).where(
            Product.sku.in_(skus[i:i + IN_CHUNK]), Product.unit != "piece")))
    per_sku: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for ln in lines:
        f = per_sku[ln.sku]
        f[0] += ln.quantity
        f[1] += uplift.line_units(ln, loose=ln.sku in loose)
        f[2] += ln.net_minor
    table = HubSaleSkuDay.__table__
    stmt = upsert(s, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["store_id", "sku", "day"],
        set_={"quantity": table.c.quantity + stmt.excluded.quantity,
              "units": table.c.units + stmt.excluded.units,
              "net_minor": table.c.net_minor + stmt.excluded.net_minor})
    await s.execute(stmt, [{"store_id": store_id, "sku": sku, "day": day, "quantity": f[0],
                            "units": f[1], "net_minor": f[2]}
                           for sku, f in sorted(per_sku.items())])


# ---- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class StoreUplift:
    store_id: str
    name: str
    result: uplift.Uplift

    @property
    def verdict(self) -> str:
        return uplift.verdict(self.result)


@dataclass(frozen=True)
class OfferUplift:
    """One offer's line: a chain promotion (``store_id`` '') or a store's own offer."""

    id: str
    name: str
    kind_words: str
    store_id: str
    coupon: str
    targets: uplift.Targets
    offer: uplift.Period  # the days it could run (a store's own: seen on its bills)
    during: uplift.Period
    before: uplift.Period
    dates: tuple[date, ...]
    stores: tuple[StoreUplift, ...]
    total: uplift.Uplift
    during_units: tuple[int, ...]  # the chain's, per day measured (the chart)
    before_units: tuple[int, ...]

    @property
    def chain(self) -> bool:
        return not self.store_id

    @property
    def verdict(self) -> str:
        return uplift.verdict(self.total)


@dataclass(frozen=True)
class ChainPromotions:
    first: date
    last: date
    offers: tuple[OfferUplift, ...]  # chain promotions
    own: tuple[OfferUplift, ...]  # stores' own offers, by store

    @property
    def discount_minor(self) -> int:
        return sum(o.total.discount_minor for o in (*self.offers, *self.own))


def _local(at: datetime | None, tz: tzinfo) -> date | None:
    return at.astimezone(tz).date() if at is not None else None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _list(text: str) -> list[str]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


PerDay = dict[str, dict[date, uplift.Figures]]  # store -> day -> figures


async def _per_day(s: Session, first: date, last: date, skus: Sequence[str] | None,
                   store: str = "") -> PerDay:
    """Units (pieces, or one per line of a product sold loose: the store's rule, counted
    when booked) and net per store and day for ``skus`` (None: every SKU), refunds taken
    off; from the covering indexes alone."""
    base = (select(HubSaleSkuDay.store_id, HubSaleSkuDay.day, func.sum(HubSaleSkuDay.units),
                   func.sum(HubSaleSkuDay.net_minor))
            .where(HubSaleSkuDay.day >= first.isoformat(), HubSaleSkuDay.day <= last.isoformat())
            .group_by(HubSaleSkuDay.store_id, HubSaleSkuDay.day))
    if store:
        base = base.where(HubSaleSkuDay.store_id == store)
    chunks: list[Sequence[str] | None] = [None] if skus is None else [
        skus[i:i + IN_CHUNK] for i in range(0, len(skus), IN_CHUNK)]
    out: PerDay = defaultdict(dict)
    for chunk in chunks:
        stmt = base if chunk is None else base.where(HubSaleSkuDay.sku.in_(list(chunk)))
        for sid, day, u, net in (await s.execute(stmt)).all():
            d = _day(str(day))
            if d is not None:
                days = out[str(sid)]
                days[d] = days.get(d, uplift.Figures()) + uplift.Figures(int(u or 0),
                                                                         int(net or 0))
    return out


async def _applied(s: Session, first: date, last: date
                   ) -> dict[tuple[str, str], uplift.Applied]:
    """Per (promotion id, store): bills it applied to (sales, not refunds) and what it
    took off, net of what refunds gave back, on the days of the range."""
    bills = func.count(func.distinct(case((HubSaleOffer.kind == "sale", HubSaleOffer.doc_id))))
    rows = await s.execute(
        select(HubSaleOffer.promotion_id, HubSaleOffer.store_id, bills,
               func.sum(HubSaleOffer.off_minor))
        .where(HubSaleOffer.day >= first.isoformat(), HubSaleOffer.day <= last.isoformat())
        .group_by(HubSaleOffer.promotion_id, HubSaleOffer.store_id))
    return {(str(p), str(st)): uplift.Applied(int(b or 0), int(off or 0))
            for p, st, b, off in rows.all()}


def _offer_line(oid: str, name: str, kind_words: str, store_id: str, coupon: str,
                targets: uplift.Targets, days: uplift.Period, during: uplift.Period,
                weekdays: frozenset[int], now: PerDay, then: PerDay,
                took: Mapping[str, uplift.Applied], names: Mapping[str, str]
                ) -> OfferUplift | None:
    now_dates = uplift.offer_dates(during, weekdays)
    if not now_dates:
        return None
    then_dates = uplift.baseline_dates(days.first, len(now_dates), weekdays)
    stores = []
    for sid in sorted(set(now) | set(then) | set(took)):
        got = took.get(sid, uplift.Applied())
        stores.append(StoreUplift(sid, names.get(sid, ""), uplift.Uplift(
            len(now_dates), uplift.total(now.get(sid, {}), now_dates),
            uplift.total(then.get(sid, {}), then_dates), got.discount_minor, got.bills,
            weekdays_only=bool(weekdays))))
    total = uplift.combined(st.result for st in stores) if stores else uplift.Uplift(
        len(now_dates), uplift.Figures(), uplift.Figures(), weekdays_only=bool(weekdays))
    chain_now = _chain(now)
    chain_then = _chain(then)
    return OfferUplift(
        oid, name, kind_words, store_id, coupon, targets, days, during,
        uplift.Period(then_dates[0], then_dates[-1]), tuple(now_dates), tuple(stores), total,
        tuple(uplift.series(chain_now, now_dates)), tuple(uplift.series(chain_then,
                                                                        then_dates)))


def _chain(per_store: PerDay) -> dict[date, uplift.Figures]:
    out: dict[date, uplift.Figures] = {}
    for days in per_store.values():
        for d, f in days.items():
            out[d] = out.get(d, uplift.Figures()) + f
    return out


async def chain_promotions(db: HubDatabase, first: date, last: date, tz: tzinfo,
                           today: date) -> ChainPromotions:
    """Every chain promotion with a day in first..last, and every store's own offer a
    bill of the range carried, in one read transaction."""
    async with db.read() as s:
        names = {str(i): str(n) for i, n in await s.execute(select(HubStore.id,
                                                                     HubStore.name))}
        products = [(str(sku), str(cat or "")) for sku, cat in await s.execute(
            select(Product.sku, Product.category))]
        applied = await _applied(s, first, last)
        by_offer: dict[str, dict[str, uplift.Applied]] = defaultdict(dict)
        for (pid, sid), got in applied.items():
            by_offer[pid][sid] = got
        rows = (await s.execute(select(HubPromotion).order_by(HubPromotion.id))).scalars().all()
        chain_ids = {row.id for row in rows}
        offers = []
        for row in rows:
            ended = _local(row.ended_at, tz) or (None if row.active else _local(
                row.updated_at, tz))
            days = uplift.offer_days(_day(row.starts), _day(row.ends),
                                     _local(row.created_at, tz) or today, ended, today)
            during = uplift.measured(days, first, last) if days else None
            if days is None or during is None:
                continue
            targets = uplift.targets_of(row.kind, _list(row.target_skus),
                                        _list(row.target_categories), _list(row.get_skus),
                                        _list(row.get_categories))
            skus = None if targets.everything else [
                sku for sku, cat in products if targets.covers(sku, cat)]
            weekdays = uplift.weekdays_of(row.days or "")
            now_dates = uplift.offer_dates(during, weekdays)
            if not now_dates:
                continue
            then_dates = uplift.baseline_dates(days.first, len(now_dates), weekdays)
            now = await _per_day(s, during.first, during.last, skus) if skus != [] else {}
            then = await _per_day(s, then_dates[0], then_dates[-1], skus) if skus != [] \
                else {}
            line = _offer_line(row.id, row.name, KIND_WORDS.get(row.kind, row.kind), "",
                               row.coupon or "", targets, days, during, weekdays, now, then,
                               by_offer.get(row.id, {}), names)
            if line is not None:
                offers.append(line)
        own = await _own_offers(s, {k: v for k, v in applied.items()
                                    if k[0] not in chain_ids}, first, last, today, names)
    offers.sort(key=lambda o: (-o.total.discount_minor, -o.total.bills, o.name, o.id))
    own.sort(key=lambda o: (o.store_id, -o.total.discount_minor, o.name, o.id))
    return ChainPromotions(first, last, tuple(offers), tuple(own))


async def _own_offers(s: Session, keys: Mapping[tuple[str, str], uplift.Applied],
                      first: date, last: date, today: date, names: Mapping[str, str]
                      ) -> list[OfferUplift]:
    """A store's own offers, known from its bills: the days from the first to the last
    bill that carried it, the SKUs it applied to (a bill offer: the whole bill). Two
    reads for all of them, then the figures per offer."""
    ids = sorted({pid for pid, _sid in keys})
    seen: dict[tuple[str, str], tuple[Any, ...]] = {}
    skus_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i in range(0, len(ids), IN_CHUNK):
        chunk = ids[i:i + IN_CHUNK]
        for pid, sid, *rest in (await s.execute(
                select(HubSaleOffer.promotion_id, HubSaleOffer.store_id,
                       func.min(HubSaleOffer.day), func.max(HubSaleOffer.day),
                       func.max(HubSaleOffer.name),
                       func.max(case((HubSaleOffer.bill.is_(True), 1), else_=0)))
                .where(HubSaleOffer.promotion_id.in_(chunk))
                .group_by(HubSaleOffer.promotion_id, HubSaleOffer.store_id))).all():
            seen[(str(pid), str(sid))] = tuple(rest)
        for pid, sid, sku in (await s.execute(
                select(HubSaleOffer.promotion_id, HubSaleOffer.store_id, HubSaleOffer.sku)
                .where(HubSaleOffer.promotion_id.in_(chunk)).distinct())).all():
            skus_of[(str(pid), str(sid))].add(str(sku))
    out: list[OfferUplift] = []
    for (pid, sid), got in sorted(keys.items()):
        a_text, b_text, name, bill = seen.get((pid, sid), (None, None, None, 0))
        a, b = _day(a_text), _day(b_text)
        if a is None or b is None:
            continue
        days = uplift.Period(max(a, EARLIEST), max(min(b, today), a))
        during = uplift.measured(days, first, last)
        if during is None:  # only a refund in the range, of a bill from before it
            continue
        skus = None if bill else sorted(skus_of[(pid, sid)])
        targets = uplift.Targets(everything=True) if skus is None else uplift.Targets(
            skus=frozenset(skus))
        then_dates = uplift.baseline_dates(days.first, during.days)
        now = await _per_day(s, during.first, during.last, skus, store=sid)
        then = await _per_day(s, then_dates[0], then_dates[-1], skus, store=sid)
        line = _offer_line(pid, str(name or pid), OWN_KIND_WORDS[bool(bill)], sid, "",
                           targets, days, during, frozenset(), now, then, {sid: got}, names)
        if line is not None:
            out.append(line)
    return out


# ---- CSV -----------------------------------------------------------------------------

HEADER = ["Promotion", "Kind", "Chain or store offer", "Store", "Store name", "Coupon",
          "Covers", "Offer from", "Offer to", "Measured from", "Measured to",
          "Baseline from", "Baseline to", "Bills", "Discount given", "Units during",
          "Units before", "Units change %", "Revenue during", "Revenue before",
          "Revenue change %", "In words", "Days compared", "Its days of the week only"]


def _row(o: OfferUplift, store: str, name: str, u: uplift.Uplift) -> list[Any]:
    m = to_decimal_string
    return [o.name, o.kind_words, "chain" if o.chain else "store", store, name, o.coupon,
            o.targets.words(), o.offer.first.isoformat(), o.offer.last.isoformat(),
            o.during.first.isoformat(), o.during.last.isoformat(),
            o.before.first.isoformat(), o.before.last.isoformat(), u.bills,
            m(u.discount_minor), u.during.units, u.before.units,
            "" if u.unit_percent is None else u.unit_percent, m(u.during.revenue_minor),
            m(u.before.revenue_minor), "" if u.revenue_percent is None else u.revenue_percent,
            uplift.verdict(u), u.days, "yes" if u.weekdays_only else "no"]


def report_csv(report: ChainPromotions) -> str:
    """Per offer, one row for the chain (store 'ALL') then one per store; amounts in
    rupees with two decimals; every cell through csv_safe (an offer or store named
    '=HYPERLINK(...)' stays text in a spreadsheet)."""
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["Chain promotions report", report.first.isoformat(), report.last.isoformat(),
                "Baseline: the same number of days just before each offer began"])
    w.writerow([])
    w.writerow(HEADER)
    for o in (*report.offers, *report.own):
        if o.chain:
            w.writerow(_row(o, "ALL", "All stores", o.total))
        for st in o.stores:
            w.writerow(_row(o, st.store_id, st.name, st.result))
    return out.getvalue()
