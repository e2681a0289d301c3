"""Loyalty balances across the chain, at the hub (issue #21, docs/loyalty.md).

Stores send what their tills did (`loyalty.joined`, `.earned`, `.redeemed`,
`.reversed`), ask for a customer (`loyalty.lookup`) and pass on an erasure request
(`loyalty.erased`). The hub books each movement once (by the store's entry id, in the
frame's transaction), never lets a balance go below zero (an overdraw is written off:
core/loyalty.book) and answers `loyalty.balance` to the store that sent or asked, and
to no other: a store's token reads only the customers it asked for. An erasure blanks
the customer here and reaches every store that had heard of them (`loyalty.erase`),
and keeps a tombstone of the number (a keyed hash, `hub_loyalty_tombstones`): a join
carrying a consent given before the erasure does not bring the customer back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, select, update

from app.core import audit
from app.core.clock import utcnow
from app.core.db import Session
from app.core.ids import uuid7
from app.core.loyalty import (
    MAX_POINTS,
    LoyaltyError,
    book,
    mask_phone,
    normalise_card,
    normalise_phone,
    rejoin_allowed,
    tombstone_key,
)
from app.core.security import TokenBucket
from app.core.words import count_of
from app.hub.db import PEPPER_KEY
from app.hub.models import (
    HubLoyaltyCustomer,
    HubLoyaltyEntry,
    HubLoyaltyTombstone,
    HubLoyaltyWatch,
    HubOutbox,
    HubStore,
    StoreEventRow,
)
from app.hub.service import enqueue
from app.sync.protocol import Event

log = logging.getLogger("kirana.hub")

KINDS = frozenset({"loyalty.joined", "loyalty.earned", "loyalty.redeemed", "loyalty.reversed",
                   "loyalty.lookup", "loyalty.erased"})
# Kinds whose applying queues events for other stores (the frame then locks every
# store row first, in id order, like transfers: app/sync/hub_link.py).
ENQUEUES = frozenset({"loyalty.erased"})
# The sign each movement has, by the event that carries it.
_MOVES = {"loyalty.earned": {"earned": 1}, "loyalty.redeemed": {"redeemed": -1},
          "loyalty.reversed": {"earned_back": -1, "points_back": 1}}


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise ValueError(f"{key!r} must be text of at most {count_of(limit, 'character')}")
    return value


def _phone(data: dict) -> str:
    try:
        return normalise_phone(_text(data, "phone", 20))
    except LoyaltyError as exc:
        raise ValueError(f"'phone': {exc}") from None


def _card(data: dict) -> str | None:
    if data.get("card") is None:
        return None
    try:
        return normalise_card(_text(data, "card", 40))
    except LoyaltyError as exc:
        raise ValueError(f"'card': {exc}") from None


def _at(data: dict, key: str) -> datetime:
    try:
        at = datetime.fromisoformat(_text(data, key, 40))
    except ValueError:
        raise ValueError(f"{key!r} must be an ISO time with its offset") from None
    if at.tzinfo is None:
        raise ValueError(f"{key!r} must be an ISO time with its offset")
    return at


# A store's user id as `loyalty.redeemed` names who took the points (a uuid7 today):
# anything else (too long, markup, control characters, not text) is not kept.
CASHIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


def cashier_of(value: object) -> str | None:
    """The optional `cashier` of a movement, or None when absent or not a plain id (a
    hostile value is dropped, never stored or shown; the points still book)."""
    if isinstance(value, str) and CASHIER_RE.fullmatch(value):
        return value
    return None


@dataclass(frozen=True)
class Move:
    entry_id: str
    phone: str
    kind: str
    points: int
    reference: str
    at: datetime
    sale: str = ""  # a reversal: the bill whose booked movement it reverses
    cashier: str | None = None  # a points tender: the store's user who took it


# A reversal and the movement it may reverse (at most what that bill booked).
_REVERSES = {"earned_back": "earned", "points_back": "redeemed"}


def parse_move(kind: str, data: dict) -> Move:
    """A movement event's data, checked: a ValueError fails the frame (4400)."""
    entry_id = _text(data, "entry_id", 36)
    move = _text(data, "kind", 12)
    signs = _MOVES[kind]
    if move not in signs:
        raise ValueError(f"{kind} cannot carry a {move!r} movement")
    points = data.get("points")
    if not isinstance(points, int) or isinstance(points, bool) or not (
            0 < abs(points) <= MAX_POINTS) or (points > 0) != (signs[move] > 0):
        raise ValueError(f"'points' of a {move} movement must be a whole number "
                         f"{'above' if signs[move] > 0 else 'below'} zero, at most "
                         f"{count_of(MAX_POINTS, 'point')}")
    reference = data.get("reference", "")
    if not isinstance(reference, str) or len(reference) > 20 or "\x00" in reference:
        raise ValueError("'reference' must be text of at most 20 characters")
    sale = ""
    if move in _REVERSES:
        sale = data.get("sale", "")
        if not isinstance(sale, str) or len(sale) > 20 or "\x00" in sale:
            raise ValueError("'sale' must be text of at most 20 characters")
    cashier = None
    if move == "redeemed" and data.get("cashier") is not None:
        cashier = cashier_of(data["cashier"])
        if cashier is None:
            log.warning("loyalty entry %s named a cashier that is not a user id: not kept",
                        entry_id)
    return Move(entry_id, _phone(data), move, points, reference, _at(data, "at"), sale,
                cashier)


# ---- tombstones ----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _secret_of(pepper: bytes) -> bytes:
    return hmac.new(pepper, b"kirana hub loyalty tombstone v1", hashlib.sha256).digest()


def tomb_secret(s: Session) -> bytes:
    """The key the hub's tombstones are kept under: derived from the install's secret
    file (the pepper the write's session carries, hub/db.PEPPER_KEY), never in the
    database. Without it nothing is erased or joined (the frame fails, and is retried)."""
    pepper = s.info.get(PEPPER_KEY)
    if not pepper:
        raise RuntimeError("the hub database was opened without its install's secret file "
                           "(core.secret_file.attach_pepper): loyalty tombstones need it")
    return _secret_of(bytes(pepper))


async def erased_at(s: Session, phone: str) -> datetime | None:
    """When the hub last erased this number; None: never."""
    return await s.scalar(select(HubLoyaltyTombstone.erased_at).where(
        HubLoyaltyTombstone.key == tombstone_key(tomb_secret(s), phone)))


async def _erase_payload(s: Session, phone: str) -> dict[str, str]:
    """`loyalty.erase` for a store: the number, and when the hub holds it erased (its
    tombstone's time), so that a store that hears of it late (offline meanwhile) keeps the
    same time, not its own later one: a re-join elsewhere in between stands there too."""
    at = await erased_at(s, phone)
    return {"phone": phone, **({"at": at.isoformat()} if at is not None else {})}


async def _tombstone(s: Session, phone: str, at: datetime) -> None:
    """Remember that this number was erased at `at` (the later erasure wins)."""
    key = tombstone_key(tomb_secret(s), phone)
    row = await s.get(HubLoyaltyTombstone, key, with_for_update=True)
    if row is None:
        s.add(HubLoyaltyTombstone(key=key, erased_at=at))
        await s.flush()
    elif row.erased_at < at:
        row.erased_at = at


async def _scrub_event(s: Session, event_id: str, phone: str) -> None:
    """The number out of the hub's copy of one store event about an erased number (a
    late join or movement): it is not kept in full after the erasure."""
    await s.execute(update(StoreEventRow).where(StoreEventRow.id == event_id)
                    .values(data=func.replace(StoreEventRow.data, phone, mask_phone(phone))))


async def _customer(s: Session, *, phone: str | None = None, card: str | None = None
                    ) -> HubLoyaltyCustomer | None:
    column = HubLoyaltyCustomer.phone if phone else HubLoyaltyCustomer.card
    return await s.scalar(select(HubLoyaltyCustomer).where(column == (phone or card))
                          .with_for_update())


async def _watch(s: Session, store_id: str, customer: HubLoyaltyCustomer) -> None:
    if await s.get(HubLoyaltyWatch, (store_id, customer.id)) is None:
        s.add(HubLoyaltyWatch(store_id=store_id, customer_id=customer.id))


async def _tell(s: Session, store_id: str, customer: HubLoyaltyCustomer, seq: int) -> None:
    """`loyalty.balance` to the one store that sent or asked: `seq` is the highest of its
    events the balance has booked (the store counts its own later ones as pending)."""
    await _watch(s, store_id, customer)
    await enqueue(s, [store_id], [("loyalty.balance", {
        "phone": customer.phone, "card": customer.card,
        "consent_at": customer.consent_at.isoformat() if customer.consent_at else None,
        "balance": customer.balance, "seq": seq, "at": utcnow().isoformat()})])


async def apply_store_event(s: Session, store_id: str, e: Event) -> None:
    """One `loyalty.*` event from `store_id`, in its frame's transaction."""
    data = e.data
    if e.kind == "loyalty.joined":
        await _joined(s, store_id, e.seq, _phone(data), _card(data), _at(data, "consent_at"),
                      event_id=e.id)
    elif e.kind == "loyalty.lookup":
        await _lookup(s, store_id, e.seq, data)
    elif e.kind == "loyalty.erased":
        await _erased(s, store_id, _phone(data),
                      _at(data, "at") if data.get("at") is not None else None)
    else:
        await _book(s, store_id, e.seq, parse_move(e.kind, data), event_id=e.id)


async def _joined(s: Session, store_id: str, seq: int, phone: str, card: str | None,
                  consent_at: datetime, *, event_id: str = "") -> None:
    """A customer joined at a store: known chain-wide from now on (the first consent
    stands; a card already another customer's is left off, logged). A number the hub
    erased comes back only with a consent given after the erasure (a re-join): an
    older one (a store that signed them up offline, its join arriving late) is ignored
    and that store is told to erase them too (core/loyalty.rejoin_allowed)."""
    customer = await _customer(s, phone=phone)
    if customer is None and not rejoin_allowed(await erased_at(s, phone), consent_at):
        log.warning("store %s sent a join of %s with a consent given before the number was "
                    "erased: ignored, the store told to erase it", store_id, mask_phone(phone))
        if event_id:
            await _scrub_event(s, event_id, phone)
        await enqueue(s, [store_id], [("loyalty.erase", await _erase_payload(s, phone))])
        return
    if card is not None:
        holder = await _customer(s, card=card)
        if holder is not None and holder is not customer:
            log.warning("store %s gave card %s to %s, but it is another customer's: left off",
                        store_id, card, mask_phone(phone))
            card = None
    if customer is None:
        customer = HubLoyaltyCustomer(id=uuid7(), phone=phone, card=card, consent_at=consent_at,
                                      joined_store=store_id, created_at=utcnow(), balance=0,
                                      written_off=0)
        s.add(customer)
        await s.flush()
    elif card is not None and customer.card is None:
        customer.card = card
    await _tell(s, store_id, customer, seq)


# Look-ups a store may make, per hub process: a till serves a customer a minute at most,
# so a burst of 60 and one a second on average leaves any real counter room.
LOOKUPS_PER_MINUTE = 60
_LOOKUP_BUCKETS: dict[str, TokenBucket] = {}


def _lookup_allowed(store_id: str) -> bool:
    bucket = _LOOKUP_BUCKETS.get(store_id)
    if bucket is None:
        bucket = _LOOKUP_BUCKETS[store_id] = TokenBucket(LOOKUPS_PER_MINUTE / 60,
                                                         LOOKUPS_PER_MINUTE)
    return bucket.take(time.monotonic())


async def _lookup(s: Session, store_id: str, seq: int, data: dict) -> None:
    """A store asks for a customer by number or card: it hears the balance if the hub
    knows them (and from now on, when its own events move their points)."""
    phone = _phone(data) if data.get("phone") is not None else None
    card = _card(data) if phone is None else None
    if phone is None and card is None:
        raise ValueError("a loyalty.lookup needs a phone or a card")
    if not _lookup_allowed(store_id):
        # A store token asking for numbers by the hundred (a stolen token probing who
        # is a customer): past the limit a look-up is not answered, only logged.
        log.warning("store %s looked up %s past %d look-ups a minute: not answered",
                    store_id, mask_phone(phone) if phone else "a card", LOOKUPS_PER_MINUTE)
        return
    customer = await _customer(s, phone=phone, card=card)
    # Every look-up is logged with the asking store (masked): a store asking for many
    # numbers it never serves shows in the log.
    log.info("store %s looked up %s: %s", store_id,
             mask_phone(phone) if phone else "a card",
             "known" if customer is not None else "not known")
    if customer is None:
        return
    await _tell(s, store_id, customer, seq)


async def _book(s: Session, store_id: str, seq: int, move: Move, *, event_id: str = ""
                ) -> None:
    """Book a movement once (a replayed entry id changes nothing). A store may move only
    the points of a customer it has heard of (joined there, asked, or moved before):
    anything else is kept apart, on no customer's balance, and logged. A debit beyond
    the balance is written off (core/loyalty.book)."""
    if await s.get(HubLoyaltyEntry, move.entry_id) is not None:
        log.info("store %s sent loyalty entry %s again: booked once", store_id, move.entry_id)
        if event_id and await _customer(s, phone=move.phone) is None \
                and await erased_at(s, move.phone) is not None:
            await _scrub_event(s, event_id, move.phone)
        return
    customer = await _customer(s, phone=move.phone)
    watching = customer is not None and await s.get(
        HubLoyaltyWatch, (store_id, customer.id)) is not None
    now = utcnow()
    if customer is None or not watching:
        log.warning("store %s sent %s of %d points for %s, a customer %s: kept apart",
                    store_id, move.kind, move.points, mask_phone(move.phone),
                    "the hub does not know (erased?)" if customer is None
                    else "it never asked for")
        s.add(HubLoyaltyEntry(id=move.entry_id, customer_id=None, store_id=store_id,
                              kind=move.kind, points=move.points, write_off=0,
                              reference=move.reference, at=move.at, booked_at=now,
                              cashier=move.cashier))
        if customer is None:  # erased here: the store forgets them too
            if event_id and await erased_at(s, move.phone) is not None:
                await _scrub_event(s, event_id, move.phone)
            await enqueue(s, [store_id], [("loyalty.erase", await _erase_payload(s, move.phone))])
        return
    if move.kind in _REVERSES:
        await _reverse(s, store_id, seq, customer, move, now)
        return
    booked = book(customer.balance, move.points)
    if booked.write_off:
        log.warning("store %s: %s of %d points overdrew %s by %d: written off", store_id,
                    move.kind, move.points, mask_phone(move.phone), booked.write_off)
    s.add(HubLoyaltyEntry(id=move.entry_id, customer_id=customer.id, store_id=store_id,
                          kind=move.kind, points=move.points, write_off=booked.write_off,
                          reference=move.reference, at=move.at, booked_at=now,
                          cashier=move.cashier))
    customer.balance = booked.balance
    customer.written_off += booked.write_off
    await _tell(s, store_id, customer, seq)


async def _reverse(s: Session, store_id: str, seq: int, customer: HubLoyaltyCustomer,
                   move: Move, now: datetime) -> None:
    """A refund's reversal, tied to the bill it reverses (#21 review 5, 6): only a
    movement this store booked for this customer on that bill (`reference` is the
    bill's number) can be reversed, and never by more than it booked (less what earlier
    reversals took), else it is kept apart. Points given back first cancel what the
    chain wrote off on the spend (the balance never paid those), then credit the
    balance. The entry's reference is the bill's number, so later reversals add up."""
    kinds = (_REVERSES[move.kind], move.kind)
    rows = (await s.execute(select(HubLoyaltyEntry.kind, HubLoyaltyEntry.points,
                                   HubLoyaltyEntry.write_off).where(
        HubLoyaltyEntry.customer_id == customer.id, HubLoyaltyEntry.store_id == store_id,
        HubLoyaltyEntry.reference == move.sale, HubLoyaltyEntry.kind.in_(kinds)))).all() \
        if move.sale else []
    booked = sum(abs(r[1]) for r in rows if r[0] == kinds[0])
    done = sum(abs(r[1]) for r in rows if r[0] == kinds[1])
    points = min(abs(move.points), booked - done)
    if points <= 0:
        log.warning("store %s sent %s of %d points for %s on bill %r, more than it booked "
                    "there: kept apart", store_id, move.kind, move.points,
                    mask_phone(move.phone), move.sale)
        s.add(HubLoyaltyEntry(id=move.entry_id, customer_id=None, store_id=store_id,
                              kind=move.kind, points=move.points, write_off=0,
                              reference=move.sale, at=move.at, booked_at=now))
        return
    if points < abs(move.points):
        log.warning("store %s: %s of %d points for %s on bill %r capped at %d (what it "
                    "booked there)", store_id, move.kind, move.points, mask_phone(move.phone),
                    move.sale, points)
    if move.kind == "points_back":
        spent_off = sum(r[2] for r in rows if r[0] == kinds[0])
        cancelled = -sum(r[2] for r in rows if r[0] == kinds[1])  # stored negative
        cancel = min(points, max(0, spent_off - cancelled))
        customer.balance += points - cancel
        customer.written_off -= cancel
        write_off, signed = -cancel, points
    else:
        result = book(customer.balance, -points)
        customer.balance = result.balance
        customer.written_off += result.write_off
        write_off, signed = result.write_off, -points
    s.add(HubLoyaltyEntry(id=move.entry_id, customer_id=customer.id, store_id=store_id,
                          kind=move.kind, points=signed, write_off=write_off,
                          reference=move.sale, at=move.at, booked_at=now))
    await _tell(s, store_id, customer, seq)


async def _erased(s: Session, store_id: str, phone: str, at: datetime | None = None
                  ) -> None:
    """A customer erased on request at a store: blanked here (the ledger stays, on an
    anonymous customer) and at every other store that heard of them."""
    customer = await _customer(s, phone=phone)
    if customer is None:
        return
    if customer.joined_store != store_id and await s.scalar(
            select(HubLoyaltyEntry.id).where(HubLoyaltyEntry.customer_id == customer.id,
                                             HubLoyaltyEntry.store_id == store_id).limit(1)
    ) is None:
        # Only a store that signed the customer up or moved their points erases them
        # chain-wide (#21 review 6): a look-up alone is not enough.
        log.warning("store %s asked to erase %s, a customer it never signed up or moved "
                    "points of: ignored at the hub", store_id, mask_phone(phone))
        return
    others = sorted(set(await _blank(s, customer, phone, at)) - {store_id})
    # A balance for the number still on its way to the erasing store (booked earlier in
    # this frame, or not yet applied) would make it known there again, with its consent:
    # the erasure follows it there too (#21 review 4).
    applied = select(HubStore.down_acked).where(HubStore.id == store_id).scalar_subquery()
    if await s.scalar(select(HubOutbox.seq).where(
            HubOutbox.store_id == store_id, HubOutbox.kind == "loyalty.balance",
            HubOutbox.seq > applied, HubOutbox.data.contains(phone)).limit(1)) is not None:
        others = sorted({*others, store_id})
    await _scrub(s, phone)
    await enqueue(s, others, [("loyalty.erase", await _erase_payload(s, phone))])


async def _blank(s: Session, customer: HubLoyaltyCustomer, phone: str,
                 at: datetime | None = None) -> list[str]:
    """Erase a customer here: number, card and consent blanked (the ledger stays, on
    the anonymous customer), the number's tombstone kept. Its time is when the customer
    was erased (`at`, the erasing store's time, never later than now): a re-join at that
    store since, sent before the hub heard of the erasure, carries a later consent and
    stands. Returns the stores that had heard of them (their watches are dropped)."""
    heard = list(await s.scalars(select(HubLoyaltyWatch.store_id).where(
        HubLoyaltyWatch.customer_id == customer.id)))
    customer.phone = customer.card = None
    customer.consent_at = None
    customer.erased_at = utcnow()
    await _tombstone(s, phone, customer.erased_at if at is None else min(at, customer.erased_at))
    await s.execute(delete(HubLoyaltyWatch).where(HubLoyaltyWatch.customer_id == customer.id))
    return heard


async def erase_at_hub(db: Any, customer_id: str, user: Any) -> tuple[str, int] | None:
    """HQ erases a customer on request (DPDP Act 2023), as a store's `loyalty.erased`
    does: blanked here with a tombstone, `loyalty.erase` to every store that had heard of
    them, the number out of the copies the hub keeps and out of the chain coupons'
    counts. Returns the masked number and how many stores were told; None: no such
    customer (or already erased)."""
    from app.hub import placement, promotions  # (both import modules this one does)
    from app.hub.db import write_retrying

    async def body(s: Session) -> tuple[str, int] | None:
        await placement.lock_stores(s)  # enqueue's lock order: every store row first
        customer = await s.scalar(select(HubLoyaltyCustomer).where(
            HubLoyaltyCustomer.id == customer_id[:36]).with_for_update())
        if customer is None or customer.phone is None:
            return None
        phone = customer.phone
        stores = sorted(set(await _blank(s, customer, phone)))
        await _scrub(s, phone)
        await enqueue(s, stores, [("loyalty.erase", await _erase_payload(s, phone))])
        await promotions.forget_customer(s, phone)
        audit.record(s, "loyalty.erase", f"hub customer {customer.id}", user=user)
        log.info("HQ erased %s on request: %s told", mask_phone(phone),
                 count_of(len(stores), "store"))
        return mask_phone(phone), len(stores)

    return await write_retrying(db, body)


async def _scrub(s: Session, phone: str) -> None:
    """The number out of the copies of events the hub keeps: the stores' loyalty events
    it applied (kept for good) and the balances the stores have applied. One not yet
    applied keeps it until then (the store needs it to find the customer); erasure
    requests are rare, so the scans are affordable."""
    masked = mask_phone(phone)
    await s.execute(update(StoreEventRow).where(StoreEventRow.kind.in_(KINDS))
                    .values(data=func.replace(StoreEventRow.data, phone, masked)))
    applied = select(HubStore.down_acked).where(HubStore.id == HubOutbox.store_id)
    await s.execute(update(HubOutbox).where(HubOutbox.kind == "loyalty.balance",
                                            HubOutbox.seq <= applied.scalar_subquery())
                    .values(data=func.replace(HubOutbox.data, phone, masked)))


@dataclass(frozen=True)
class ChainFigures:
    customers: int
    points_out: int  # the sum of balances: what the chain owes in points
    written_off: int
    kept_apart: int  # movements booked on no customer


async def figures(s: Session) -> ChainFigures:
    """The chain's loyalty figures for the hub's pages and tests."""
    live = HubLoyaltyCustomer.erased_at.is_(None)
    customers, out, off = (await s.execute(select(
        func.count(HubLoyaltyCustomer.id).filter(live),
        func.coalesce(func.sum(HubLoyaltyCustomer.balance), 0),
        func.coalesce(func.sum(HubLoyaltyCustomer.written_off), 0)))).one()
    apart = await s.scalar(select(func.count(HubLoyaltyEntry.id)).where(
        HubLoyaltyEntry.customer_id.is_(None)))
    return ChainFigures(int(customers), int(out), int(off), int(apart or 0))


@dataclass(frozen=True)
class StoreOverdraw:
    store_id: str
    entries: int
    written_off: int


@dataclass(frozen=True)
class HubCustomerView:
    id: str
    masked: str
    card: str | None
    balance: int
    written_off: int
    joined_store: str
    entries: list[HubLoyaltyEntry]


async def overview(db: Any) -> tuple[ChainFigures, list[StoreOverdraw]]:
    """The hub's loyalty page: the chain's figures and the write-offs per store."""
    async with db.read() as s:
        rows = (await s.execute(
            select(HubLoyaltyEntry.store_id, func.count(HubLoyaltyEntry.id),
                   func.sum(HubLoyaltyEntry.write_off))
            .where(HubLoyaltyEntry.write_off != 0).group_by(HubLoyaltyEntry.store_id)
            .having(func.sum(HubLoyaltyEntry.write_off) > 0)
            .order_by(HubLoyaltyEntry.store_id))).all()
        return await figures(s), [StoreOverdraw(r[0], int(r[1]), int(r[2] or 0)) for r in rows]


async def customer_view(db: Any, text: str) -> HubCustomerView | None:
    """A customer by number or card for HQ: masked number, balance, the last 100
    movements (which store, what, write-offs). LoyaltyError for malformed input."""
    phone = normalise_phone(text) if text.strip()[:1].isdigit() or text.startswith("+") \
        else None
    card = None if phone else normalise_card(text)
    async with db.read() as s:
        column = HubLoyaltyCustomer.phone if phone else HubLoyaltyCustomer.card
        customer = await s.scalar(select(HubLoyaltyCustomer).where(column == (phone or card)))
        if customer is None:
            return None
        entries = list(await s.scalars(
            select(HubLoyaltyEntry).where(HubLoyaltyEntry.customer_id == customer.id)
            .order_by(HubLoyaltyEntry.booked_at.desc(), HubLoyaltyEntry.id.desc()).limit(100)))
        return HubCustomerView(customer.id, mask_phone(customer.phone or ""), customer.card,
                               customer.balance, customer.written_off, customer.joined_store,
                               entries)
