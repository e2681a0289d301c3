"""Chain-wide promotions and coupons at the hub (issue #21).

HQ makes an offer here (the store's form rules and the pure engine judge it); it goes
to every store as `promotion.upserted` (its whole state and a `version`, like a
product) on the shared catalogue log (issue #24: one row, not one per store), and a
chain coupon as `coupon.upserted` with that store's allowance in the store's stream. Stores
report their uses (`coupon.used`, `coupon.released`) and the hub tops up the reporting
store's allowance from what is left of the total (app/core/coupons.top_up): the stores'
grants together never exceed the total, so the total is never overshot, online or not.

Locks: writers here lock every store row in id order first (placement.lock_stores),
then the coupon's row; a store's frame holds its own store row, then the coupon's.
Store rows before coupon rows everywhere: no deadlock between the two. HQ's create and
end, and a store's registration, also take one transaction-scoped advisory lock (after
the store rows): a store registered while an offer is being made hears it either from
the offer's transaction or from its own (PostgreSQL; SQLite has one writer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update

from app.core import audit
from app.core import coupons as coupon_rules
from app.core import promotions as engine
from app.core.clock import utcnow
from app.core.db import Session
from app.core.i18n import N_, _
from app.core.loyalty import is_phone, normalise_phone
from app.hub import catalog_log, placement
from app.hub.db import HubDatabase, dialect_of, write_retrying
from app.hub.models import (
    HubCoupon,
    HubCouponCustomer,
    HubCouponGrant,
    HubCouponUse,
    HubLoyaltyCustomer,
    HubOutbox,
    HubPromotion,
    StoreEventRow,
)
from app.hub.service import active_store_ids, append_to_catalogue_log, enqueue
from app.promotions import service as store_promotions
from app.promotions.models import PromotionRow
from app.promotions.service import FormError
from app.sync.protocol import Event

log = logging.getLogger(__name__)
DEFAULT_PER_STORE = 10


# ---- payloads ---------------------------------------------------------------------------


def promotion_payload(p: HubPromotion) -> dict[str, Any]:
    """The `promotion.upserted` data: the offer's whole state (ended is `active`)."""
    return {
        "id": p.id, "version": p.version, "name": p.name, "kind": p.kind,
        "target_skus": json.loads(p.target_skus), "target_categories": json.loads(
            p.target_categories), "get_skus": json.loads(p.get_skus),
        "get_categories": json.loads(p.get_categories), "percent_bp": p.percent_bp,
        "amount_minor": p.amount_minor, "buy": p.buy, "get": p.get, "size": p.size,
        "bundle_price_minor": p.bundle_price_minor, "min_bill_minor": p.min_bill_minor,
        "cap_minor": p.cap_minor, "free_sku": p.free_sku, "starts": p.starts, "ends": p.ends,
        "days": [int(d) for d in p.days.split(",") if d], "since_minute": p.since_minute,
        "until_minute": p.until_minute, "exclusive": p.exclusive, "priority": p.priority,
        "coupon": p.coupon, "active": p.active, "updated_at": p.updated_at.isoformat(),
    }


async def _to_every_store(s: Session, promo: HubPromotion) -> None:
    """The offer's new state on the shared catalogue log (issue #24): one row for all
    stores, read by each from its cursor, instead of an event per store. Its coupon's
    allowances went into each store's own stream first (an older store, which gets the
    log copied into its stream here, sees them in that order, as before)."""
    await append_to_catalogue_log(s, [(catalog_log.promotion_key(promo.id),
                                       "promotion.upserted", promotion_payload(promo))])


def coupon_payload(c: HubCoupon, granted: int) -> dict[str, Any]:
    """The `coupon.upserted` data for one store: limits and its allowance in all."""
    return {"code": c.code, "version": c.version, "promotion_id": c.promotion_id,
            "total_limit": c.total_limit, "per_customer_limit": c.per_customer_limit,
            "allowance": granted, "active": c.active}


def as_engine(p: HubPromotion) -> engine.Promotion:
    """A hub row as the engine's Promotion (the store's conversion: one rule)."""
    return store_promotions.to_promotion(_StoreShape(p))


class _StoreShape:
    """A HubPromotion seen with the store row's attribute types (dates as dates)."""

    def __init__(self, p: HubPromotion) -> None:
        self._p = p
        self.starts = date.fromisoformat(p.starts) if p.starts else None
        self.ends = date.fromisoformat(p.ends) if p.ends else None
        self.amount_minor = p.amount_minor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._p, name)


# ---- HQ creates and ends -------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    promotion: HubPromotion
    stores: tuple[str, ...]


def _per_store(form: Mapping[str, str]) -> int:
    text = (form.get("coupon_per_store") or "").strip()
    if not text:
        return DEFAULT_PER_STORE
    if len(text) > 8 or not (text.isascii() and text.isdigit()):
        raise FormError(_("uses a store may make offline is a whole number"))
    value = int(text)
    try:
        coupon_rules.check_limits(None, None, value)
    except coupon_rules.CouponError as exc:
        raise FormError(str(exc)) from None
    return value


_CHAIN_OFFERS_LOCK = 2_100_021  # pg_advisory_xact_lock key: chain offers vs new stores


async def lock_chain_offers(s: Session) -> None:
    """Serialise making or ending chain offers with registering a store (taken after the
    store rows). Without it a store registered while an offer was being made missed it:
    neither transaction saw the other's row."""
    if dialect_of(s) == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_OFFERS_LOCK})


async def create(db: HubDatabase, form: Mapping[str, str], user_id: str) -> Created:
    """A chain offer from HQ's form, checked like the store's (FormError or
    PromotionError: nothing saved), sent to every active store in the same transaction."""
    row = store_promotions.row_from_form(form, user_id)
    total, per_customer = store_promotions.coupon_limits(form)
    per_store = _per_store(form)
    if not row.coupon and (total or per_customer):
        raise FormError(_("limits on uses need a coupon code"))
    now = utcnow()

    async def save(s: Session) -> Created:
        await placement.lock_stores(s)
        await lock_chain_offers(s)
        promo = HubPromotion(
            id=row.id, name=row.name, kind=row.kind, target_skus=row.target_skus,
            target_categories=row.target_categories, get_skus=row.get_skus,
            get_categories=row.get_categories, percent_bp=row.percent_bp,
            amount_minor=row.amount_minor, buy=row.buy, get=row.get, size=row.size,
            bundle_price_minor=row.bundle_price_minor, min_bill_minor=row.min_bill_minor,
            cap_minor=row.cap_minor, free_sku=row.free_sku,
            starts=row.starts.isoformat() if row.starts else None,
            ends=row.ends.isoformat() if row.ends else None, days=row.days,
            since_minute=row.since_minute, until_minute=row.until_minute,
            exclusive=row.exclusive, priority=row.priority, coupon=row.coupon, active=True,
            version=1, created_by=user_id, created_at=now, updated_at=now)
        coupon = None
        if row.coupon:
            if await s.get(HubCoupon, row.coupon) is not None:
                raise FormError(_("the coupon code %(code)s is taken: choose another")
                                % {"code": row.coupon})
            coupon = HubCoupon(code=row.coupon, promotion_id=promo.id, total_limit=total,
                               per_customer_limit=per_customer, per_store=per_store,
                               active=True, version=1, created_at=now, updated_at=now)
            s.add(coupon)
        s.add(promo)
        stores = await active_store_ids(s)
        held = 0
        share = coupon_rules.first_share(total=total, per_store=per_store, stores=len(stores))
        if coupon is not None:
            for store_id in stores:
                granted = coupon_rules.top_up(total=total, per_store=share, used_here=0,
                                              held_elsewhere=held)
                held += granted
                s.add(HubCouponGrant(code=coupon.code, store_id=store_id, granted=granted,
                                     used=0))
                await enqueue(s, [store_id], [("coupon.upserted",
                                               coupon_payload(coupon, granted))])
        await _to_every_store(s, promo)
        _audit(s, "chain_promotion_create", f"{promo.id} {promo.kind} {promo.name}", user_id)
        return Created(promo, tuple(stores))

    return await write_retrying(db, save)


def _audit(s: Session, action: str, detail: str, user_id: str) -> None:
    audit.record(s, action, detail[:200], user=user_id)


async def end(db: HubDatabase, promotion_id: str, user_id: str) -> bool:
    """End a chain offer now: every store hears it (`active` false, a newer version),
    and its coupon with it. False: no such running offer."""
    async def save(s: Session) -> bool:
        await placement.lock_stores(s)
        await lock_chain_offers(s)
        promo = await s.get(HubPromotion, promotion_id)
        if promo is None or not promo.active:
            return False
        now = utcnow()
        promo.active, promo.ended_at, promo.updated_at = False, now, now
        promo.version += 1
        coupon = None
        if promo.coupon:  # locked before its grants are read (a report may change them)
            coupon = await s.scalar(select(HubCoupon).where(HubCoupon.code == promo.coupon)
                                    .with_for_update().execution_options(populate_existing=True))
        grants: dict[str, int] = {}
        if coupon is not None:
            coupon.active, coupon.updated_at = False, now
            coupon.version += 1
            grants = dict((await s.execute(select(HubCouponGrant.store_id,
                                                  HubCouponGrant.granted)
                                           .where(HubCouponGrant.code == coupon.code))).all())
        if coupon is not None:
            for store_id in await active_store_ids(s):
                await enqueue(s, [store_id], [("coupon.upserted",
                                               coupon_payload(coupon, grants.get(store_id, 0)))])
        await _to_every_store(s, promo)
        _audit(s, "chain_promotion_end", promotion_id, user_id)
        return True

    return await write_retrying(db, save)


# ---- HQ edits a running offer ----------------------------------------------------------


def _rupees_text(minor: int | None) -> str:
    if not minor:
        return ""
    return f"{minor // 100}" if minor % 100 == 0 else f"{minor // 100}.{minor % 100:02d}"


def _percent_text(bp: int) -> str:
    if not bp:
        return ""
    return f"{bp // 100}" if bp % 100 == 0 else f"{bp / 100:.2f}".rstrip("0")


def _hhmm(minute: int | None) -> str:
    return "" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def form_of(p: HubPromotion, coupon: HubCoupon | None) -> dict[str, str]:
    """The offer as its form's fields (the edit form, prefilled): what
    store_promotions.row_from_form reads back to the same offer."""
    percent = p.percent_bp
    if p.kind == "buy_x_get_y" and percent == engine.FULL_BP:
        percent = 0  # "free": the form's empty percent
    days = {int(d) for d in p.days.split(",") if d}
    form = {
        "kind": p.kind, "name": p.name,
        "skus": ", ".join(json.loads(p.target_skus)),
        "categories": ", ".join(json.loads(p.target_categories)),
        "get_skus": ", ".join(json.loads(p.get_skus)),
        "percent": _percent_text(percent), "amount": _rupees_text(p.amount_minor),
        "buy": str(p.buy or ""), "get": str(p.get or ""), "size": str(p.size or ""),
        "bundle_price": _rupees_text(p.bundle_price_minor),
        "min_bill": _rupees_text(p.min_bill_minor), "cap": _rupees_text(p.cap_minor),
        "free_sku": p.free_sku, "starts": p.starts or "", "ends": p.ends or "",
        "since": _hhmm(p.since_minute), "until": _hhmm(p.until_minute),
        "exclusive": "1" if p.exclusive else "", "priority": str(p.priority or ""),
        "coupon": p.coupon or "",
        **{f"day{d}": "1" for d in days},
    }
    if coupon is not None:
        form.update({
            "coupon_total": "" if coupon.total_limit is None else str(coupon.total_limit),
            "coupon_per_customer": "" if coupon.per_customer_limit is None
            else str(coupon.per_customer_limit),
            "coupon_per_store": str(coupon.per_store)})
    return form


async def for_edit(db: HubDatabase, promotion_id: str) -> tuple[HubPromotion, dict] | None:
    """A running chain offer and its form, prefilled; None: no such running offer."""
    async with db.read() as s:
        promo = await s.get(HubPromotion, promotion_id)
        if promo is None or not promo.active:
            return None
        coupon = await s.get(HubCoupon, promo.coupon) if promo.coupon else None
        return promo, form_of(promo, coupon)


KIND_STAYS = N_("an offer's kind stays as it was made (its sales and reports are of that "
                 "kind): to make another kind, end this one and make a new offer")
CODE_STAYS = N_("a chain offer's coupon code stays as it was made (the stores count its "
                "uses by it): to use another code, end this one and make a new offer")


def _edited_row(promo: HubPromotion, form: Mapping[str, str], user_id: str
                ) -> PromotionRow:
    """The edit form read like a new offer's, with the rules of an edit: the kind and
    the coupon code stay. FormError or PromotionError: nothing changes."""
    if (form.get("kind") or "").strip() != promo.kind:
        raise FormError(_(KIND_STAYS))
    row = store_promotions.row_from_form(form, user_id)
    if row.coupon != promo.coupon:
        raise FormError(_(CODE_STAYS))
    row.id = promo.id
    return row


async def edit(db: HubDatabase, promotion_id: str, form: Mapping[str, str],
               user_id: str) -> Created:
    """HQ changes a running chain offer: checked like a new one (and the kind and the
    coupon code stay), then a newer version of it (and of its coupon) goes to every
    active store in the same transaction, as `promotion.upserted` / `coupon.upserted`;
    stores apply only a newer version. A coupon's total cannot be cut below what the
    stores hold (their uses and the uses granted them to make offline: grants never
    shrink); a raised total tops the stores up at once."""
    async with db.read() as s:
        found = await s.get(HubPromotion, promotion_id)
    if found is None or not found.active:
        raise FormError(_("That offer is not running: an ended offer cannot be changed."))
    row = _edited_row(found, form, user_id)
    total, per_customer = store_promotions.coupon_limits(form)
    per_store = _per_store(form)
    if not row.coupon and (total or per_customer):
        raise FormError(_("limits on uses need a coupon code"))
    now = utcnow()

    async def save(s: Session) -> Created:
        await placement.lock_stores(s)
        await lock_chain_offers(s)
        promo = await s.scalar(select(HubPromotion).where(HubPromotion.id == promotion_id)
                               .with_for_update().execution_options(populate_existing=True))
        if promo is None or not promo.active:
            raise FormError(_("That offer is not running: an ended offer cannot be changed."))
        coupon = None
        grants: dict[str, HubCouponGrant] = {}
        if promo.coupon:
            coupon = await s.scalar(select(HubCoupon).where(HubCoupon.code == promo.coupon)
                                    .with_for_update()
                                    .execution_options(populate_existing=True))
        if coupon is not None:
            grants = {g.store_id: g for g in await s.scalars(select(HubCouponGrant).where(
                HubCouponGrant.code == coupon.code))}
            held = sum(max(g.granted, g.used) for g in grants.values())
            if total is not None and total < held:
                raise FormError(_("the uses in total cannot be fewer than %(held)s: the "
                                  "stores have used or been granted that many (grants are "
                                  "never taken back: a store offline may be using them)")
                                % {"held": held})
            coupon.total_limit, coupon.per_customer_limit = total, per_customer
            coupon.per_store, coupon.updated_at = per_store, now
            coupon.version += 1
        for name in ("name", "target_skus", "target_categories", "get_skus",
                     "get_categories", "percent_bp", "amount_minor", "buy", "get", "size",
                     "bundle_price_minor", "min_bill_minor", "cap_minor", "free_sku", "days",
                     "since_minute", "until_minute", "exclusive", "priority"):
            setattr(promo, name, getattr(row, name))
        promo.starts = row.starts.isoformat() if row.starts else None
        promo.ends = row.ends.isoformat() if row.ends else None
        promo.version += 1
        promo.updated_at = now
        stores = await active_store_ids(s)
        if coupon is not None and coupon.active:
            for store_id in set(stores) - grants.keys():
                grants[store_id] = HubCouponGrant(code=coupon.code, store_id=store_id,
                                                  granted=0, used=0)
                s.add(grants[store_id])
            inactive = sum(g.granted for k, g in grants.items() if k not in stores)
            grown = coupon_rules.rebalance(
                total=None if total is None else max(0, total - inactive),
                per_store=per_store,
                grants={k: (g.granted, g.used) for k, g in grants.items() if k in stores})
            for store_id, granted in grown.items():
                grants[store_id].granted = granted
        if coupon is not None:
            for store_id in stores:
                granted = grants[store_id].granted if store_id in grants else 0
                await enqueue(s, [store_id], [("coupon.upserted",
                                               coupon_payload(coupon, granted))])
        await _to_every_store(s, promo)
        _audit(s, "chain_promotion_edit", f"{promo.id} v{promo.version} {promo.name}",
               user_id)
        return Created(promo, tuple(stores))

    return await write_retrying(db, save)


# ---- the page's reads -----------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    row: HubPromotion
    state: str
    summary: str
    coupon: HubCoupon | None
    used: int  # uses reported, net of those given back
    overshoots: int = 0  # uses booked past a customer's limit across the chain


async def listing(db: HubDatabase, at: datetime) -> list[Listed]:
    async with db.read() as s:
        rows = list(await s.scalars(select(HubPromotion).order_by(
            HubPromotion.created_at.desc()).limit(500)))
        coupons = {c.code: c for c in await s.scalars(select(HubCoupon))}
        used = dict((await s.execute(select(HubCouponGrant.code, func.sum(HubCouponGrant.used))
                                     .group_by(HubCouponGrant.code))).all())
        over = dict((await s.execute(select(HubCouponUse.code, func.count())
                                     .where(HubCouponUse.over_limit.is_(True))
                                     .group_by(HubCouponUse.code))).all())
    out = []
    for row in rows:
        try:
            summary = store_promotions.describe(as_engine(row))
        except (ValueError, TypeError) as exc:
            summary = f"not applied: {exc}"
        state = "ended" if not row.active or (row.ends and at.date().isoformat() > row.ends) \
            else "scheduled" if row.starts and at.date().isoformat() < row.starts else "running"
        out.append(Listed(row, state, summary, coupons.get(row.coupon or ""),
                          int(used.get(row.coupon or "", 0) or 0),
                          int(over.get(row.coupon or "", 0) or 0)))
    return out


async def preview(db: HubDatabase, basket: str, on: str, coupons_text: str,
                  tz: Any, edited: Any | None = None) -> store_promotions.Preview:
    """HQ's running chain offers on a sample basket on a day (`on`, default today),
    priced from the hub's master catalogue by the engine, as a store's till would.
    `edited`: an offer being changed (its form read, not saved), in place of the saved
    one with its id."""
    wanted = store_promotions.parse_basket(basket)
    day = utcnow().astimezone(tz)
    if on.strip():
        try:
            picked = date.fromisoformat(on.strip()[:10])
        except ValueError:
            raise FormError(_("the day is like 2026-12-31")) from None
        day = day.replace(year=picked.year, month=picked.month, day=picked.day)
    async with db.read() as s:
        rows: list[Any] = [_StoreShape(p) for p in await s.scalars(
            select(HubPromotion).where(HubPromotion.active.is_(True)))
            if edited is None or p.id != edited.id]
        promos = store_promotions.load([*rows, *([edited] if edited is not None else [])])
        return await store_promotions.preview_on(s, wanted, promos, day,
                                                 store_promotions.parse_coupons(coupons_text))


async def preview_edit(db: HubDatabase, promotion_id: str, form: Mapping[str, str],
                       basket: str, on: str, coupons_text: str, tz: Any
                       ) -> store_promotions.Preview:
    """The preview with the edit form's offer in place of the saved one (FormError or
    PromotionError: the form is refused as Save would refuse it)."""
    async with db.read() as s:
        promo = await s.get(HubPromotion, promotion_id)
    if promo is None or not promo.active:
        raise FormError(_("That offer is not running: an ended offer cannot be changed."))
    return await preview(db, basket, on, coupons_text, tz,
                         edited=_edited_row(promo, form, "preview"))


# ---- stores' uses (coupon.used, coupon.released) ----------------------------------------


KINDS = frozenset({"coupon.used", "coupon.released", "coupon.lookup"})
# A report may top up other stores too (rebalance): the frame locks every store row
# first (app/sync/hub_link.apply_frame), the lock order of every writer here. A look-up
# is answered to the asking store only, whose row the frame holds: it locks no other
# store (a till's question never queues the chain's intake behind it).
ENQUEUES = frozenset({"coupon.used", "coupon.released"})
# What an erased customer's key becomes in the answers the hub keeps for the stores
# (`coupon.customer`): still a well-formed key (a store that has not applied the answer
# yet gets it, and reads a count for nobody), never the customer's.
ERASED_KEY = "0" * 64


def _customer_of(data: Mapping[str, Any]) -> str | None:
    """The event's customer key, or None (none sent: an older store, no per-customer
    limit). Frame validation (sync/protocol.check_event_data) already refused a
    malformed one; read again here, since a store's report never stops its link."""
    value = data.get("customer")
    return value if coupon_rules.is_customer_key(value) else None


async def apply_store_event(s: Session, store_id: str, event: Event) -> None:
    """A store's use or release of a chain coupon, or a till's question about a
    customer, in the frame's transaction (which holds the store's row). A use books once
    by its id, and counts against its customer (their key) across the chain; the store's
    allowance is then topped up from what is left of the total and sent to it
    (`coupon.upserted`). A code
    the hub does not know, or a malformed event, is logged and skipped: a store's
    report never stops its link."""
    data = event.data
    use_id, code = data.get("use_id"), coupon_rules.normalise(str(data.get("code", ""))[:200])
    if event.kind == "coupon.lookup":
        use_id = "-"  # a question, not a use
    if not isinstance(use_id, str) or not 0 < len(use_id) <= 36 or code is None:
        log.warning("store %s sent %s without a readable use id or code: ignored",
                    store_id, event.kind)
        return
    if event.kind == "coupon.lookup":  # read only: no coupon row lock (see ENQUEUES)
        coupon = await s.scalar(select(HubCoupon).where(HubCoupon.code == code))
    else:
        coupon = await s.scalar(select(HubCoupon).where(HubCoupon.code == code)
                                .with_for_update())
    if coupon is None:
        log.warning("store %s reported coupon %s, which the hub does not have: ignored",
                    store_id, code)
        return
    if event.kind == "coupon.lookup":
        await _answer_lookup(s, store_id, coupon, _customer_of(data))
        return
    grant = await s.get(HubCouponGrant, (code, store_id))
    if grant is None:
        grant = HubCouponGrant(code=code, store_id=store_id, granted=0, used=0)
        s.add(grant)
    use = await s.get(HubCouponUse, use_id)
    now = utcnow()
    if event.kind == "coupon.used":
        if use is not None:
            return  # booked before (a replay)
        use = HubCouponUse(id=use_id, code=code, store_id=store_id,
                           sale=str(data.get("sale", ""))[:24], at=now, over_limit=False)
        s.add(use)
        await _count_customer(s, store_id, coupon, use, _customer_of(data))
        grant.used += 1
        if grant.used > grant.granted:  # a store past its allowance: shown, never hidden
            log.warning("store %s used coupon %s %d times, %d allowed", store_id, code,
                        grant.used, grant.granted)
    else:
        if use is None or use.store_id != store_id or use.released_at is not None:
            return
        use.released_at = now
        grant.used = max(0, grant.used - 1)  # the use is free again at that store
        if use.customer is not None:  # the key booked with the use, not the one resent
            mine = await s.get(HubCouponCustomer, (code, use.customer))
            if mine is not None:
                mine.used = max(0, mine.used - 1)
    await s.flush()
    if coupon.active:
        await _rebalance(s, coupon, now)


async def _count_customer(s: Session, store_id: str, coupon: HubCoupon, use: HubCouponUse,
                          customer: str | None) -> None:
    """Count a use against its customer across the chain (the coupon's row is locked:
    reports of one coupon are booked one at a time). Past the per-customer limit (a store
    offline, or two stores' tills at once) it is booked all the same, as an overshoot
    shown on HQ's page: the sale was completed and the customer has gone."""
    if customer is None or coupon.per_customer_limit is None:
        return
    use.customer = customer
    mine = await s.get(HubCouponCustomer, (coupon.code, customer))
    if mine is None:
        mine = HubCouponCustomer(code=coupon.code, customer=customer, used=0, overshoots=0)
        s.add(mine)
    if mine.used >= coupon.per_customer_limit:
        use.over_limit = True
        mine.overshoots += 1
        # The use's id, never any part of the key (made from the number and the code,
        # both guessable: a prefix would all but name the customer).
        log.warning("store %s: coupon %s use %s is past its per-customer limit (%d)",
                    store_id, coupon.code, use.id, coupon.per_customer_limit)
    mine.used += 1


async def _answer_lookup(s: Session, store_id: str, coupon: HubCoupon,
                         customer: str | None) -> None:
    """A till asking whether a customer has uses of a chain coupon left: the hub's count
    (every store's uses it has booked, the asking store's up to this look-up, since its
    events come in order), answered to that store only (`coupon.customer`)."""
    if customer is None:
        log.warning("store %s asked about coupon %s without a customer key: ignored",
                    store_id, coupon.code)
        return
    mine = await s.get(HubCouponCustomer, (coupon.code, customer))
    await enqueue(s, [store_id], [("coupon.customer", {
        "code": coupon.code, "customer": customer, "used": mine.used if mine else 0,
        "per_customer_limit": coupon.per_customer_limit})])


async def forget_erased(s: Session, store_id: str, data: Mapping[str, Any]) -> None:
    """After the loyalty side applied a store's `loyalty.erased` (app/hub/loyalty.py):
    when the number is no longer a customer there (erased now, or never joined), its
    chain coupon keys go too. A store the loyalty rules did not let erase the customer
    (the number is still there) erases nothing here either."""
    phone = data.get("phone")
    if not isinstance(phone, str) or not is_phone(phone):
        return
    number = normalise_phone(phone)
    if await s.scalar(select(HubLoyaltyCustomer.id).where(
            HubLoyaltyCustomer.phone == number).limit(1)) is not None:
        return
    if await forget_customer(s, number):
        log.info("store %s: a customer erased on request; their chain coupon uses kept "
                 "without them", store_id)


async def forget_customer(s: Session, phone: str) -> int:
    """A customer erased on request: their coupon keys out of the hub (the counts
    deleted, the uses' key blanked, and the key taken out of the copies of the stores'
    events and of the answers the hub keeps). The key of each coupon is worked out again
    from the number (core/coupons.customer_key). One pass for all the coupons: the
    candidate rows are found once, then updated by id. Returns the coupons that counted
    them.

    An answer (`coupon.customer`) keeps a well-formed key (ERASED_KEY) whether or not
    its store has applied it: a store not yet past it still gets a frame it can read
    (it refuses a frame with a malformed key), and reads a count for nobody."""
    codes = list(await s.scalars(select(HubCoupon.code)))  # a limit may have been removed
    keys = sorted({coupon_rules.customer_key(code, phone) for code in codes})
    if not keys:
        return 0
    gone = await s.execute(delete(HubCouponCustomer).where(
        HubCouponCustomer.customer.in_(keys)))
    await s.execute(update(HubCouponUse).where(HubCouponUse.customer.in_(keys))
                    .values(customer=None))
    copies = (await s.execute(select(StoreEventRow.id, StoreEventRow.data).where(
        StoreEventRow.kind.in_(KINDS),
        or_(*(StoreEventRow.data.contains(key) for key in keys))))).all()
    for event_id, data in copies:
        await s.execute(update(StoreEventRow).where(StoreEventRow.id == event_id)
                        .values(data=_without(data, keys, "erased")))
    answers = (await s.execute(select(HubOutbox.store_id, HubOutbox.seq, HubOutbox.data)
                               .where(HubOutbox.kind == "coupon.customer",
                                      or_(*(HubOutbox.data.contains(key) for key in keys)))
                               )).all()
    for store_id, seq, data in answers:
        await s.execute(update(HubOutbox).where(HubOutbox.store_id == store_id,
                                                HubOutbox.seq == seq)
                        .values(data=_without(data, keys, ERASED_KEY)))
    return int(getattr(gone, "rowcount", 0) or 0)


def _without(data: str, keys: list[str], instead: str) -> str:
    for key in keys:
        data = data.replace(key, instead)
    return data


async def _rebalance(s: Session, coupon: HubCoupon, now: datetime) -> None:
    """Top up every active store under its allowance from what no store holds
    (app/core/coupons.rebalance), each told its new grant: a store granted none at the
    start, or one that spent its share, gets more as soon as any store reports. The
    caller holds the store rows (in id order) and the coupon's row."""
    grants = {g.store_id: g for g in await s.scalars(select(HubCouponGrant).where(
        HubCouponGrant.code == coupon.code))}
    active = set(await active_store_ids(s))
    for store_id in active - grants.keys():
        grants[store_id] = HubCouponGrant(code=coupon.code, store_id=store_id, granted=0,
                                          used=0)
        s.add(grants[store_id])
    held_inactive = sum(g.granted for k, g in grants.items() if k not in active)
    total = None if coupon.total_limit is None else max(0, coupon.total_limit - held_inactive)
    grown = coupon_rules.rebalance(total=total, per_store=coupon.per_store, grants={
        k: (g.granted, g.used) for k, g in grants.items() if k in active})
    if not grown:
        return
    coupon.version += 1
    coupon.updated_at = now
    for store_id in sorted(grown):
        grants[store_id].granted = grown[store_id]
        await enqueue(s, [store_id], [("coupon.upserted",
                                       coupon_payload(coupon, grown[store_id]))])


async def send_all_to(s: Session, store_id: str) -> None:
    """A store added after chain offers were made gets a share of their coupons, in the
    transaction that adds it (which holds the store rows and the chain-offers lock:
    add_store); the offers themselves it reads from the shared catalogue log, which
    holds every offer ever made (an ended one as ended). Each coupon's row is locked
    before its grants are read, so a store's report changing them meanwhile is waited
    for, never missed."""
    events: list[tuple[str, dict]] = []
    for promo in await s.scalars(select(HubPromotion).where(HubPromotion.active.is_(True))
                                 .order_by(HubPromotion.id)):
        coupon = None
        if promo.coupon:
            coupon = await s.scalar(select(HubCoupon).where(HubCoupon.code == promo.coupon)
                                    .with_for_update().execution_options(populate_existing=True))
        if coupon is not None and coupon.active:
            held_by = {coupon.code: await s.scalar(
                select(func.coalesce(func.sum(HubCouponGrant.granted), 0))
                .where(HubCouponGrant.code == coupon.code)) or 0}
            granted = coupon_rules.top_up(total=coupon.total_limit, per_store=coupon.per_store,
                                          used_here=0,
                                          held_elsewhere=int(held_by.get(coupon.code, 0) or 0))
            s.add(HubCouponGrant(code=coupon.code, store_id=store_id, granted=granted, used=0))
            events.append(("coupon.upserted", coupon_payload(coupon, granted)))
    await enqueue(s, [store_id], events)

