"""Order use cases: intake (idempotent), auto-accept with reservations, transitions.

Every transition goes through `transition`: the state machine says whether it may
happen, the timeline records who and when, and an `order.status` event goes to
the outbox in the same transaction. Picking moves orders through it too.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from sqlalchemy import func, select

from app.catalog.models import Product
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Database, Session, next_number
from app.core.geo import point_problem
from app.core.ids import uuid7
from app.core.money import MAX_LINES, MAX_QUANTITY
from app.orders import states
from app.orders.models import (
    Order,
    OrderLine,
    OrderTransition,
    ReservedChannel,
    StockReservation,
)
from app.stock.models import StockLevel
from app.sync.outbox import emit

HANDOVER_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY3479"  # no 0/O, 1/I, 2/Z, 5/S, 8/B mix-ups


class OrderError(ValueError):
    """The request is wrong; the message says what to fix. Nothing was written."""


class ChannelForbidden(OrderError):
    """The caller may not act for this channel (answered 403; issue #13 item 1)."""


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int  # pieces, grams or ml
    price_minor: int = 0


@dataclass(frozen=True)
class OrderIn:
    channel: str
    external_id: str
    customer_name: str
    customer_phone: str
    address: str
    pincode: str
    promised_by: datetime
    lines: tuple[LineIn, ...]
    payment: str = "prepaid"
    cod_amount_minor: int = 0
    notes: str = ""
    lat: float | None = None
    lon: float | None = None
    courier: str = ""  # the hub's choice, printed on bag labels and shown at handover
    # "hub": came over the sync link, the only way to the hub's channels; "api": an API
    # key's post; "demo": the store's own demo feed (its "demo" may also be the hub's).
    source: str = "api"


def validate(order: OrderIn, now: datetime) -> None:
    if not order.channel.strip() or not order.external_id.strip():
        raise OrderError("channel and external_id are required")
    if not order.lines:
        raise OrderError("an order needs at least one line")
    if len(order.lines) > MAX_LINES:
        raise OrderError(f"an order may have at most {MAX_LINES} lines")
    if order.payment not in ("prepaid", "cod"):
        raise OrderError("payment must be prepaid or cod")
    if order.payment == "cod" and order.cod_amount_minor <= 0:
        raise OrderError("a cash-on-delivery order needs cod_amount (the cash to collect)")
    if order.payment == "prepaid" and order.cod_amount_minor:
        raise OrderError("a prepaid order has no cash to collect")
    if not (len(order.pincode) == 6 and order.pincode.isascii() and order.pincode.isdigit()):
        raise OrderError(f"pincode {order.pincode!r} must be 6 digits")
    if order.promised_by.tzinfo is None:
        raise OrderError("promised_by needs a time zone, e.g. 2026-11-27T18:30:00+05:30")
    if order.promised_by < now - timedelta(minutes=5):
        raise OrderError("promised_by is in the past")
    if problem := point_problem(order.lat, order.lon):
        raise OrderError(problem)
    seen = set()
    for i, line in enumerate(order.lines, 1):
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise OrderError(f"line {i}: quantity must be between 1 and {MAX_QUANTITY:,}")
        if line.price_minor < 0:
            raise OrderError(f"line {i}: price cannot be negative")
        if line.sku.upper() in seen:
            raise OrderError(f"line {i}: {line.sku} is listed twice; use one line")
        seen.add(line.sku.upper())


async def available(s: Session, product_id: str) -> int:
    on_hand = await s.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
        StockLevel.product_id == product_id))
    reserved = await s.scalar(select(func.coalesce(func.sum(StockReservation.quantity), 0))
                              .where(StockReservation.product_id == product_id))
    return int(on_hand or 0) - int(reserved or 0)


def transition(s: Session, order: Order, target: str, actor: str, reason: str = "",
               extra: dict | None = None) -> None:
    """Move `order` to `target` in the caller's transaction: the only way an order changes
    state (raises states.IllegalTransition when the machine forbids it)."""
    states.check(order.state, target)
    now = utcnow()
    order.transitions.append(OrderTransition(
        id=uuid7(), order_id=order.id, from_state=order.state, to_state=target,
        actor=actor[:80], reason=reason, at=now))
    previous, order.state, order.updated_at = order.state, target, now
    emit(s, "order.status", {
        "order_id": order.id, "number": order.number, "channel": order.channel,
        "external_id": order.external_id, "status": target, "previous": previous,
        "at": now.isoformat(), "reason": reason, **(extra or {}),
    })


@dataclass(frozen=True)
class Intake:
    order: Order
    created: bool  # False: the same channel + external_id was posted before


async def receive_order(db: Database, cfg: StoreConfig, incoming: OrderIn, actor: str) -> Intake:
    """Record an order and decide at once: accept (reserving stock) when every line is
    available, else reject with the missing lines so the hub can send it elsewhere."""
    validate(incoming, utcnow())
    async with db.write() as s:
        return await receive_order_in(s, cfg, incoming, actor)


async def receive_order_in(s: Session, cfg: StoreConfig, incoming: OrderIn, actor: str) -> Intake:
    """receive_order inside the caller's transaction (the sync client applies an
    `order.assigned` and moves its cursor in one transaction)."""
    now = utcnow()
    existing = await s.scalar(select(Order).where(
        Order.channel == incoming.channel, Order.external_id == incoming.external_id))
    if existing is not None and existing.source != incoming.source:
        # Never merge a hub assignment with an order posted here (or the reverse): the
        # hub hears a reject and places its order elsewhere; nothing is picked by mistake.
        if incoming.source == "hub":
            raise OrderError(f"{incoming.channel}/{incoming.external_id} is already used at "
                             "this store by an order not from the hub")
        raise ChannelForbidden(f"channel {incoming.channel!r} is the hub's: its orders come "
                               "only over the sync link")
    if existing is not None:
        return Intake(existing, created=False)
    if incoming.source == "api" and await is_hub_channel(s, incoming.channel):
        raise ChannelForbidden(f"channel {incoming.channel!r} is the hub's: its orders come "
                               "only over the sync link")
    products = {p.sku: p for p in await s.scalars(select(Product).where(
        Product.sku.in_([line.sku.upper() for line in incoming.lines])))}
    unknown = [line.sku for line in incoming.lines if line.sku.upper() not in products]
    if unknown:
        raise OrderError(f"unknown sku: {', '.join(unknown)}")
    n = await next_number(s, "order")
    order = Order(
        id=uuid7(), number=f"{cfg.store.id}-{n:06d}", channel=incoming.channel[:40],
        external_id=incoming.external_id[:80], state="received",
        customer_name=incoming.customer_name.strip()[:80] or "Customer",
        customer_phone=incoming.customer_phone[:15], address=incoming.address[:300],
        pincode=incoming.pincode, lat=incoming.lat, lon=incoming.lon,
        promised_by=incoming.promised_by, payment=incoming.payment,
        cod_amount_minor=incoming.cod_amount_minor, notes=incoming.notes[:300],
        handover_code="".join(secrets.choice(HANDOVER_ALPHABET) for _ in range(6)),
        courier=incoming.courier[:40], source=incoming.source,
        created_at=now, updated_at=now, lines=[], transitions=[],
    )
    s.add(order)
    for i, line_in in enumerate(incoming.lines, 1):
        product = products[line_in.sku.upper()]
        order.lines.append(OrderLine(
            id=uuid7(), order_id=order.id, position=i, product_id=product.id,
            sku=product.sku, name=product.name, unit=product.unit, quantity=line_in.quantity,
            price_minor=line_in.price_minor, picked_quantity=0))
    order.transitions.append(OrderTransition(
        id=uuid7(), order_id=order.id, from_state="", to_state="received", actor=actor[:80],
        reason=f"from {incoming.channel}", at=now))
    await s.flush()
    missing = []
    for line in order.lines:
        product = products[line.sku]
        have = await available(s, product.id) if product.active else 0
        if have < line.quantity:
            missing.append({"sku": line.sku, "wanted": line.quantity,
                            "available": max(have, 0)})
    if missing:
        reason = "not enough stock: " + ", ".join(
            f"{m['sku']} (wanted {m['wanted']}, have {m['available']})" for m in missing)
        order.reject_reason = reason
        transition(s, order, "rejected", "auto", reason, {"missing": missing})
    else:
        for line in order.lines:
            s.add(StockReservation(order_line_id=line.id, product_id=line.product_id,
                                   quantity=line.quantity))
        transition(s, order, "accepted", "auto", "every line in stock",
              {"lines": [{"sku": line.sku, "quantity": line.quantity}
                         for line in order.lines]})
    return Intake(order, created=True)


async def release_reservations(s: Session, order: Order) -> None:
    for line in order.lines:
        reservation = await s.get(StockReservation, line.id)
        if reservation is not None:
            await s.delete(reservation)


async def is_hub_channel(s: Session, channel: str) -> bool:
    """A name the hub said it uses (`hub.channels`), or one its orders came under."""
    return bool(await s.get(ReservedChannel, channel) or await s.scalar(
        select(Order.id).where(Order.channel == channel, Order.source == "hub").limit(1)))


async def check_key_channel(db: Database, channel: str) -> None:
    """Refuse an API key for one of the hub's channels (`kirana apikey create`)."""
    async with db.read() as s:
        if await is_hub_channel(s, channel):
            raise ValueError(f"channel {channel!r} is the hub's: its orders come only over "
                             "the sync link; choose another name for this key")


def channel_may_see(order: Order | None, channel: str | None) -> TypeGuard[Order]:
    """An API key bound to `channel` sees only that channel's orders posted here (never
    the hub's, which are the hub's to change); None is staff, who see every order."""
    return order is not None and (channel is None or (
        order.source != "hub" and order.channel == channel))


def not_found(order_id: str, channel: str | None) -> str:
    return f"no order {order_id}" + (f" for channel {channel!r}" if channel else "")


async def cancel_order(db: Database, order_id: str, actor: str, reason: str = "",
                       *, channel: str | None = None) -> Order:
    async with db.write() as s:
        order = await s.get(Order, order_id)
        if not channel_may_see(order, channel):
            raise OrderError(not_found(order_id, channel))
        return await cancel_order_in(s, order, actor, reason)


# What a feature built on orders must undo, in the same transaction, when an order is
# cancelled (picking stops the order's open pick tasks). Orders cannot import picking
# (picking builds on orders), so picking registers here when it is imported.
CancelHook = Callable[[Session, Order, str], Awaitable[None]]
_cancel_hooks: list[CancelHook] = []


def on_cancel(hook: CancelHook) -> CancelHook:
    """Run `hook(s, order, state_before)` inside every cancellation's transaction."""
    if hook not in _cancel_hooks:
        _cancel_hooks.append(hook)
    return hook


async def cancel_order_in(s: Session, order: Order, actor: str, reason: str = "") -> Order:
    was = order.state
    transition(s, order, "cancelled", actor, reason.strip()[:300] or "cancelled")
    if states.holds_reservation(was):
        await release_reservations(s, order)
    if was in ("picking", "picked") and not _cancel_hooks:
        # Only picking moves an order into these states, so it is loaded; fail loudly
        # rather than leave pick tasks open if that ever stops being true.
        raise RuntimeError("an order being picked was cancelled with picking not loaded")
    for hook in _cancel_hooks:
        await hook(s, order, was)
    return order


# Steps other features add to an order's timeline (returns: app/returns/service.py), as
# (at, what, who); orders cannot import them (they build on orders), so they register.
TimelineSource = Callable[[Database, str], Awaitable[list[tuple[Any, str, str]]]]
_timeline_sources: list[TimelineSource] = []


def on_timeline(source: TimelineSource) -> TimelineSource:
    if source not in _timeline_sources:
        _timeline_sources.append(source)
    return source


async def more_timeline(db: Database, order_id: str) -> list[tuple[Any, str, str]]:
    """The other features' steps of an order, oldest first."""
    steps = [step for source in _timeline_sources for step in await source(db, order_id)]
    return sorted(steps, key=lambda step: step[0])


async def get_order(db: Database, order_id: str, *, channel: str | None = None
                    ) -> Order | None:
    async with db.read() as s:
        order = await s.get(Order, order_id)
        return order if channel_may_see(order, channel) else None


async def board(db: Database, *, include_final_since: timedelta = timedelta(hours=2)
                ) -> list[Order]:
    """Open orders, plus those finished recently, most urgent first."""
    since = utcnow() - include_final_since
    async with db.read() as s:
        return list(await s.scalars(
            select(Order).where((Order.state.not_in(states.FINAL)) | (Order.updated_at >= since))
            .order_by(Order.promised_by, Order.number)))


def order_json(order: Order) -> dict:
    return {
        "id": order.id, "number": order.number, "channel": order.channel,
        "external_id": order.external_id, "status": order.state,
        "promised_by": order.promised_by.isoformat(), "payment": order.payment,
        "cod_amount_minor": order.cod_amount_minor, "reject_reason": order.reject_reason,
        "customer": {"name": order.customer_name, "pincode": order.pincode},
        "lines": [{"sku": line.sku, "name": line.name, "unit": line.unit,
                   "quantity": line.quantity, "picked_quantity": line.picked_quantity}
                  for line in order.lines],
        "timeline": [{"from": t.from_state, "to": t.to_state, "by": t.actor, "at":
                      t.at.isoformat(), "reason": t.reason} for t in order.transitions],
    }


async def board_marker(db: Database) -> tuple:
    """A tiny marker of the order board (number of orders, latest change): the live
    stream (orders/live.py) polls it and tells pages when it moved."""
    async with db.read() as s:
        return tuple((await s.execute(select(func.count(Order.id), func.max(Order.updated_at))
                                      )).one())
