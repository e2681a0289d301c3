"""Returns of online orders at the hub (issue #19): a channel's return request, a failed
delivery (RTO), routing each to the store that packed it, and the stores' reports.

- A channel asks (`POST /api/v1/orders/{id}/returns`, `request_return`): idempotent on
  the channel's return id (the same id and body answer the same return; the same id
  with another body is a conflict). Refused with a clear reason for an order that is
  not delivered, a SKU not on it, more than was delivered and not yet returned, or a
  request after the channel's return window (`hub_channels.return_window_days`).
- An order with a rider comes back (`mark_undelivered`): the order becomes
  `undelivered` and a return of kind `rto` takes every line back to its store.
- Routing: each line goes to the store that fulfilled it (a split order's parts each to
  their own store) as `return.requested` in that store's stream; each store answers
  `return.completed` (`apply_store_event`, in the sync frame's transaction). When every
  store has answered, the return is completed and the channel hears a signed webhook
  `return.completed` with the refund per line, once (a replayed event changes nothing).
- Exchange: the replacement order is placed when the return is requested (the rider
  who collects the item brings the new one: the customer is not kept waiting for the
  desk's grading), through the normal placement path, idempotent on an external id
  derived from the return (`exchange_external_id`).

No unit comes back twice: a request locks the order's stores (id order) and then the
order row, and reads what each line has returned under that lock (the lock order of
placement.py). The refund maths is app/core/return_rules.py (pure)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from app.catalog.models import Product
from app.config import HubConfig
from app.core import return_rules
from app.core.clock import utcnow
from app.core.db import Session, next_number
from app.core.ids import uuid7
from app.core.money import MAX_LINES, MAX_QUANTITY, format_amount
from app.core.words import count_of
from app.hub import allocation, placement
from app.hub.db import HubDatabase, write_retrying
from app.hub.models import (
    HubChannel,
    HubOrder,
    HubOrderLine,
    HubOrderLog,
    HubReturn,
    HubReturnLine,
    HubStore,
    HubWebhook,
)
from app.hub.order_states import LABELS
from app.hub.placement import _log, _set_status
from app.hub.service import HubError, enqueue, online_store_ids
from app.orders.schemas import Sku
from app.orders.service import LineIn, OrderError, OrderIn
from app.sync.protocol import Event

log = logging.getLogger("kirana.hub")

MAX_REASON = 200
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 365
KIND = "return.completed"


# --- what a channel sends ---------------------------------------------------------------

Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON)]


class ReturnLineBody(msgspec.Struct, forbid_unknown_fields=True):
    sku: Sku
    quantity: Annotated[int, msgspec.Meta(gt=0, le=MAX_QUANTITY,
                                          description="base units (pieces, grams, ml)")]


class ReturnBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/v1/orders/{id}/returns`. Idempotent on `return_id` (the channel's):
    the same id and body again answer the first return (200), the same id with another
    body is refused (409)."""

    return_id: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    lines: Annotated[list[ReturnLineBody], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
    reason: Reason
    mode: Literal["pickup", "walk_in"] = "pickup"
    exchange: bool = False


class UndeliveredBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/v1/orders/{id}/undelivered`: the courier could not hand it over."""

    reason: Reason


class NotFound(HubError):
    pass


class Refused(HubError):
    """The rules say no (not delivered, not on the order, too many, too late): 422."""


class Conflict(HubError):
    """The return id was used for another request, or the order cannot move: 409."""


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnView:
    ret: HubReturn
    lines: list[HubReturnLine]
    created: bool = False
    replacement_number: str | None = None
    replacement_error: str = ""


async def _lines_of(s: Session, return_id: str) -> list[HubReturnLine]:
    return list(await s.scalars(select(HubReturnLine).where(HubReturnLine.return_id == return_id)
                                .order_by(HubReturnLine.store_id, HubReturnLine.sku)))


async def returns_of(db: HubDatabase, order_id: str) -> list[ReturnView]:
    """An order's returns (a split part's too, for its parent), oldest first."""
    async with db.read() as s:
        ids = [order_id, *await s.scalars(select(HubOrder.id).where(
            HubOrder.parent_id == order_id))]
        rets = list(await s.scalars(select(HubReturn).where(HubReturn.order_id.in_(ids))
                                    .order_by(HubReturn.created_at, HubReturn.id)))
        numbers = dict((await s.execute(select(HubOrder.id, HubOrder.number).where(
            HubOrder.id.in_([r.replacement_order_id for r in rets
                             if r.replacement_order_id])))).all()) if rets else {}
        return [ReturnView(r, await _lines_of(s, r.id),
                           replacement_number=numbers.get(r.replacement_order_id or ""))
                for r in rets]


def return_json(view: ReturnView) -> dict[str, Any]:
    """A return as its channel sees it: per SKU (never which store has it)."""
    ret = view.ret
    by_sku: dict[str, dict[str, Any]] = {}
    for line in view.lines:
        out = by_sku.setdefault(line.sku, {
            "sku": line.sku, "quantity": 0, "unit_price_minor": line.unit_price_minor,
            "refundable_minor": 0, "received": None, "resellable": None, "damaged": None,
            "expired": None, "wrong_item": None, "refund_minor": None})
        out["quantity"] += line.quantity
        out["refundable_minor"] += line.refundable_minor
        for key in ("received", "resellable", "damaged", "expired", "wrong_item",
                    "refund_minor"):
            value = getattr(line, key)
            if value is not None:
                out[key] = (out[key] or 0) + value
    return {
        "id": ret.id, "return_id": ret.channel_return_id, "number": ret.number,
        "order_id": ret.order_id, "kind": ret.kind, "mode": ret.mode, "reason": ret.reason,
        "exchange": ret.exchange, "state": ret.state,
        "refund_total_minor": ret.refund_total_minor if ret.state == "completed" else None,
        "replacement_order_id": ret.replacement_order_id,
        "replacement_number": view.replacement_number,
        **({"replacement_error": view.replacement_error} if view.replacement_error else {}),
        "created_at": ret.created_at.isoformat(),
        "completed_at": ret.completed_at.isoformat() if ret.completed_at else None,
        "lines": list(by_sku.values())}


# --- the order under lock ----------------------------------------------------------------


@dataclass(frozen=True)
class Detour:
    """A return that goes to another store than the one that packed the order."""

    store_id: str  # the nearest online dark store
    km: float  # from the order's delivery point
    why: str  # why not the packing store: "S1 is a counter store"


@dataclass
class Locked:
    order: HubOrder
    holders: list[HubOrder]  # who fulfilled it: its parts if split, else the order itself
    lines: dict[str, list[HubOrderLine]]  # holder id -> its lines, as they are now
    # packing store id -> where its goods go instead (the channel's returns_to_nearest)
    detours: dict[str, Detour] = field(default_factory=dict)


async def _detours(s: Session, order: HubOrder, packed_by: list[str],
                   offline_after: timedelta) -> dict[str, Detour]:
    """For a channel with `returns_to_nearest`: each packing store that is not an
    active, online dark store -> the nearest active online dark store to the order's
    delivery point. One return reaches a store once (the store keeps the first
    `return.requested` of a return id), so no two packing stores share a detour and a
    detour never goes to another packing store; without a free one, or without the
    order's coordinates, the goods go back where they were packed."""
    on = await s.scalar(select(HubChannel.returns_to_nearest).where(
        HubChannel.name == order.channel))
    if not on or order.lat is None or order.lon is None:
        return {}
    stores = {st.id: st for st in await s.scalars(select(HubStore).order_by(HubStore.id))}
    online = await online_store_ids(s, utcnow(), offline_after)

    def why_not(store_id: str) -> str:
        st = stores.get(store_id)
        if st is None:
            return f"{store_id} is not registered"
        if st.kind != "darkstore":
            return f"{store_id} is a counter store"
        if not st.active:
            return f"{store_id} is switched off"
        if store_id not in online:
            return f"{store_id} is offline"
        return ""

    lat, lon = order.lat, order.lon
    nearest = sorted((allocation.haversine_km(lat, lon, st.lat, st.lon), st.id)
                     for st in stores.values() if not why_not(st.id))
    used = set(packed_by)
    out: dict[str, Detour] = {}
    for store_id in sorted(set(packed_by)):
        why = why_not(store_id)
        if not why:
            continue
        for km, other in nearest:
            if other not in used:
                used.add(other)
                out[store_id] = Detour(other, km, why)
                break
    return out


async def _locked(s: Session, order_id: str, offline_after: timedelta | None = None) -> Locked:
    """The order, its stores' rows and then its own row locked (placement.py's order:
    store rows in id order before order rows), and what each line has returned. With
    `offline_after` (a new return), where the channel sends returns (`_detours`); those
    stores' rows are locked with the others."""
    order = await s.get(HubOrder, order_id)
    if order is None:
        raise NotFound(f"no order {order_id[:40]}")
    parts = list(await s.scalars(select(HubOrder).where(HubOrder.parent_id == order.id)
                                 .order_by(HubOrder.number)))
    packed_by = sorted({h.store_id for h in parts or [order] if h.store_id})
    detours = ({} if offline_after is None or not packed_by
               else await _detours(s, order, packed_by, offline_after))
    store_ids = sorted(set(packed_by) | {d.store_id for d in detours.values()})
    if store_ids:
        await s.execute(select(HubStore.id).where(HubStore.id.in_(store_ids))
                        .order_by(HubStore.id).with_for_update())
    order = await s.get(HubOrder, order_id, with_for_update=True, populate_existing=True)
    assert order is not None
    if parts:
        parts = list(await s.scalars(select(HubOrder).where(HubOrder.parent_id == order.id)
                                     .order_by(HubOrder.number)
                                     .execution_options(populate_existing=True)))
    holders = parts or [order]
    lines: dict[str, list[HubOrderLine]] = defaultdict(list)
    for line in await s.scalars(select(HubOrderLine).where(
            HubOrderLine.order_id.in_([h.id for h in holders]))
            .order_by(HubOrderLine.order_id, HubOrderLine.position)
            .execution_options(populate_existing=True)):
        lines[line.order_id].append(line)
    return Locked(order, holders, lines, detours)


@dataclass
class Share:
    """What one store takes back of one SKU: its order (a part), its lines, how many."""

    holder: HubOrder
    sku: str
    lines: list[HubOrderLine]
    quantity: int


def _allocate(locked: Locked, wanted: list[tuple[str, int]]) -> list[Share]:
    """Each asked SKU spread over the stores that delivered it, as far as each has units
    not returned yet; refused (with the figures) when the order has fewer."""
    shares: list[Share] = []
    for sku, qty in wanted:
        held = [(h, [ln for ln in locked.lines[h.id] if ln.sku == sku]) for h in locked.holders]
        held = [(h, lines) for h, lines in held if lines]
        if not held:
            raise Refused(f"{sku} is not on order {locked.order.number}")
        delivered = sum(ln.quantity for _h, lines in held for ln in lines)
        returned = sum(ln.returned for _h, lines in held for ln in lines)
        if qty > delivered - returned:
            raise Refused(f"{sku}: {qty} asked back, but only {delivered - returned} can be "
                          f"({delivered} delivered, {returned} returned already)")
        left = qty
        for holder, lines in held:
            free = sum(ln.quantity - ln.returned for ln in lines)
            take = min(free, left)
            if take > 0:
                shares.append(Share(holder, sku, lines, take))
                left -= take
    return shares


async def _prices(s: Session, skus: list[str]) -> dict[str, tuple[int, str]]:
    rows = await s.execute(select(Product.sku, Product.price_minor, Product.unit)
                           .where(Product.sku.in_(sorted(set(skus)))))
    return {sku: (price, unit) for sku, price, unit in rows.all()}


def _unit_price(line: HubOrderLine, prices: dict[str, tuple[int, str]]) -> int:
    """What the customer paid per unit (per kg/litre for weighed goods): the line's
    price, or the catalogue's when the channel sent none (as intake valued it)."""
    return line.price_minor or prices.get(line.sku, (0, "pcs"))[0]


async def _create(s: Session, locked: Locked, shares: list[Share], *, kind: str, mode: str,
                  channel_return_id: str | None, reason: str, exchange: bool, digest: str,
                  actor: str) -> tuple[HubReturn, list[HubReturnLine]]:
    """The return, its lines (refundable by return_rules), the lines' returned counts, the
    timeline entries and each store's `return.requested`, in the caller's transaction."""
    order, now = locked.order, utcnow()
    prices = await _prices(s, [share.sku for share in shares])
    # What earlier returns took: the refund a finished one paid, the most an open one may.
    taken_by = case((HubReturnLine.completed_at.is_(None), HubReturnLine.refundable_minor),
                    else_=func.coalesce(HubReturnLine.refund_minor, 0))
    earlier = dict(((o, k), int(v)) for o, k, v in (await s.execute(
        select(HubReturnLine.order_id, HubReturnLine.sku,
               func.coalesce(func.sum(taken_by), 0))
        .where(HubReturnLine.order_id.in_([h.id for h in locked.holders]))
        .group_by(HubReturnLine.order_id, HubReturnLine.sku))).all())
    taken: dict[str, int] = defaultdict(int)
    for (holder_id, _sku), value in earlier.items():
        taken[holder_id] += value
    ret = HubReturn(
        id=uuid7(), number="", order_id=order.id, channel=order.channel,
        channel_return_id=channel_return_id, kind=kind, mode=mode, reason=reason,
        exchange=exchange, body_hash=digest, state="requested", refund_total_minor=0,
        replacement_order_id=None, created_by=actor[:80], created_at=now, completed_at=None)
    rows: list[HubReturnLine] = []
    for share in shares:
        unit = prices.get(share.sku, (0, "pcs"))[1]
        paid = sum(return_rules.line_value(_unit_price(ln, prices), ln.quantity, unit)
                   for ln in share.lines)
        paid_line = return_rules.PaidLine(
            quantity=sum(ln.quantity for ln in share.lines), paid_minor=paid,
            returned_quantity=sum(ln.returned for ln in share.lines),
            refunded_minor=min(paid, earlier.get((share.holder.id, share.sku), 0)))
        refundable = return_rules.refundable_minor(paid_line, share.quantity)
        if kind == "rto" and order.payment == "cod":
            refundable = 0  # cash on delivery never collected: nothing to pay back
        # Never more back than the order (or part) was worth, over all its returns.
        room = max(0, share.holder.value_minor - taken.get(share.holder.id, 0))
        refundable = min(refundable, room)
        taken[share.holder.id] = taken.get(share.holder.id, 0) + refundable
        left = share.quantity
        for ln in share.lines:  # the count per order line, first lines first
            take = min(ln.quantity - ln.returned, left)
            ln.returned += take
            left -= take
        packer = share.holder.store_id or ""
        rows.append(HubReturnLine(
            return_id=ret.id, sku=share.sku,
            store_id=locked.detours[packer].store_id if packer in locked.detours else packer,
            order_id=share.holder.id, quantity=share.quantity,
            unit_price_minor=_unit_price(share.lines[0], prices),
            refundable_minor=refundable, decision=""))
    # The gapless number last: its counter row is held from here to COMMIT.
    ret.number = f"RET-{await next_number(s, 'hub_return'):06d}"
    s.add(ret)
    await s.flush()
    s.add_all(rows)
    units = sum(r.quantity for r in rows)
    what = "Return" if kind == "customer" else "Failed delivery: return to store"
    _log(s, order, "return", f"{what} {ret.number} ({count_of(units, 'unit')}"
                             f"{', exchange' if exchange else ''}, {mode.replace('_', '-')}"
                             f"): {reason}", {"return": ret.number, "by": actor[:80]})
    for holder in locked.holders:
        mine = [r for r in rows if r.order_id == holder.id]
        if not mine:
            continue
        to = mine[0].store_id
        detour = locked.detours.get(holder.store_id or "")
        if detour is not None:
            _log(s, order, "return", f"{ret.number}: {count_of(sum(r.quantity for r in mine), 'unit')} "
                                     f"go to {to}, the nearest dark store ({detour.km:.1f} km), "
                                     f"not {holder.store_id}: {detour.why}",
                 {"return": ret.number, "store": to, "packed_by": holder.store_id})
        if holder is not order:
            _log(s, holder, "return", f"{ret.number}: {count_of(sum(r.quantity for r in mine), 'unit')} "
                                      f"back to {to}")
        await enqueue(s, [to], [("return.requested", _requested_data(
            ret, order, holder, mine, now))])
    return ret, rows


def _requested_data(ret: HubReturn, order: HubOrder, holder: HubOrder,
                    lines: list[HubReturnLine], now: datetime) -> dict[str, Any]:
    """`return.requested` for one store (docs/sync-protocol.md): the order that store
    knows (a split order's part) and its lines."""
    return {"return_id": ret.id, "number": ret.number, "kind": ret.kind, "mode": ret.mode,
            "hub_order_id": holder.id, "order_number": holder.number,
            "channel": order.channel, "external_id": holder.external_id,
            "channel_return_id": ret.channel_return_id, "reason": ret.reason,
            "exchange": ret.exchange, "at": now.isoformat(),
            "lines": [{"sku": r.sku, "quantity": r.quantity,
                       "unit_price_minor": r.unit_price_minor,
                       "refundable_minor": r.refundable_minor} for r in lines]}


# --- a channel's request ---------------------------------------------------------------


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise Refused("say why the order comes back (reason)")
    return reason[:MAX_REASON]


def _wanted(body: ReturnBody) -> list[tuple[str, int]]:
    wanted: dict[str, int] = {}
    for line in body.lines:
        sku = line.sku.strip().upper()
        if not sku or sku in wanted:
            raise Refused(f"list each SKU once ({sku[:40]!r} is there twice)" if sku
                          else "a line has no SKU")
        wanted[sku] = line.quantity
    return list(wanted.items())


def _digest(wanted: list[tuple[str, int]], body: ReturnBody, reason: str) -> str:
    canonical = json.dumps({"lines": sorted(wanted), "reason": reason, "mode": body.mode,
                            "exchange": body.exchange}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _delivered_at(s: Session, order: HubOrder) -> datetime:
    at = await s.scalar(select(func.min(HubOrderLog.at)).where(
        HubOrderLog.order_id == order.id, HubOrderLog.kind == "status",
        HubOrderLog.detail == json.dumps({"status": "delivered"})))
    return at or order.updated_at


async def request_return(db: HubDatabase, cfg: HubConfig, order_id: str, body: ReturnBody,
                         actor: str) -> ReturnView:
    """A channel's return request (see the module). The caller has checked that the
    order is the channel's own."""
    wanted, reason = _wanted(body), _reason(body.reason)
    digest = _digest(wanted, body, reason)

    async def find(s: Session, order: HubOrder) -> ReturnView | None:
        existing = await s.scalar(select(HubReturn).where(
            HubReturn.channel == order.channel, HubReturn.channel_return_id == body.return_id))
        if existing is None:
            return None
        if existing.order_id != order.id or existing.body_hash != digest:
            raise Conflict(f"return id {body.return_id!r} was used for another request "
                           f"({existing.number}); send a new return id")
        return ReturnView(existing, await _lines_of(s, existing.id))

    async def run(s: Session) -> ReturnView:
        locked = await _locked(s, order_id, cfg.offline_after)
        order = locked.order
        again = await find(s, order)
        if again is not None:
            return again
        if order.status != "delivered":
            raise Refused(f"order {order.number} is {LABELS.get(order.status, order.status).lower()}"
                          "; only a delivered order can be returned")
        days = await s.scalar(select(HubChannel.return_window_days).where(
            HubChannel.name == order.channel))
        days = DEFAULT_WINDOW_DAYS if days is None else days
        delivered = await _delivered_at(s, order)
        if utcnow() > delivered + timedelta(days=days):
            raise Refused(f"order {order.number} was delivered on {delivered.date().isoformat()}; "
                          f"{order.channel} takes returns for {count_of(days, 'day')} after "
                          "delivery")
        # Only what was delivered can come back: a split order's cancelled part (or one
        # still on its way) holds nothing the customer has.
        got = [h for h in locked.holders if h.status == "delivered"]
        delivered_only = Locked(order, got, {h.id: locked.lines[h.id] for h in got},
                                locked.detours)
        shares = _allocate(delivered_only, wanted)
        ret, rows = await _create(s, delivered_only, shares, kind="customer", mode=body.mode,
                                  channel_return_id=body.return_id, reason=reason,
                                  exchange=body.exchange, digest=digest, actor=actor)
        return ReturnView(ret, rows, created=True)

    try:
        made = await write_retrying(db, run)
    except IntegrityError:  # the same return id twice at once: the second sees the first
        async with db.read() as s:
            order = await s.get(HubOrder, order_id)
            found = await find(s, order) if order is not None else None
        if found is None:
            raise
        made = found
    if made.ret.exchange and made.ret.replacement_order_id is None:
        made = await _place_replacement(db, cfg, made)
    elif made.ret.replacement_order_id:
        views = [v for v in await returns_of(db, made.ret.order_id) if v.ret.id == made.ret.id]
        made = ReturnView(made.ret, made.lines, made.created,
                          views[0].replacement_number if views else None)
    return made


def exchange_external_id(order: HubOrder, ret: HubReturn) -> str:
    """The replacement order's external id: the original's and the return's number (a
    retried request finds the order placed the first time)."""
    return f"{order.external_id[:50]}/exchange/{ret.number}"


async def _place_replacement(db: HubDatabase, cfg: HubConfig, made: ReturnView) -> ReturnView:
    """Place the exchange's replacement order through intake (routed like any order) and
    link it to the return. A refusal (a SKU retired since) is kept on the timeline and
    answered; the channel's retry of the same request tries again."""
    ret = made.ret
    async with db.read() as s:
        order = await s.get(HubOrder, ret.order_id)
        assert order is not None
    wanted: dict[str, tuple[int, int]] = {}
    for line in made.lines:
        qty, _price = wanted.get(line.sku, (0, 0))
        wanted[line.sku] = (qty + line.quantity, line.unit_price_minor)
    gap = order.promised_by - order.created_at
    incoming = OrderIn(
        channel=order.channel, external_id=exchange_external_id(order, ret),
        customer_name=order.customer_name, customer_phone=order.customer_phone,
        address=order.address, pincode=order.pincode, lat=order.lat, lon=order.lon,
        promised_by=utcnow() + min(max(gap, timedelta(minutes=15)), timedelta(days=1)),
        payment="prepaid", cod_amount_minor=0,
        notes=f"Exchange for {ret.number} (order {order.number})"[:300],
        lines=tuple(LineIn(sku, qty, price) for sku, (qty, price) in wanted.items()))
    try:
        placed = await placement.take_order(db, cfg, incoming)
    except (OrderError, HubError) as exc:
        log.warning("return %s: the replacement order could not be placed: %s", ret.number, exc)
        return ReturnView(ret, made.lines, made.created, None, f"replacement not placed: {exc}")

    async def link(s: Session) -> HubReturn:
        row = await s.get(HubReturn, ret.id, with_for_update=True)
        assert row is not None
        if row.replacement_order_id is None:
            row.replacement_order_id = placed.order.id
            original = await s.get(HubOrder, row.order_id)
            replacement = await s.get(HubOrder, placed.order.id)
            if original is not None and replacement is not None:
                _log(s, original, "return", f"Exchange for {row.number}: replacement order "
                                            f"{replacement.number} placed")
                _log(s, replacement, "return", f"Replacement for return {row.number} of "
                                               f"order {original.number}")
        return row

    row = await write_retrying(db, link)
    return ReturnView(row, made.lines, made.created, placed.order.number)


# --- failed delivery ---------------------------------------------------------------------


async def mark_undelivered(db: HubDatabase, order_id: str, reason: str, actor: str,
                           offline_after: timedelta = timedelta(seconds=60)
                           ) -> tuple[HubOrder, ReturnView]:
    """The courier (or an operator) could not hand the order over: it becomes
    `undelivered` (a split order: its parts still with a rider) and a return of kind
    `rto` takes every unit back to the store that packed it. Again for an order that is
    undelivered already: its RTO return, unchanged. `offline_after` (the hub's
    `sync.offline_after_seconds`): when a store counts as offline for the channel's
    `returns_to_nearest`."""
    reason = _reason(reason)

    async def run(s: Session) -> tuple[HubOrder, ReturnView]:
        locked = await _locked(s, order_id, offline_after)
        order = locked.order
        if order.status == "undelivered":
            existing = await s.scalar(select(HubReturn).where(
                HubReturn.order_id == order.id, HubReturn.kind == "rto"))
            if existing is not None:
                return order, ReturnView(existing, await _lines_of(s, existing.id))
        if order.status != "handed_over":
            raise Conflict(f"only an order with a rider can come back undelivered; "
                           f"{order.number} is {LABELS.get(order.status, order.status).lower()}")
        coming = [h for h in locked.holders if h.status == "handed_over"]
        for holder in coming:
            _log(s, holder, "courier", f"Not delivered (reported by {actor}): {reason}")
            _set_status(s, holder, "undelivered", actor, reason)
        if coming != [order] and order.status != "undelivered":
            _log(s, order, "courier", f"Not delivered (reported by {actor}): {reason}")
        back = Locked(order, coming, {h.id: locked.lines[h.id] for h in coming},
                      locked.detours)
        wanted: dict[str, int] = defaultdict(int)
        for holder in coming:
            for line in back.lines[holder.id]:
                wanted[line.sku] += line.quantity - line.returned
        shares = _allocate(back, [(sku, q) for sku, q in wanted.items() if q > 0])
        ret, rows = await _create(s, back, shares, kind="rto", mode="rto",
                                  channel_return_id=None, reason=reason, exchange=False,
                                  digest="", actor=actor)
        return order, ReturnView(ret, rows, created=True)

    return await write_retrying(db, run)


# --- what a store reports ----------------------------------------------------------------


def _text(data: dict, key: str, limit: int, *, empty_ok: bool = False) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not value and not empty_ok) or len(value) > limit \
            or "\x00" in value:
        raise ValueError(f"{KIND}: needs text {key!r} of at most "
                         f"{count_of(limit, 'character')}")
    return value


def _count(data: dict, key: str, limit: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise ValueError(f"{KIND}: {key!r} must be a whole number from 0 to {limit}")
    return value


@dataclass(frozen=True)
class Reported:
    sku: str
    expected: int
    received: int
    resellable: int
    damaged: int
    expired: int
    wrong_item: int
    refund_minor: int


def parse_completed(data: Any) -> tuple[str, str, str | None, list[Reported]]:
    """`return.completed`'s data checked: (return id, decision, approved by, lines).
    A bad shape raises ValueError (the frame fails, 4400)."""
    if not isinstance(data, dict):
        raise ValueError(f"{KIND}: data must be an object")
    return_id = _text(data, "return_id", 36)
    _text(data, "number", 20)
    _text(data, "at", 40)
    _text(data, "by", 80, empty_ok=True)
    decision = data.get("decision")
    if decision not in ("refund", "rejected"):
        raise ValueError(f"{KIND}: 'decision' must be 'refund' or 'rejected'")
    approved = data.get("approved_by")
    if approved is not None:
        approved = _text(data, "approved_by", 80)
    _count(data, "refund_total_minor", return_rules.LINE_CAP_MINOR * MAX_LINES)
    raw = data.get("lines")
    if not isinstance(raw, list) or len(raw) > MAX_LINES:
        raise ValueError(f"{KIND}: 'lines' must be a list of at most {MAX_LINES}")
    lines, seen = [], set()
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError(f"{KIND}: a line must be an object")
        sku = _text(item, "sku", 40).upper()
        if sku in seen:
            raise ValueError(f"{KIND}: {sku} is listed twice")
        seen.add(sku)
        counts = {k: _count(item, k, MAX_QUANTITY) for k in (
            "expected", "received", "resellable", "damaged", "expired", "wrong_item")}
        lines.append(Reported(sku=sku, **counts,
                              refund_minor=_count(item, "refund_minor",
                                                  return_rules.LINE_CAP_MINOR)))
    return return_id, decision, approved, lines


async def apply_store_event(s: Session, store_id: str, e: Event) -> None:
    """A store's `return.completed`, in its frame's transaction. A return that is not
    this store's (or that it has reported already) is logged and ignored."""
    return_id, decision, approved, reported = parse_completed(e.data)
    ret = await s.get(HubReturn, return_id, with_for_update=True)
    if ret is None:
        log.warning("store %s sent %s for return %s, which the hub does not have: ignored",
                    store_id, KIND, return_id)
        return
    lines = await _lines_of(s, ret.id)
    mine = [line for line in lines if line.store_id == store_id]
    if not mine:
        log.warning("store %s sent %s for %s, whose goods go to %s: ignored", store_id, KIND,
                    ret.number, ", ".join(sorted({line.store_id for line in lines})))
        return
    if all(line.completed_at is not None for line in mine):
        log.info("store %s reported %s again: nothing changes", store_id, ret.number)
        return
    now = utcnow()
    by_sku = {r.sku: r for r in reported}
    stray = sorted(set(by_sku) - {line.sku for line in mine})
    if stray:
        log.warning("store %s reported %s on %s, which it was not sent: ignored", store_id,
                    ", ".join(stray), ret.number)
    for line in mine:
        got = by_sku.get(line.sku)
        refund = got.refund_minor if got and decision == "refund" else 0
        if refund > line.refundable_minor:
            log.warning("store %s asked a refund of %d for %s on %s; the most is %d", store_id,
                        refund, line.sku, ret.number, line.refundable_minor)
            refund = line.refundable_minor
        line.received = min(got.received, line.quantity) if got else 0
        line.resellable = got.resellable if got else 0
        line.damaged = got.damaged if got else 0
        line.expired = got.expired if got else 0
        line.wrong_item = got.wrong_item if got else 0
        line.refund_minor, line.decision = refund, decision
        line.approved_by, line.completed_at = approved, now
        # Units that did not come back as ours (short, or another item in the bag) are
        # still with the customer: they may be asked back again.
        back = (line.resellable or 0) + (line.damaged or 0) + (line.expired or 0)
        await _give_back(s, line.order_id, line.sku, line.quantity - min(back, line.quantity))
    order = await s.get(HubOrder, ret.order_id)
    assert order is not None
    received = sum(line.received or 0 for line in mine)
    refunded = sum(line.refund_minor or 0 for line in mine)
    grades = ", ".join(f"{n} {word}" for word, n in (
        ("resellable", sum(x.resellable or 0 for x in mine)),
        ("damaged", sum(x.damaged or 0 for x in mine)),
        ("expired", sum(x.expired or 0 for x in mine)),
        ("wrong item", sum(x.wrong_item or 0 for x in mine))) if n)
    outcome = (f"refund {format_amount(refunded)}" if decision == "refund"
               else "refund refused")
    _log(s, order, "return", f"{ret.number} back at {store_id}: {received} of "
                             f"{count_of(sum(x.quantity for x in mine), 'unit')} received"
                             f"{' (' + grades + ')' if grades else ''}; {outcome}"
                             f"{' (approved by ' + approved + ')' if approved else ''}",
         {"return": ret.number, "store": store_id, "decision": decision})
    if all(line.completed_at is not None for line in lines):
        ret.state, ret.completed_at = "completed", now
        ret.refund_total_minor = sum(line.refund_minor or 0 for line in lines)
        _log(s, order, "return", f"{ret.number} completed: refund "
                                 f"{format_amount(ret.refund_total_minor)} to {order.channel}")
        await _queue_webhook(s, ret, order, lines, now)


async def _give_back(s: Session, order_id: str, sku: str, units: int) -> None:
    """Take `units` off the order lines' returned counts (last lines first)."""
    if units <= 0:
        return
    for ln in await s.scalars(select(HubOrderLine).where(
            HubOrderLine.order_id == order_id, HubOrderLine.sku == sku)
            .order_by(HubOrderLine.position.desc()).with_for_update()):
        take = min(ln.returned, units)
        ln.returned -= take
        units -= take
        if units == 0:
            return


async def _queue_webhook(s: Session, ret: HubReturn, order: HubOrder,
                         lines: list[HubReturnLine], now: datetime) -> None:
    """The channel's `return.completed` call, signed and delivered like its status calls
    (webhooks.py), after the order's earlier calls."""
    url = await s.scalar(select(HubChannel.webhook_url).where(HubChannel.name == order.channel))
    if not url:
        return
    last = await s.scalar(select(func.max(HubWebhook.created_at)).where(
        HubWebhook.order_id == order.id))
    created = max(now, last + timedelta(microseconds=1)) if last else now
    view = return_json(ReturnView(ret, lines))
    payload = {"event_id": uuid7(), "event": KIND, "order_id": order.id,
               "number": order.number, "channel": order.channel,
               "external_id": order.external_id, "status": order.status,
               "return": {k: view[k] for k in (
                   "id", "return_id", "number", "kind", "mode", "exchange",
                   "replacement_order_id", "refund_total_minor", "lines")},
               "at": now.isoformat()}
    s.add(HubWebhook(id=payload["event_id"], channel=order.channel, order_id=order.id,
                     payload=json.dumps(payload), attempts=0, next_attempt_at=now,
                     delivered_at=None, last_error="", created_at=created, claimed_by="",
                     claimed_until=None))


# --- the channel's window ----------------------------------------------------------------


async def set_return_window(db: HubDatabase, channel: str, days: int) -> None:
    """How many days after delivery `channel` may ask for a return."""
    if isinstance(days, bool) or not 0 <= days <= MAX_WINDOW_DAYS:
        raise HubError(f"the return window is 0 to {MAX_WINDOW_DAYS} days")

    async def run(s: Session) -> None:
        row = await s.get(HubChannel, channel.strip().lower(), with_for_update=True)
        if row is None:
            raise HubError(f"no channel {channel[:40]}")
        row.return_window_days = days

    await write_retrying(db, run)
