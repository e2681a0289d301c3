"""Loyalty points at the store (issue #21, docs/loyalty.md): joining with consent,
looking a customer up by phone or card, the points a bill may take, what a sale earns
and spends, what a refund takes back and returns, erasing a customer on request, and
applying the hub's balances. Each movement is a ledger row and an outbox event written
in the caller's transaction (the sale's or the refund's), so the hub books it exactly
once; the rules themselves are pure (app/core/loyalty.py)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import _
from app.core.loyalty import (
    FRESH_SECONDS,
    LoyaltyError,
    Redeemable,
    RefundPoints,
    Rules,
    available,
    balance_allowed,
    check_redeem,
    clean_name,
    is_phone,
    mask_phone,
    normalise_card,
    normalise_phone,
    points_earned,
    redeemable,
    refund_points,
    tombstone_key,
)
from app.core.secret_file import install_secret
from app.loyalty.models import Customer, LoyaltyEntry, RefundPart, Tombstone
from app.sync.outbox import emit

log = logging.getLogger("kirana.loyalty")

HISTORY_ROWS = 100
ASK_AGAIN_SECONDS = 30  # a lookup is sent to the hub at most this often per customer


@lru_cache(maxsize=8)
def _secret_of(data_dir: str) -> bytes:
    return hmac.new(install_secret(Path(data_dir)).encode(), b"kirana loyalty tombstone v1",
                    hashlib.sha256).digest()


def tomb_secret(cfg: StoreConfig) -> bytes:
    """The key erased numbers are kept under (`loyalty_tombstones`): derived from the
    install's secret file, which is never in the database (core/secret_file.py)."""
    return _secret_of(str(cfg.data_dir))


async def _tombstone(s: Session, secret: bytes, phone: str, at: datetime) -> None:
    """Remember that this number was erased here at `at` (the later time wins)."""
    key = tombstone_key(secret, phone)
    row = await s.get(Tombstone, key)
    if row is None:
        s.add(Tombstone(key=key, erased_at=at))
    elif row.erased_at < at:
        row.erased_at = at


async def erased_at(s: Session, secret: bytes, phone: str) -> datetime | None:
    """When this number was last erased here; None: never."""
    return await s.scalar(select(Tombstone.erased_at).where(
        Tombstone.key == tombstone_key(secret, phone)))

def rules_of(cfg: StoreConfig) -> Rules:
    c = cfg.loyalty
    return Rules(points_per_100_rupees=c.points_per_100_rupees,
                 point_value_paise=c.point_value_paise,
                 redeem_cap_percent=c.redeem_cap_percent,
                 min_balance_points=c.min_balance_points,
                 offline_allowance_points=c.offline_allowance_points)


@dataclass(frozen=True)
class Standing:
    """A customer as the till and the customer's page see them."""

    customer: Customer
    hub_balance: int
    pending: int  # this store's movements the hub had not booked when it last said
    confirmed: bool  # the hub's balance was heard in the last FRESH_SECONDS

    @property
    def balance(self) -> int:
        return available(self.hub_balance, self.pending)

    @property
    def masked(self) -> str:
        return mask_phone(self.customer.phone or "")


async def _pending(s: Session, customer: Customer) -> int:
    return int(await s.scalar(
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
            LoyaltyEntry.customer_id == customer.id, LoyaltyEntry.seq > customer.hub_seq)) or 0)


async def standing_of(s: Session, customer: Customer, now: datetime | None = None) -> Standing:
    now = now or utcnow()
    fresh = (customer.hub_at is not None
             and now - customer.hub_at <= timedelta(seconds=FRESH_SECONDS))
    return Standing(customer, customer.hub_balance, await _pending(s, customer), fresh)


async def _by_phone(s: Session, phone: str) -> Customer | None:
    return await s.scalar(select(Customer).where(Customer.phone == phone))


async def find(s: Session, text: str) -> Customer | None:
    """A live customer by mobile number or card code (as typed or scanned); None when
    unknown here. Bad input is a LoyaltyError saying what a number or card looks like."""
    if len(text) > 64 or "\x00" in text:
        raise LoyaltyError(_("type a 10-digit mobile number or scan the loyalty card"))
    if is_phone(text):
        return await _by_phone(s, normalise_phone(text))
    card = normalise_card(text)
    return await s.scalar(select(Customer).where(Customer.card == card))


def _ask_hub(s: Session, customer: Customer | None, now: datetime, *, phone: str = "",
             card: str = "") -> None:
    """Ask the hub for a customer's balance (it answers `loyalty.balance` to this store
    only: a store hears of the customers it asked for or moved points of)."""
    if customer is not None:
        if customer.asked_at is not None and now - customer.asked_at < timedelta(
                seconds=ASK_AGAIN_SECONDS):
            return
        customer.asked_at = now
        phone, card = customer.phone or "", customer.card or ""
    emit(s, "loyalty.lookup", {"phone": phone or None, "card": card or None})


async def look_up(db: Database, cfg: StoreConfig, text: str) -> Standing | None:
    """The customer with this number or card, asking the hub for a fresh balance; None
    when the store does not know them (the hub is asked too: a customer who joined at
    another store is known here once it answers)."""
    if not cfg.loyalty.enabled:
        raise LoyaltyError(_("loyalty points are off at this store"))
    now = utcnow()
    async with db.write() as s:
        customer = await find(s, text)
        if customer is None:
            phone = normalise_phone(text) if is_phone(text) else ""
            _ask_hub(s, None, now, phone=phone, card="" if phone else normalise_card(text))
            return None
        _ask_hub(s, customer, now)
        return await standing_of(s, customer, now)


async def standing_for_phone(db: Database, phone: str) -> Standing | None:
    """A cart's customer, read only (the pay panel)."""
    if not phone:
        return None
    async with db.read() as s:
        customer = await _by_phone(s, phone)
        return None if customer is None else await standing_of(s, customer)


async def ask_for_phone(db: Database, cfg: StoreConfig, phone: str) -> None:
    """Ask the hub for the cart's customer's balance (the pay panel opening)."""
    if not cfg.loyalty.enabled or not phone:
        return
    now = utcnow()
    async with db.write() as s:
        customer = await _by_phone(s, phone)
        if customer is not None:
            _ask_hub(s, customer, now)


async def join(db: Database, cfg: StoreConfig, *, phone: str, card: str, name: str,
               consent: bool, user: StaffUser) -> Customer:
    """A customer joins: only with their consent, recorded with its time (DPDP Act
    2023). The hub learns the number, card and consent time; the name stays here."""
    if not cfg.loyalty.enabled:
        raise LoyaltyError(_("loyalty points are off at this store"))
    if not consent:
        raise LoyaltyError(_("ask the customer first: they must agree to join (tick the box)"))
    number = normalise_phone(phone)
    code = normalise_card(card) if card.strip() else None
    first = clean_name(name)
    now = utcnow()
    async with db.write() as s:
        existing = await _by_phone(s, number)
        if code is not None:
            holder = await s.scalar(select(Customer).where(Customer.card == code))
            if holder is not None and holder is not existing:
                raise LoyaltyError(_("that card belongs to another customer"))
        if existing is not None and existing.consent_at is not None:
            raise LoyaltyError(_("%(phone)s has already joined") % {"phone": mask_phone(number)})
        customer = existing or Customer(phone=number, created_at=now, hub_balance=0,
                                        hub_seq=0)
        customer.card, customer.name, customer.consent_at = code, first, now
        if existing is None:
            s.add(customer)
        emit(s, "loyalty.joined", {"phone": number, "card": code, "consent_at": now.isoformat()})
        audit.record(s, "loyalty.join", mask_phone(number), user=user)
        await s.flush()
        return customer


async def redeem_limit(s: Session, cfg: StoreConfig, phone: str, *, bill_total_minor: int,
                       on_bill_minor: int, remaining_minor: int) -> Redeemable:
    """The most points the cart's customer may still pay with on this bill."""
    if not cfg.loyalty.enabled:
        raise LoyaltyError(_("loyalty points are off at this store"))
    if not phone:
        raise LoyaltyError(_("add the customer's mobile number or card first"))
    customer = await _by_phone(s, phone)
    if customer is None or customer.consent_at is None:
        raise LoyaltyError(_("%(phone)s has not joined the loyalty scheme")
                           % {"phone": mask_phone(phone)})
    st = await standing_of(s, customer)
    return redeemable(hub_balance=st.hub_balance, pending=st.pending, confirmed=st.confirmed,
                      bill_total_minor=bill_total_minor, on_bill_minor=on_bill_minor,
                      remaining_minor=remaining_minor, rules=rules_of(cfg))


async def check_points_tender(s: Session, cfg: StoreConfig, phone: str, amount_minor: int,
                              *, bill_total_minor: int, on_bill_minor: int,
                              remaining_minor: int) -> None:
    """Refuse a points tender the rules do not allow (core.loyalty.redeemable)."""
    value = cfg.loyalty.point_value_paise
    if amount_minor <= 0 or amount_minor % value:
        raise LoyaltyError(_("points pay in whole points"))
    limit = await redeem_limit(s, cfg, phone, bill_total_minor=bill_total_minor,
                               on_bill_minor=on_bill_minor, remaining_minor=remaining_minor)
    check_redeem(amount_minor // value, limit)


@dataclass(frozen=True)
class SalePoints:
    earned: int
    redeemed: int
    balance: int
    masked_phone: str

    def receipt(self) -> dict[str, Any]:
        """As the receipt templates read it (the same keys as sale_points)."""
        return {"earned": self.earned, "redeemed": self.redeemed, "balance": self.balance,
                "phone": self.masked_phone}


async def _entry(s: Session, customer: Customer, kind: str, points: int, *, at: datetime,
                 reference: str, sale_id: str | None, refund_id: str | None,
                 event: str, sale: str = "", cashier_id: str | None = None) -> LoyaltyEntry:
    entry = LoyaltyEntry(customer_id=customer.id, kind=kind, points=points, sale_id=sale_id,
                         refund_id=refund_id, reference=reference, at=at, seq=0,
                         cashier_id=cashier_id)
    s.add(entry)
    await s.flush()  # the entry's id
    data = {"entry_id": entry.id, "phone": customer.phone, "kind": kind, "points": points,
            "reference": reference, "at": at.isoformat()}
    if cashier_id:  # who took the points tender (optional: the hub shows it when sent)
        data["cashier"] = cashier_id
    if sale:  # a reversal names the bill it reverses: the hub ties it to what that booked
        data["sale"] = sale
    out = emit(s, event, data)
    await s.flush()  # the event's seq: pending until the hub's balance covers it
    entry.seq = out.seq
    return entry


# Plain SQL: app.pos builds on this module (see _FORGET).
_SALE_CASHIER = text("SELECT cashier_id FROM sales WHERE id = :sale")


async def on_sale(s: Session, cfg: StoreConfig, *, phone: str, sale_id: str, number: str,
                  total_minor: int, points_minor: int, at: datetime,
                  cashier_id: str | None = None) -> SalePoints | None:
    """In the sale's transaction: the points it spent (checked again: another counter
    may have spent them since the tender was taken), recorded with the cashier who took
    them, and the points it earned on what was paid otherwise."""
    if not cfg.loyalty.enabled or not phone:
        if points_minor:
            raise LoyaltyError(_("points cannot pay this bill: loyalty is off or there is no "
                                 "customer; remove the points payment"))
        return None
    customer = await _by_phone(s, phone)
    if customer is None or customer.consent_at is None:
        if points_minor:
            raise LoyaltyError(_("remove the points payment: the customer has not joined"))
        return None
    rules = rules_of(cfg)
    redeemed = points_minor // max(1, rules.point_value_paise)
    if redeemed:
        st = await standing_of(s, customer)
        limit = redeemable(hub_balance=st.hub_balance, pending=st.pending,
                           confirmed=st.confirmed, bill_total_minor=total_minor,
                           on_bill_minor=0, remaining_minor=total_minor, rules=rules)
        try:
            check_redeem(redeemed, limit)
        except LoyaltyError as exc:
            raise LoyaltyError(_("%(why)s; remove the points payment and take it again")
                               % {"why": exc}) from None
        if cashier_id is None:  # the sale's cashier (the row is written first)
            cashier_id = await s.scalar(_SALE_CASHIER, {"sale": sale_id})
        await _entry(s, customer, "redeemed", -redeemed, at=at, reference=number,
                     sale_id=sale_id, refund_id=None, event="loyalty.redeemed",
                     cashier_id=cashier_id)
    earned = points_earned(total_minor - points_minor, rules)
    if earned:
        await _entry(s, customer, "earned", earned, at=at, reference=number, sale_id=sale_id,
                     refund_id=None, event="loyalty.earned")
    st = await standing_of(s, customer)
    return SalePoints(earned, redeemed, st.balance, st.masked)


async def on_refund(s: Session, cfg: StoreConfig, *, sale_id: str, refund_id: str,
                    number: str, bill_total_minor: int, points_paid_minor: int,
                    refunded_before_minor: int, refund_minor: int, everything_back: bool,
                    at: datetime) -> RefundPoints | None:
    """In the refund's transaction: earned points taken back and redeemed points
    returned, prorated (core.loyalty.refund_points). None: the bill moved no points.
    An erased customer's points share is forfeited (no account to put it on, and it was
    never money); earned points already spent are paid for from the refund's money and
    recorded as a `paid_back` row (never sent: the hub's balance does not move)."""
    rows = list(await s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.sale_id == sale_id)))
    if not rows and not points_paid_minor:
        return None
    customer = await s.get(Customer, rows[0].customer_id) if rows else None
    live = customer is not None and customer.erased_at is None
    balance = (await standing_of(s, customer)).balance if live and customer else None
    result = refund_points(
        bill_total_minor=bill_total_minor, earned=sum(r.points for r in rows if r.kind == "earned"),
        redeemed=-sum(r.points for r in rows if r.kind == "redeemed"),
        points_paid_minor=points_paid_minor,
        refunded_before_minor=refunded_before_minor, refund_minor=refund_minor,
        everything_back=everything_back,
        earned_back_before=-sum(r.points for r in rows if r.kind in ("earned_back", "paid_back")),
        points_back_before=sum(r.points for r in rows if r.kind == "points_back"),
        balance=balance, rules=rules_of(cfg))
    forfeited = result.points_minor if result.forfeited else 0
    if forfeited or result.short_minor:  # their own rows on the shift's X/Z report
        s.add(RefundPart(refund_id=refund_id, forfeited_minor=forfeited,
                         kept_minor=result.short_minor))
    if not live or customer is None:
        return result
    bill = next((r.reference for r in rows if r.kind in ("earned", "redeemed")), "")
    if result.points_back:
        await _entry(s, customer, "points_back", result.points_back, at=at, reference=number,
                     sale_id=sale_id, refund_id=refund_id, event="loyalty.reversed",
                     sale=bill)
    if result.earned_back:
        await _entry(s, customer, "earned_back", -result.earned_back, at=at, reference=number,
                     sale_id=sale_id, refund_id=refund_id, event="loyalty.reversed",
                     sale=bill)
    if result.short_points:
        s.add(LoyaltyEntry(customer_id=customer.id, kind="paid_back", points=-result.short_points,
                           sale_id=sale_id, refund_id=refund_id, reference=number, at=at, seq=0))
    return result


async def points_of_sale(db: Database, sale_id: str) -> dict[str, Any] | None:
    """What a receipt shows of a sale's points: earned, redeemed, the balance now,
    the masked number; None when the bill moved no points."""
    async with db.read() as s:
        return await sale_points(s, sale_id)


async def sale_points(s: Session, sale_id: str) -> dict[str, Any] | None:
    rows = list(await s.scalars(select(LoyaltyEntry).where(
        LoyaltyEntry.sale_id == sale_id, LoyaltyEntry.refund_id.is_(None))))
    if not rows:
        return None
    customer = await s.get(Customer, rows[0].customer_id)
    if customer is None or customer.erased_at is not None:
        return None
    st = await standing_of(s, customer)
    return {"earned": sum(r.points for r in rows if r.kind == "earned"),
            "redeemed": -sum(r.points for r in rows if r.kind == "redeemed"),
            "balance": st.balance, "phone": st.masked}


@dataclass(frozen=True)
class CustomerPage:
    standing: Standing
    history: list[LoyaltyEntry]
    cashiers: dict[str, str]  # user id -> name, for who took points


# Plain SQL: the users table is core's, read here only for names on the history.
_NAMES = text("SELECT id, name FROM users WHERE id IN (SELECT cashier_id FROM loyalty_entries "
              "WHERE customer_id = :customer AND cashier_id IS NOT NULL)")


async def customer_page(db: Database, customer_id: str) -> CustomerPage | None:
    async with db.read() as s:
        customer = await s.get(Customer, customer_id[:36])
        if customer is None or customer.erased_at is not None:
            return None
        history = list(await s.scalars(
            select(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer.id)
            .order_by(LoyaltyEntry.at.desc(), LoyaltyEntry.id.desc()).limit(HISTORY_ROWS)))
        names = {str(r[0]): str(r[1]) for r in await s.execute(_NAMES, {"customer": customer.id})}
        return CustomerPage(await standing_of(s, customer), history, names)


async def erase(db: Database, cfg: StoreConfig, customer_id: str, user: StaffUser) -> bool:
    """Erase a customer on request (DPDP Act 2023): number, card and name blanked here
    and, through `loyalty.erased`, at the hub and every store it told. The points
    ledger stays, anonymous, for the books; the number's tombstone (a keyed hash) stops
    a balance booked before now from making them known here again. False: no such
    customer."""
    now = utcnow()
    secret = tomb_secret(cfg)
    async with db.write() as s:
        customer = await s.get(Customer, customer_id[:36])
        if customer is None or customer.erased_at is not None:
            return False
        phone = customer.phone
        _blank(customer, now)
        if phone:
            await _tombstone(s, secret, phone, now)
        await _forget_number(s, phone)
        emit(s, "loyalty.erased", {"phone": phone, "at": now.isoformat()})
        audit.record(s, "loyalty.erase", f"customer {customer.id}", user=user)
        return True


# The till keeps the number a bill was made for (sales, carts, coupon uses): erased with
# the customer.
# Plain SQL on purpose: app.pos builds on this module, so it cannot import pos models.
# So are the copies of loyalty events in the outbox the hub has acknowledged (those not
# yet sent keep the number: the hub needs it to book them; they go with the outbox's
# retention).
_FORGET = (text("UPDATE sales SET customer_phone = '' WHERE customer_phone = :phone"),
           text("UPDATE carts SET customer_phone = '' WHERE customer_phone = :phone"),
           text("UPDATE coupon_uses SET customer_phone = '' WHERE customer_phone = :phone"),
           text("UPDATE outbox SET data = REPLACE(data, :phone, :masked) "
                "WHERE kind LIKE 'loyalty.%' "
                "AND seq <= (SELECT acked_up FROM sync_state WHERE id = 1)"))


async def _forget_number(s: Session, phone: str | None) -> None:
    if phone:
        for statement in _FORGET:
            await s.execute(statement, {"phone": phone, "masked": mask_phone(phone)})


def _blank(customer: Customer, now: datetime) -> None:
    customer.phone = customer.card = None
    customer.name = ""
    customer.consent_at = None
    customer.erased_at = now


# ---- hub -> store ---------------------------------------------------------------------


class BadLoyaltyEvent(ValueError):
    """A hub loyalty event the store cannot read."""


def _whole(data: dict, key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadLoyaltyEvent(f"{key!r} must be a whole number from {low} to {high}")
    return value


async def apply_balance(s: Session, data: dict, secret: bytes) -> None:
    """`loyalty.balance`: the hub's balance of a customer and how far it had booked this
    store's events. A customer who joined elsewhere is known here from now on (the
    consent was given to the chain); an older balance than one already held is
    ignored (seq only moves forward). For a number erased here (its tombstone), a
    balance booked before the erasure is ignored, and the customer is known again only
    with a consent given after it (core.loyalty.balance_allowed)."""
    try:
        phone = normalise_phone(str(data.get("phone", ""))[:40])
        card = normalise_card(str(data["card"])[:40]) if data.get("card") else None
        consent = datetime.fromisoformat(str(data.get("consent_at", ""))[:40])
    except (LoyaltyError, ValueError) as exc:
        raise BadLoyaltyEvent(f"loyalty.balance: {exc}") from None
    balance = _whole(data, "balance", 0, 2**62)
    seq = _whole(data, "seq", 0, 2**62)
    now = utcnow()
    # How fresh the balance is: when the hub booked it (`at`), not when it arrived here
    # (a balance delivered after a long time offline is not confirmed: #21 review 9).
    if consent.tzinfo is None:
        raise BadLoyaltyEvent("loyalty.balance: 'consent_at' must carry its offset")
    heard = now
    booked: datetime | None = None
    if data.get("at") is not None:
        try:
            booked = datetime.fromisoformat(str(data["at"])[:40])
        except ValueError:
            raise BadLoyaltyEvent("loyalty.balance: 'at' must be an ISO time") from None
        if booked.tzinfo is None:
            raise BadLoyaltyEvent("loyalty.balance: 'at' must carry its offset")
        heard = min(now, booked)
    customer = await _by_phone(s, phone)
    erased = await erased_at(s, secret, phone)
    if not balance_allowed(erased, booked_at=booked,
                           consent_at=consent, known_here=customer is not None):
        log.info("loyalty.balance for %s, erased here, booked before the erasure or "
                 "without a consent since: ignored", mask_phone(phone))
        return
    if customer is None:
        if card is not None and await s.scalar(select(Customer.id).where(Customer.card == card)):
            card = None  # a stale card here: the hub's number wins, the card is left off
        customer = Customer(phone=phone, card=card, name="", consent_at=consent,
                            created_at=now, hub_balance=0, hub_seq=0)
        s.add(customer)
    elif seq < customer.hub_seq:
        return
    customer.hub_balance, customer.hub_seq, customer.hub_at = balance, seq, heard
    if customer.consent_at is None:
        customer.consent_at = consent


async def apply_erase(s: Session, data: dict, secret: bytes) -> None:
    """`loyalty.erase`: a customer erased at another store (or at the hub): blanked here,
    and their number's tombstone kept (balances booked before now are ignored)."""
    try:
        phone = normalise_phone(str(data.get("phone", ""))[:40])
    except LoyaltyError as exc:
        raise BadLoyaltyEvent(f"loyalty.erase: {exc}") from None
    now = utcnow()
    customer = await _by_phone(s, phone)
    if customer is not None:
        _blank(customer, now)
    await _tombstone(s, secret, phone, erased_when(data.get("at"), now))
    await _forget_number(s, phone)


def erased_when(sent: object, now: datetime) -> datetime:
    """The erasure's time for the tombstone: the hub's (`at`, when it holds the number
    erased) if it is a sane UTC time no later than now, else now. A store that was
    offline when the customer was erased and re-joined elsewhere hears of it late: with
    its own time the re-join's earlier consent would be ignored there for good (#21
    review)."""
    if isinstance(sent, str) and len(sent) <= 40:
        try:
            at = datetime.fromisoformat(sent)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None and at.year >= 2000:
            return min(at.astimezone(UTC), now)
    if sent is not None:
        log.warning("loyalty.erase with an unreadable time %r: erased as of now",
                    str(sent)[:40])
    return now


async def search(db: Database, text: str) -> list[Standing]:
    """The customer with this whole mobile number or card code: the look-up page for
    cashiers and managers. Not by the last digits: a few dozen searches by endings would
    give a masked number back in full (#21 review 7)."""
    if len(text) > 64 or "\x00" in text:
        raise LoyaltyError(_("type the customer's 10-digit mobile number or scan the card"))
    if not is_phone(text) and sum(ch.isdigit() for ch in text) == len(text.strip()):
        raise LoyaltyError(_("type the whole 10-digit mobile number (not only its last "
                             "digits) or scan the card"))
    async with db.read() as s:
        found = await find(s, text)
        if found is None or found.erased_at is not None:
            return []
        return [await standing_of(s, found)]


@dataclass(frozen=True)
class TillOffer:
    """What the pay panel shows of the cart's customer: joined or not, the balance,
    how many points this bill may take and why not more."""

    phone: str  # masked
    joined: bool
    standing: Standing | None = None
    limit: Redeemable | None = None


async def till_offer(db: Database, cfg: StoreConfig, phone: str, *, bill_total_minor: int,
                     on_bill_minor: int, remaining_minor: int) -> TillOffer | None:
    """The pay panel's loyalty box (None: loyalty is off or the cart has no customer).
    An unconfirmed balance asks the hub again (at most every ASK_AGAIN_SECONDS)."""
    if not cfg.loyalty.enabled or not phone:
        return None
    async with db.read() as s:
        customer = await _by_phone(s, phone)
        if customer is None or customer.consent_at is None:
            return TillOffer(mask_phone(phone), False)
        st = await standing_of(s, customer)
        limit = redeemable(hub_balance=st.hub_balance, pending=st.pending,
                           confirmed=st.confirmed, bill_total_minor=bill_total_minor,
                           on_bill_minor=on_bill_minor, remaining_minor=remaining_minor,
                           rules=rules_of(cfg))
        stale = not st.confirmed and (customer.asked_at is None or utcnow() - customer.asked_at
                                      >= timedelta(seconds=ASK_AGAIN_SECONDS))
    if stale:
        await ask_for_phone(db, cfg, phone)
    return TillOffer(st.masked, True, st, limit)


async def phone_for(db: Database, cfg: StoreConfig, text: str) -> str:
    """The mobile number to put on a cart for what the cashier typed or scanned: the
    number itself, or the number of the card's holder (a card not known here asks the
    hub, and the cashier tries again in a moment)."""
    if not cfg.loyalty.enabled:
        return normalise_phone(text)
    if is_phone(text):
        return normalise_phone(text)
    standing = await look_up(db, cfg, text)
    if standing is None or not standing.customer.phone:
        raise LoyaltyError(_("that card is not known here yet; the hub was asked: try again "
                             "in a moment, or type the customer's mobile number"))
    return standing.customer.phone
