"""Coupons at the store (issue #21): find a code's offers and limits, judge a code for
a bill, record its uses in the sale's own transaction, give them back on a whole
refund, and apply a chain coupon pushed by the hub. The rules are app/core/coupons.py.

Limits hold under two tills racing the last use because the use is counted and written
inside the sale's write transaction (SQLite's BEGIN IMMEDIATE: one writer at a time),
so the second sale sees the first one's use and is refused.

A chain coupon's per-customer limit holds across the chain when the hub is reachable:
the till asks the hub (`coupon.lookup`, the customer's key, never the number) and waits
at most ASK_SECONDS for its answer (`coupon.customer`), kept in this process for
ANSWER_FRESH_SECONDS (`ChainAnswers`; the sync client is a task of this process).
Without an answer the store's own count is the rule, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update

from app.config import StoreConfig
from app.core import coupons as rules
from app.core.clock import utcnow
from app.core.coupons import CouponError
from app.core.db import Database, Session
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.promotions import Applied, Promotion
from app.promotions.models import CouponRow, CouponUse, PromotionRow
from app.sync.outbox import emit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """A code's offers (newest first) and its limits row (None: no limits)."""

    code: str
    offers: list[PromotionRow]
    coupon: CouponRow | None

    @property
    def source(self) -> str:
        return self.coupon.source if self.coupon is not None else "store"


async def find(s: Session, code: str) -> Found | None:
    """The offers carrying `code` (a normalised code) and its limits; None: no offer
    has ever carried it."""
    offers = list(await s.scalars(select(PromotionRow).where(PromotionRow.coupon == code)
                                  .order_by(PromotionRow.created_at.desc())))
    if not offers:
        return None
    return Found(code, offers, await s.get(CouponRow, code))


def counted_since(coupon: CouponRow | None) -> datetime | None:
    """Uses before this are not the coupon's: a chain coupon counts from when it came
    (`created_at`, reset when HQ's code took over a store coupon's), so the store's own
    older uses of the same code are not spent from HQ's allowance."""
    return coupon.created_at if coupon is not None and coupon.source == "hub" else None


async def uses_of(s: Session, code: str, phone: str,
                  since: datetime | None = None) -> rules.Uses:
    """Uses of `code` at this store not given back (from `since`): in all, and by
    `phone`."""
    live: tuple = (CouponUse.code == code, CouponUse.returned_at.is_(None))
    if since is not None:
        live = (*live, CouponUse.at >= since)
    total = await s.scalar(select(func.count()).select_from(CouponUse).where(*live)) or 0
    mine = 0
    if phone:
        mine = await s.scalar(select(func.count()).select_from(CouponUse).where(
            *live, CouponUse.customer_phone == phone)) or 0
    return rules.Uses(int(total), int(mine))


# ---- a chain coupon's customer across the chain (the hub's answers) --------------------


ASK_SECONDS = 1.5  # the longest a till waits for the hub's answer (online only)
ANSWER_FRESH_SECONDS = 120.0  # an answer is used this long (the add, then Complete)
ASK_AGAIN_SECONDS = 10.0  # a fresh answer younger than this is not asked again


class ChainAnswers:
    """The hub's answers about customers of chain coupons, by (code, customer key): the
    uses at every store it had booked when it read the question, and when that question
    was asked (this store's uses since then are not in the answer: the caller adds them).
    In memory: the store keeps no customer's chain-wide count on disk, and a restart
    only means asking again."""

    def __init__(self) -> None:
        self._heard: dict[tuple[str, str], tuple[int, datetime, float]] = {}
        self._asked: dict[tuple[str, str], datetime] = {}
        self._waiting: dict[tuple[str, str], list[asyncio.Event]] = {}

    def asked(self, code: str, key: str, at: datetime) -> None:
        if len(self._asked) > 10_000:  # questions never answered (the link went down)
            self._asked.clear()
        self._asked.setdefault((code, key), at)

    def heard(self, code: str, key: str, used: int) -> None:
        if len(self._heard) > 10_000:  # more than a day's customers: forget the oldest
            for old in sorted(self._heard, key=lambda k: self._heard[k][2])[:5_000]:
                del self._heard[old]
        asked = self._asked.pop((code, key), None) or utcnow()
        self._heard[(code, key)] = (used, asked, time.monotonic())
        for waiter in self._waiting.pop((code, key), []):
            waiter.set()

    def used(self, code: str, key: str, max_age: float = ANSWER_FRESH_SECONDS
             ) -> tuple[int, datetime] | None:
        """The hub's count and when it was asked for, if heard within `max_age`."""
        got = self._heard.get((code, key))
        if got is None or time.monotonic() - got[2] > max_age:
            return None
        return got[0], got[1]

    async def wait(self, code: str, key: str, seconds: float) -> tuple[int, datetime] | None:
        waiter = asyncio.Event()
        self._waiting.setdefault((code, key), []).append(waiter)
        try:
            await asyncio.wait_for(waiter.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiting.get((code, key), [])
            if waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiting[(code, key)]
        return self.used(code, key)

    def forget(self) -> None:
        self._heard.clear()
        self._asked.clear()


CHAIN = ChainAnswers()


def chain_key(found: Found, phone: str) -> str | None:
    """The customer's key for a chain coupon with a per-customer limit (what goes to the
    hub instead of the number); None: a store coupon, no such limit, or no number."""
    c = found.coupon
    if c is None or c.source != "hub" or c.per_customer_limit is None or not phone:
        return None
    return rules.customer_key(found.code, phone)


async def ask_hub(db: Database, found: Found, phone: str) -> bool:
    """Ask the hub how often this customer used the chain coupon at every store and wait
    at most ASK_SECONDS (the caller asks only while the link is online; a till is never
    held longer). False: no answer in time, so the store's own count is the rule."""
    key = chain_key(found, phone)
    if key is None:
        return False
    if CHAIN.used(found.code, key, ASK_AGAIN_SECONDS) is not None:
        return True
    async with db.write() as s:
        CHAIN.asked(found.code, key, utcnow())
        emit(s, "coupon.lookup", {"code": found.code, "customer": key})
    return await CHAIN.wait(found.code, key, ASK_SECONDS) is not None


class BadCustomerEvent(ValueError):
    """A coupon.customer the store cannot read."""


def apply_hub_customer(data: dict) -> None:
    """The hub's answer about a customer of a chain coupon (`coupon.customer`)."""
    code = rules.normalise(str(data.get("code", ""))[:rules.MAX_TYPED])
    key, used = data.get("customer"), data.get("used")
    if code is None or not rules.is_customer_key(key) or isinstance(used, bool) \
            or not isinstance(used, int) or not 0 <= used <= 2**31:
        raise BadCustomerEvent("code, customer or used missing or malformed")
    assert isinstance(key, str)
    CHAIN.heard(code, key, used)


def _limits(coupon: CouponRow | None) -> rules.Limits:
    if coupon is None:
        return rules.Limits()
    return rules.Limits(coupon.total_limit, coupon.per_customer_limit, coupon.allowance)


async def refusal(s: Session, cfg: StoreConfig, found: Found, phone: str,
                  at: datetime | None = None) -> str | None:
    """Why the code cannot be used on a bill for `phone` now, or None. The offer judged
    is the newest that is still running or scheduled (else the newest: it says when it
    ended or expired)."""
    now = at or utcnow()
    today = now.astimezone(cfg.tz).date()
    live = [p for p in found.offers if p.active and (p.ends is None or p.ends >= today)]
    offer = live[0] if live else found.offers[0]
    if found.coupon is not None and not found.coupon.active:
        return _("Coupon %(code)s ended") % {"code": found.code}
    ended: date | None = None
    if not offer.active:
        ended = (offer.ended_at or offer.updated_at).astimezone(cfg.tz).date()
    uses = await uses_of(s, found.code, phone, counted_since(found.coupon))
    key = chain_key(found, phone)
    heard = CHAIN.used(found.code, key) if key is not None else None
    if heard is not None:  # the hub's count across the chain, plus this store's since
        since = await uses_of(s, found.code, phone, heard[1])
        uses = rules.Uses(uses.total, uses.by_customer, heard[0] + since.by_customer)
    return rules.refusal(found.code, starts=offer.starts, ends=offer.ends, ended=ended,
                         today=today, limits=_limits(found.coupon), uses=uses, phone=phone)


def applied_codes(applied: Iterable[Applied], promotions: Sequence[Promotion]) -> list[str]:
    """The coupon codes whose offers took something off this bill (only these count
    as used: a coupon entered but not earned costs the customer nothing)."""
    by_id = {p.id: p for p in promotions}
    codes = set()
    for a in applied:
        promo = by_id.get(a.promotion_id)
        if promo is not None and promo.coupon and a.discount > 0:
            codes.add(promo.coupon.strip().upper())
    return sorted(codes)


async def record_uses(s: Session, cfg: StoreConfig, sale_id: str, sale_number: str,
                      phone: str, codes: Sequence[str], at: datetime) -> None:
    """Write a use of each code for this sale, in the caller's (the sale's) write
    transaction; CouponError when a limit was reached meanwhile (another till took the
    last use): the sale is not written. A chain coupon's use goes to the hub
    (`coupon.used`)."""
    for code in codes:
        found = await find(s, code)
        if found is None:
            continue
        why = await refusal(s, cfg, found, phone, at)
        if why is not None:
            raise CouponError(_("%(why)s: remove the coupon from the bill (take the payments "
                                "off first) and charge again") % {"why": why})
        use = CouponUse(id=uuid7(), code=code, sale_id=sale_id, customer_phone=phone, at=at)
        s.add(use)
        if found.source == "hub":
            data = {"use_id": use.id, "code": code, "sale": sale_number,
                    "at": at.isoformat()}
            key = chain_key(found, phone)
            if key is not None:
                data["customer"] = key
            emit(s, "coupon.used", data)


async def release_for_sale(s: Session, sale_id: str, at: datetime) -> list[str]:
    """A refund of the whole bill gives its coupon uses back (in the refund's
    transaction); a chain coupon's release goes to the hub. Returns the codes."""
    uses = list(await s.scalars(select(CouponUse).where(
        CouponUse.sale_id == sale_id, CouponUse.returned_at.is_(None))))
    for use in uses:
        use.returned_at = at
        coupon = await s.get(CouponRow, use.code)
        since = counted_since(coupon)
        if since is not None and use.at >= since:  # a store coupon's older use: not HQ's
            data = {"use_id": use.id, "code": use.code, "at": at.isoformat()}
            key = chain_key(Found(use.code, [], coupon), use.customer_phone)
            if key is not None:
                data["customer"] = key
            emit(s, "coupon.released", data)
    return sorted(u.code for u in uses)


# ---- limits of a store coupon (the promotions form) ------------------------------------


async def set_store_limits(s: Session, code: str, total: int | None,
                           per_customer: int | None) -> None:
    """A store offer's coupon limits (the manager's form). A chain coupon's code is the
    hub's: refused."""
    rules.check_limits(total, per_customer)
    now = utcnow()
    row = await s.get(CouponRow, code)
    if row is not None and row.source == "hub":
        raise CouponError(_("%(code)s is a coupon from HQ: choose another code")
                          % {"code": code})
    if row is None:
        s.add(CouponRow(code=code, total_limit=total, per_customer_limit=per_customer,
                        source="store", allowance=None, hub_version=0, active=True,
                        created_at=now, updated_at=now))
    else:
        row.total_limit, row.per_customer_limit, row.active = total, per_customer, True
        row.updated_at = now


async def _end_store_offers(s: Session, code: str, now: datetime) -> int:
    """A chain coupon's code is HQ's at every store: this store's running offers with
    the same code end (else the till would give the store's offer on HQ's allowance,
    past the store's own limit). The page says why (`TAKEN_BY_HQ`). How many ended."""
    result = await s.execute(update(PromotionRow).where(
        PromotionRow.coupon == code, PromotionRow.source == "store",
        PromotionRow.active.is_(True)).values(active=False, ended_at=now, updated_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def taken_by_hq(code: str) -> str:
    """What the manager reads on a store offer whose code HQ's chain coupon took."""
    return (_("HQ sent a chain coupon with the same code %(code)s, so this offer ended when "
              "it came and the code now gives HQ's offer. To run this offer again, make it "
              "with another code") % {"code": code})


async def limits_by_code(s: Session) -> dict[str, CouponRow]:
    return {c.code: c for c in await s.scalars(select(CouponRow))}


# ---- the hub's chain coupons (coupon.upserted) ----------------------------------------


class BadCouponEvent(ValueError):
    """A coupon.upserted the store cannot read."""


def _count(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31:
        raise BadCouponEvent(f"{key} is not a whole number")
    return value


async def apply_hub_coupon(s: Session, data: dict) -> bool:
    """A chain coupon from the hub: limits and this store's allowance. Applied only
    when its `version` is newer than the stored one (a replay or an older event changes
    nothing). False: skipped as not newer."""
    code = rules.normalise(str(data.get("code", ""))[:rules.MAX_TYPED])
    version = _count(data, "version")
    if code is None or not version:
        raise BadCouponEvent("code or version missing")
    total, per_customer = _count(data, "total_limit"), _count(data, "per_customer_limit")
    allowance = _count(data, "allowance") or 0
    now = utcnow()
    row = await s.get(CouponRow, code)
    if row is not None and row.hub_version >= version:
        return False
    if await _end_store_offers(s, code, now):
        log.warning("coupon %s: this store's own offers with that code ended; the code is "
                    "HQ's chain coupon now", code)
    if row is None:
        row = CouponRow(code=code, created_at=now)
        s.add(row)
    elif row.source != "hub":
        row.created_at = now  # HQ's coupon counts its uses from now (counted_since)
    row.total_limit, row.per_customer_limit = total, per_customer
    row.source, row.allowance, row.hub_version = "hub", allowance, version
    row.active, row.updated_at = data.get("active", True) is not False, now
    return True

