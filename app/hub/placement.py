"""Online orders at the hub: intake, placing each at a store, re-routing, couriers and
the decision log. The choices themselves are made by the pure modules `allocation.py`
and `couriers.py`, which status may follow which by `order_states.py`; this module
gathers their inputs and records what they decided, in one transaction per step.
What a step tells others (a store's `order.assigned`, a channel's webhook call, a
wake-up) it raises as an event (events.py); the transaction's unit of work writes
and publishes them at commit. The webhooks themselves are webhooks.py; reading orders
(their page, the list, the JSON a channel sees) is order_reads.py.

Available-to-promise is the hub's level minus what is promised and not yet out of
the store's stock. In Kirana stock leaves a store's ledger at handover, so "assigned
but not picked" in the design is read as "assigned and not yet handed over": a
picked order's units are still in the level until then.

No unit is promised twice. On SQLite one writer runs at a time. On PostgreSQL intake
reads its area's stock without locks, decides, then locks the row of the store it
chose (SELECT ... FOR UPDATE) and reads that store's figures again; if the store can
no longer take the order the transaction runs again, and a last try (or a split, which
needs several stores) locks all the area's store rows in id order before it reads.
A promise is written before the store's lock is let go. Placements that choose other
stores go on meanwhile. Re-routing (a reject, a timeout, a person) locks every store.

Lock order, to keep PostgreSQL free of deadlocks: store rows always in id order and
before order rows; a new order's gapless number (a counter row) after them. Intake
locks its chosen store (or its area's stores); the other routing transactions lock all
store rows (`lock_stores`), and only then order rows. The sync endpoint does the same
before applying a frame that may re-route (an `order.status` of rejected or cancelled,
REROUTING_STATUSES); a frame of steps forward (accepted ... delivered) locks only its
own store's row, then the order's, so a busy area's pickers never hold up placements
elsewhere (issue #24). The catalogue fan-out locks store rows in id order and no order
rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.config import HubConfig
from app.core.clock import utcnow
from app.core.db import NEXT_NUMBER_SQL, Session, next_number
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.words import count_of
from app.hub import allocation, couriers, order_states, routing_inputs, webhooks
from app.hub.db import (
    HubDatabase,
    PgDatabase,
    Raw,
    bind_value,
    dialect_of,
    insert_rows,
    rows_of,
    write_retrying,
)
from app.hub.events import OrderAssigned, StatusChanged, on_commit, raise_event, uow_of
from app.hub.models import (
    HubCourier,
    HubOrder,
    HubOrderLine,
    HubOrderLog,
    HubSetting,
    HubStore,
)
from app.hub.order_reads import order_lines
from app.hub.order_states import FINAL, LABELS, OPEN, STORE_STEPS
from app.hub.service import HubError, enqueue
from app.orders.service import OrderError, OrderIn, validate

log = logging.getLogger("kirana.hub")

# --- rules and couriers (the Rules page; current_rules is order_reads.py) --------------


async def save_rules(db: HubDatabase, rules: allocation.Rules, user: str) -> None:
    value = json.dumps({"criteria": list(rules.criteria), "radius_km": rules.radius_km,
                        "safety_stock": rules.safety_stock,
                        "split_above_minor": rules.split_above_minor,
                        "orders_per_picker": rules.orders_per_picker})
    async with db.write() as s:
        row = await s.get(HubSetting, "routing")
        if row is None:
            s.add(HubSetting(key="routing", value=value, updated_at=utcnow(), updated_by=user))
        else:
            row.value, row.updated_at, row.updated_by = value, utcnow(), user


async def set_courier_available(db: HubDatabase, name: str, available: bool) -> None:
    async with db.write() as s:
        row = await s.get(HubCourier, name)
        if row is None:
            s.add(HubCourier(name=name, available=available))
        else:
            row.available = available


async def lock_stores(s: Session) -> None:
    """Lock every store row, in id order (a no-op on SQLite's single writer)."""
    await s.execute(select(HubStore.id).order_by(HubStore.id).with_for_update())


# --- intake --------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    order: HubOrder
    created: bool
    wake: tuple[str, ...]  # stores with new hub -> store events
    # A new order's lines and log as written (the answer to its channel needs no re-read).
    lines: tuple[HubOrderLine, ...] = ()
    log: tuple[HubOrderLog, ...] = ()


LOGGED_KEY = "kirana_hub_logged"


def _log(s: Session, order: HubOrder, kind: str, text: str, detail: Any = None,
         at: datetime | None = None) -> None:
    """A decision log entry, written with the transaction's other log entries by one
    statement just before COMMIT (the unit of work's `insert_later`). `at`: when it
    happened, if not now (a store's step, reported late over a link that was down)."""
    entry = HubOrderLog(id=uuid7(), order_id=order.id, at=at or utcnow(), kind=kind,
                        text=text[:4000],
                        detail=json.dumps(detail, default=str) if detail is not None else "")
    s.info.setdefault(LOGGED_KEY, []).append(entry)
    uow_of(s).insert_later(HubOrderLog.__table__, {
        "id": entry.id, "order_id": entry.order_id, "at": entry.at, "kind": entry.kind,
        "text": entry.text, "detail": entry.detail})


def _logged(s: Session, order_id: str) -> list[HubOrderLog]:
    """The log entries this transaction wrote for an order, oldest first."""
    return [e for e in s.info.get(LOGGED_KEY, ()) if e.order_id == order_id]


ORDER_COLUMNS = tuple(c.key for c in HubOrder.__table__.columns)
# (`returned`, what came back since, is 0 for a new order's lines)
LINE_COLUMNS = tuple(c.key for c in HubOrderLine.__table__.columns if c.key != "returned")
NEW_ORDERS_KEY = "kirana_hub_new_orders"  # ids of orders this transaction created


async def take_order(db: HubDatabase, cfg: HubConfig, incoming: OrderIn) -> Placed:
    """A channel's order: validate, record (idempotent on channel + external id), and
    place it at once.

    Placements run side by side on PostgreSQL: each locks only the store it chose (see
    the module's docstring), and takes its gapless order number last, so the number's
    counter row is held only for the last statements and the COMMIT. On SQLite the
    placements waiting at one moment share one transaction and one COMMIT (db.py).
    What intake reads is one statement (routing_inputs) and what it writes a handful:
    the order, its lines and log, the number, then at commit the store's event and the
    channel's webhook call, through the driver (db.Raw)."""
    validate(incoming, utcnow())
    # SQLite: one writer, nothing to lock. PostgreSQL: the first tries lock only the store
    # they choose (and check it under the lock); the last locks the whole area first, so
    # it cannot be overtaken (as does a split, which needs several stores).
    locks = "held" if db.dialect == "sqlite" else "none"
    if isinstance(db, PgDatabase):
        await routing_inputs.prepare(db.engine)  # (once per process and database)
    for attempt in range(1, PLACE_ATTEMPTS + 1):
        try:
            # SQLite: placements waiting at one moment share a COMMIT (db.py)
            return await db.write_grouped(
                lambda s: _record_and_place(s, cfg, incoming, locks))  # noqa: B023 - run now
        except routing_inputs.Stale as exc:
            if attempt == PLACE_ATTEMPTS:
                raise
            log.debug("placing %s/%s again (try %d): %s", incoming.channel[:40],
                      incoming.external_id[:80], attempt + 1, exc)
            if db.dialect == "postgresql" and (exc.lock_area or attempt >= 2):
                locks = "area"
            if attempt >= 2:  # the config is changing under us (a store flipping on and
                # off): let that writer finish before locking the area again
                await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)
        except IntegrityError:
            # The same order posted twice at once, both before either committed (with no
            # store in its area there is no row lock to queue them): the second sees the
            # first.
            async with db.read() as s:
                existing = await _existing(s, incoming)
            if existing is None:
                raise
            return Placed(existing, False, ())
    raise AssertionError("unreachable")


# Tries of one placement: a store chosen but full under its lock, then the area locked;
# more only while the routing config keeps changing (each try reads it again).
PLACE_ATTEMPTS = 6


async def _record_and_place(s: Session, cfg: HubConfig, incoming: OrderIn, locks: str
                            ) -> Placed:
    """One attempt (re-run whole on a deadlock, 40P01, or a routing change)."""
    channel, external_id = incoming.channel[:40], incoming.external_id[:80]
    skus = [line.sku.upper() for line in incoming.lines]
    area = allocation.OrderView(pincode=incoming.pincode, lat=incoming.lat, lon=incoming.lon,
                                lines=tuple((sku, line.quantity) for sku, line
                                            in zip(skus, incoming.lines, strict=True)))
    inputs = await routing_inputs.read(s, cfg, area, intake=(channel, external_id),
                                       locks=locks)
    if inputs.existing_id is not None:
        existing = await s.get(HubOrder, inputs.existing_id)
        if existing is not None:
            return Placed(existing, False, ())
    known = {sku: (price, unit) for sku, (price, unit, active)
             in (inputs.products or {}).items() if active}
    unknown = [sku for sku in skus if sku not in known]
    if unknown:
        raise OrderError(f"unknown or retired sku: {', '.join(unknown)}")
    now = utcnow()
    value = sum(line_value(line.price_minor or known[sku][0], known[sku][1], line.quantity)
                for sku, line in zip(skus, incoming.lines, strict=True))
    # A new order is kept out of the ORM session: it is written by one INSERT each for
    # itself and its lines once numbered (a split's parts go through the session).
    order = HubOrder(
        id=uuid7(), number="", channel=channel, external_id=external_id, status="new",
        store_id=None, courier="", assigned_at=None, hops=0, tried="", reason="",
        customer_name=incoming.customer_name.strip()[:80] or "Customer",
        customer_phone=incoming.customer_phone[:15], address=incoming.address[:300],
        pincode=incoming.pincode, lat=incoming.lat, lon=incoming.lon,
        promised_by=incoming.promised_by, payment=incoming.payment,
        cod_amount_minor=incoming.cod_amount_minor, notes=incoming.notes[:300],
        value_minor=value, parent_id=None, created_at=now, updated_at=now)
    # A line the channel sent without a price keeps the catalogue's price of this moment
    # (what the order was valued at): a later return refunds that, not a later price.
    lines = [HubOrderLine(order_id=order.id, position=i, sku=sku, quantity=line.quantity,
                          price_minor=line.price_minor or known[sku][0])
             for i, (sku, line) in enumerate(zip(skus, incoming.lines, strict=True), 1)]
    s.info.setdefault(NEW_ORDERS_KEY, set()).add(order.id)
    _log(s, order, "received", f"Received from {order.channel} "
                               f"({count_of(len(incoming.lines), 'line')}, PIN {order.pincode})")
    wake = await place(s, cfg, order, actor="auto", lines=lines, inputs=inputs)
    if order not in s.sync_session:  # (a split added and numbered it: the session writes it)
        if (raw := await Raw.of(s)) is not None and raw.dialect == "postgresql":
            order.number = await _written_at_once(s, raw, order, lines)
        else:
            # Everything that does not need the number is written before it is taken:
            # the counter row is held from then to COMMIT and every placement waits.
            order.number = "~" + order.id[-19:]  # a stand-in no one sees (uncommitted)
            await insert_rows(s, HubOrder.__table__,
                              [{c: getattr(order, c) for c in ORDER_COLUMNS}])
            await insert_rows(s, HubOrderLine.__table__,
                              [{**{c: getattr(line, c) for c in LINE_COLUMNS}, "returned": 0}
                               for line in lines])
            await uow_of(s).write_pending(s)  # its log
            order.number = await _number_written(s, order.id)
    return Placed(order, True, wake, tuple(lines), tuple(_logged(s, order.id)))


# PostgreSQL: a new order, its lines, its log and its gapless number in ONE statement
# (issue #15). Each statement is a round trip, and on a VM the send() that wakes the
# database server was the largest single cost of an order (py-spy: ~45 % of the hub's
# samples); this one replaces four. Data-modifying CTEs all run, once, in one snapshot;
# the lines' and log's foreign keys are checked at the end of the statement, after the
# order's row exists. The number is still taken last (nothing of this transaction runs
# between it and the unit of work's writes and COMMIT). Lists go as arrays, so the text
# never changes and stays prepared.
_ORDER_AT_ONCE_PG = (
    "WITH n AS (" + NEXT_NUMBER_SQL + "), "
    "l AS (INSERT INTO hub_order_lines (order_id, position, sku, quantity, price_minor, "
    "returned) SELECT :id, u.p, u.s, u.q, u.m, 0 FROM unnest(CAST(:l_position AS int[]), "
    "CAST(:l_sku AS text[]), CAST(:l_quantity AS int[]), CAST(:l_price AS int[])) "
    "AS u(p, s, q, m)), "
    "g AS (INSERT INTO hub_order_log (id, order_id, at, kind, text, detail) "
    "SELECT * FROM unnest(CAST(:g_id AS text[]), CAST(:g_order AS text[]), "
    "CAST(:g_at AS text[]), CAST(:g_kind AS text[]), CAST(:g_text AS text[]), "
    "CAST(:g_detail AS text[]))) "
    "INSERT INTO hub_orders (" + ", ".join(ORDER_COLUMNS) + ") VALUES ("
    + ", ".join("(SELECT 'HQ-' || lpad(n.last::text, greatest(6, length(n.last::text)), "
                "'0') FROM n)" if c == "number" else ":" + c for c in ORDER_COLUMNS)
    + ") RETURNING number")


async def _written_at_once(s: Session, raw: Raw, order: HubOrder,
                           lines: list[HubOrderLine]) -> str:
    """Write a new order with its lines and queued log rows, numbered (PostgreSQL)."""
    uow = uow_of(s)
    logs = uow.inserts.pop(HubOrderLog.__table__, [])
    await uow.write_pending(s)  # anything else queued so far (nothing, on intake's path)
    params: dict[str, Any] = {c: getattr(order, c) for c in ORDER_COLUMNS if c != "number"}
    params.update(
        n="hub_order",
        l_position=[line.position for line in lines], l_sku=[line.sku for line in lines],
        l_quantity=[line.quantity for line in lines],
        l_price=[line.price_minor for line in lines],
        g_id=[r["id"] for r in logs], g_order=[r["order_id"] for r in logs],
        g_at=[bind_value(r["at"]) for r in logs], g_kind=[r["kind"] for r in logs],
        g_text=[r["text"] for r in logs], g_detail=[r["detail"] for r in logs])
    return str((await raw.rows(_ORDER_AT_ONCE_PG, params))[0][0])


# PostgreSQL: the number is taken and written in one statement (one round trip while
# the counter row is held, not two). lpad to 6 digits, never cut (like order_number).
_NUMBER_ORDER_PG = (
    f"WITH n AS ({NEXT_NUMBER_SQL}) UPDATE hub_orders SET number = 'HQ-' || "
    "lpad(n.last::text, greatest(6, length(n.last::text)), '0') FROM n "
    "WHERE hub_orders.id = :id RETURNING hub_orders.number")


async def _number_written(s: Session, order_id: str) -> str:
    """Number a new order already written (gapless: the counter row stays locked until
    COMMIT, so this is the last thing intake does before its unit of work)."""
    if dialect_of(s) == "postgresql":
        return str((await rows_of(s, _NUMBER_ORDER_PG, {"n": "hub_order", "id": order_id}))
                   [0][0])
    number = order_number((await rows_of(s, NEXT_NUMBER_SQL, {"n": "hub_order"}))[0][0])
    await rows_of(s, "UPDATE hub_orders SET number = :number WHERE id = :id",
                  {"number": number, "id": order_id})
    return number


def order_number(n: int) -> str:
    """HQ-000123: at least six digits (the PostgreSQL statement above says the same)."""
    return f"HQ-{n:06d}"


async def _existing(s: Session, incoming: OrderIn) -> HubOrder | None:
    return await s.scalar(select(HubOrder).where(
        HubOrder.channel == incoming.channel[:40],
        HubOrder.external_id == incoming.external_id[:80]))


async def _number(s: Session, order: HubOrder) -> None:
    """Give a new order its number (gapless; the counter row stays locked until commit
    on PostgreSQL, so this comes after the store locks and just before the writes)."""
    if not order.number:
        order.number = order_number(await next_number(s, "hub_order"))


def line_value(price_minor: int, unit: str, quantity: int) -> int:
    """Quantities are base units (pieces, grams, ml); loose goods are priced per kg/l."""
    return price_minor * quantity // 1000 if unit in ("kg", "litre") else price_minor * quantity


# --- placing -------------------------------------------------------------------------


async def place(s: Session, cfg: HubConfig, order: HubOrder, *, actor: str,
                lines: list[HubOrderLine] | None = None,
                inputs: routing_inputs.Inputs | None = None) -> tuple[str, ...]:
    """Choose a store (not one tried before) and send it the order, or put the order in
    the queue for a person with the reason. Returns the stores to wake. `lines`: the
    order's lines, when the caller has them (a new order, not yet written); `inputs`:
    what intake read already (its area's stores locked). Other callers hold every store
    row's lock (`lock_stores`) before they call this."""
    if lines is None:
        lines = await order_lines(s, order)
    tried = frozenset(t for t in order.tried.split(",") if t)
    if order.hops >= cfg.routing.max_hops:
        _unfulfillable(s, order, f"tried {count_of(order.hops, 'store')} ({', '.join(sorted(tried))}); "
                                 "none took it")
        return ()
    view = allocation.OrderView(pincode=order.pincode, lat=order.lat, lon=order.lon,
                                lines=tuple((line.sku, line.quantity) for line in lines),
                                value_minor=order.value_minor)
    if inputs is None:
        inputs = await routing_inputs.read(s, cfg, view)
    rules, views = inputs.config.rules, inputs.views
    decision = allocation.allocate(view, views, rules, exclude=tried)
    if not inputs.locked and decision.chosen is not None:
        decision = await _confirmed(s, cfg, view, inputs, decision, tried)
    # The log keeps every store that was in the area; far stores only as a count.
    detail = {"criteria": list(rules.criteria),
              "candidates": [c._asdict() for c in decision.ranked],
              "skipped": [{"store_id": x.store_id, "reason": x.reason}
                          for x in decision.skipped if x.why != "area"],
              "out_of_area": sum(x.why == "area" for x in decision.skipped)}
    chosen = decision.chosen
    if chosen is None:
        _log(s, order, "allocation", "No store can take it. "
             + allocation.describe_skipped(decision.skipped), detail)
        _unfulfillable(s, order, decision.reason_none())
        return ()
    if decision.split:
        plan = allocation.split_plan(view, decision, {v.id: v for v in views}, rules)
        if not plan:
            _log(s, order, "allocation", "No single store has every item, and no split "
                 "between the stores in the area covers it. "
                 + allocation.describe_skipped(decision.skipped), detail)
            _unfulfillable(s, order, "no store has every item and no split covers it")
            return ()
        return await _split(s, cfg, order, lines, plan, detail, actor)
    ranked_words = "; ".join(f"{i}. {c.describe()}" for i, c in enumerate(decision.ranked, 1))
    skipped_words = allocation.describe_skipped(decision.skipped)
    criteria_words = ", then ".join(allocation.CRITERIA_LABELS[c] for c in rules.criteria)
    courier = await _choose_courier(s, cfg, order, inputs)
    _log(s, order, "allocation",
         f"Sent to {chosen.store_id} ({chosen.store_name}). Ranked {criteria_words}: "
         f"{ranked_words}." + (f" Not chosen: {skipped_words}." if skipped_words else "")
         + f" {_sentence(courier.describe())}.", {**detail, "courier": asdict(courier)})
    return _assign(s, cfg, order, chosen.store_id, courier.courier or "", lines, actor)


async def _confirmed(s: Session, cfg: HubConfig, view: allocation.OrderView,
                     inputs: routing_inputs.Inputs, decision: allocation.Decision,
                     tried: frozenset[str]) -> allocation.Decision:
    """A decision made without row locks (PostgreSQL intake), made safe: the chosen
    store's row is locked and its figures read again; if it still takes the order the
    decision stands (with those figures), otherwise the transaction runs again
    (`routing_inputs.Stale`). Placements that chose other stores never wait for it."""
    chosen = decision.ranked[0]
    if decision.split:  # several stores: the try that locks the whole area does it
        raise routing_inputs.Stale("a split is placed with its area locked", lock_area=True)
    fresh = await routing_inputs.confirm(s, cfg, view, inputs, chosen.store_id)
    again = allocation.allocate(view, [fresh], inputs.config.rules, exclude=tried)
    if again.chosen is None or not again.chosen.covers_all:
        raise routing_inputs.Stale(f"{chosen.store_id} could no longer take the order")
    return replace(decision, ranked=(again.chosen, *decision.ranked[1:]))


async def _split(s: Session, cfg: HubConfig, order: HubOrder, lines: list[HubOrderLine],
                 plan: dict[str, list[tuple[str, int]]], detail: dict, actor: str
                 ) -> tuple[str, ...]:
    """Send each part to its store as an order of its own (`HQ-000123-1`, external id
    `W-100#1`); the order itself shows how far its slowest part has got."""
    from app.catalog.models import Product

    if order not in s.sync_session:  # a new order (intake keeps it out until numbered)
        s.add(order)
        s.add_all(lines)
    await _number(s, order)  # a new order is numbered before its parts (HQ-000123-1)
    prices = dict((await s.execute(select(Product.sku, Product.price_minor).where(
        Product.sku.in_([line.sku for line in lines])))).all())
    units = dict((await s.execute(select(Product.sku, Product.unit).where(
        Product.sku.in_([line.sku for line in lines])))).all())
    by_sku = {line.sku: line for line in lines}
    words = "; ".join(f"{sid} gets " + ", ".join(f"{sku} x{q}" for sku, q in part)
                      for sid, part in plan.items())
    _log(s, order, "allocation", f"No single store has every item; split: {words}.",
         {**detail, "split": plan})
    order.store_id, order.courier, order.reason = None, "", ""
    _set_status(s, order, "split", actor, words)
    wake: list[str] = []
    for i, (store_id, part) in enumerate(plan.items(), 1):
        child = HubOrder(
            id=uuid7(), number=f"{order.number}-{i}", channel=order.channel,
            external_id=f"{order.external_id}#{i}"[:80], status="new", store_id=None,
            courier="", hops=0, tried="", reason="", customer_name=order.customer_name,
            customer_phone=order.customer_phone, address=order.address,
            pincode=order.pincode, lat=order.lat, lon=order.lon,
            promised_by=order.promised_by, payment=order.payment,
            cod_amount_minor=order.cod_amount_minor if i == 1 else 0, notes=order.notes,
            value_minor=sum(line_value(by_sku[sku].price_minor or prices.get(sku, 0),
                                       units.get(sku, "piece"), q) for sku, q in part),
            parent_id=order.id, created_at=utcnow(), updated_at=utcnow())
        s.add(child)
        await s.flush()
        child_lines = []
        for n, (sku, qty) in enumerate(part, 1):
            line = HubOrderLine(order_id=child.id, position=n, sku=sku, quantity=qty,
                                price_minor=by_sku[sku].price_minor)
            s.add(line)
            child_lines.append(line)
        await s.flush()
        courier = await _choose_courier(s, cfg, child)
        _log(s, child, "allocation", f"Part {i} of {order.number}: sent to {store_id}. "
                                     f"{_sentence(courier.describe())}.")
        wake += _assign(s, cfg, child, store_id, courier.courier or "", child_lines, actor)
    return tuple(wake)


async def _follow_parts(s: Session, changed: list[HubOrder]) -> None:
    """A split order shows how far its slowest part has got (order_states.parent_status)."""
    for parent_id in sorted({o.parent_id for o in changed if o.parent_id}):
        parent = await s.get(HubOrder, parent_id)
        if parent is None or parent.status == "cancelled":
            continue
        target = order_states.parent_status(o.status for o in await s.scalars(
            select(HubOrder).where(HubOrder.parent_id == parent_id)))
        if target != parent.status:
            _set_status(s, parent, target, "parts")


def _assign(s: Session, cfg: HubConfig, order: HubOrder, store_id: str, courier: str,
            lines: list[HubOrderLine], actor: str) -> tuple[str, ...]:
    moved = order.store_id is not None and order.store_id != store_id
    order.store_id, order.courier = store_id, courier
    order.assigned_at = utcnow()
    order.hops += 1
    order.tried = ",".join(sorted({*filter(None, order.tried.split(",")), store_id}))
    order.reason = ""
    # A move from one store to the next keeps the status "assigned": the channel still
    # hears of it, with the new store (and no word of why the last store could not).
    _set_status(s, order, "assigned", actor, "moved to another store" if moved else "",
                moved=moved)
    raise_event(s, OrderAssigned(store_id, order, tuple(lines)))
    return (store_id,)


@on_commit(OrderAssigned)
async def _send_assignments(s: Session, assigned: list[OrderAssigned]) -> None:
    """Queue the `order.assigned` events, at commit, in the order the decisions were
    made (with the order as it is then: its courier, notes)."""
    for event in assigned:
        await enqueue(s, [event.store_id], [("order.assigned", assigned_payload(
            event.order, list(event.lines)))])


def assigned_payload(order: HubOrder, lines: list[HubOrderLine]) -> dict:
    return {
        "hub_order_id": order.id, "number": order.number, "channel": order.channel,
        "external_id": order.external_id, "customer_name": order.customer_name,
        "customer_phone": order.customer_phone, "address": order.address,
        "pincode": order.pincode, "lat": order.lat, "lon": order.lon,
        "promised_by": order.promised_by.isoformat(), "payment": order.payment,
        "cod_amount_minor": order.cod_amount_minor, "notes": order.notes,
        "courier": order.courier,
        "lines": [{"sku": line.sku, "quantity": line.quantity, "price_minor": line.price_minor}
                  for line in lines],
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unfulfillable(s: Session, order: HubOrder, reason: str) -> None:
    order.store_id, order.courier, order.assigned_at = None, "", None
    order.reason = reason[:500]
    _set_status(s, order, "unfulfillable", "auto", reason)


def _set_status(s: Session, order: HubOrder, status: str, actor: str, reason: str = "",
                *, moved: bool = False, at: datetime | None = None) -> None:
    """Change the status, if order_states allows the move (IllegalMove if not); a
    change (or a move to another store) raises StatusChanged, which queues a webhook
    call with the order's store and courier as they are now. `at`: when the store
    took the step (its log entry's time, which the SLA is judged on), if not now."""
    previous = order.status
    if previous != status or moved:
        order_states.check(previous, status)
    order.status, order.updated_at = status, utcnow()
    if previous != status:
        _log(s, order, "status", f"Status: {LABELS.get(status, status)}", {"status": status},
             at=at)
    if previous != status or moved:
        raise_event(s, StatusChanged(order, status, actor, reason, order.store_id,
                                     order.courier))


@on_commit(StatusChanged)
async def _status_changed(s: Session, changes: list[StatusChanged]) -> None:
    """At commit: split orders follow their parts (which may raise more changes, handled
    in the next round), and each change queues its channel's webhook call."""
    await _follow_parts(s, [e.order for e in changes if e.order.parent_id])
    checked = routing_inputs.checked_in(s)
    await webhooks.queue_calls(s, changes, urls=checked.webhook_urls if checked else None,
                               new_orders=frozenset(s.info.get(NEW_ORDERS_KEY, ())))


async def _choose_courier(s: Session, cfg: HubConfig, order: HubOrder,
                          inputs: routing_inputs.Inputs | None = None
                          ) -> couriers.CourierChoice:
    """`inputs`: availability and the open orders of the couriers with a capacity, as
    the placement read them; without, they are read here."""
    rules = [couriers.CourierRule(r.match, tuple(r.couriers)) for r in cfg.courier_rules]
    regions = {r.name: r.pincodes for r in cfg.regions}
    if inputs is not None and inputs.courier_open is not None:
        available, open_by = inputs.config.courier_available, inputs.courier_open
    else:
        available = {c.name: c.available for c in await s.scalars(select(HubCourier))}
        limited = routing_inputs.limited_couriers(cfg, order.pincode)  # others: no limit
        open_by = dict((await s.execute(
            select(HubOrder.courier, func.count()).where(HubOrder.status.in_(
                (*OPEN, "handed_over")), HubOrder.courier.in_(limited))
            .group_by(HubOrder.courier))).all()) if limited else {}
    state = {c.name: couriers.CourierState(available=available.get(c.name, True),
                                           open_orders=int(open_by.get(c.name, 0)),
                                           capacity=c.capacity) for c in cfg.couriers}
    return couriers.choose_courier(order.pincode, rules, regions, state)


# --- what stores report --------------------------------------------------------------


# A store's `order.status` values that send the order on to another store (`place`):
# only a frame carrying one of these needs every store row locked first.
REROUTING_STATUSES = frozenset({"rejected", "cancelled"})


async def on_store_status(s: Session, cfg: HubConfig, store_id: str, data: dict) -> tuple[str, ...]:
    """A store's `order.status` for a hub-routed order (called while applying the
    store's events, in that transaction, holding the sender's store row, and every store
    row first when the status is one of REROUTING_STATUSES). A step forward touches the
    order and the sender only, so it never waits for other stores' placements. Returns
    stores to wake."""
    channel, external_id = data.get("channel"), data.get("external_id")
    if not isinstance(channel, str) or not isinstance(external_id, str):
        return ()
    query = select(HubOrder).where(HubOrder.channel == channel,
                                   HubOrder.external_id == external_id).with_for_update()
    order = await s.scalar(query)
    if order is None:
        return ()  # the store's own channel: not routed by the hub
    status = str(data.get("status", ""))
    reason = str(data.get("reason", ""))[:300]
    if order.store_id != store_id and store_id not in order.tried.split(","):
        # Never given this order: a store speaks for its own orders only (issue #13 item 4).
        log.warning("store %s sent order.status %r for %s/%s, which the hub never gave it: "
                    "ignored", store_id, status[:16], channel[:40], external_id[:80])
        return ()
    if order.store_id != store_id:
        if status in ("accepted", "picking"):
            _log(s, order, "store", f"{store_id} answered {status} after the order had moved "
                                    f"on; it is cancelled there")
            await enqueue(s, [store_id], [("order.cancelled", {
                "channel": channel, "external_id": external_id, "hub_order_id": order.id,
                "reason": "the hub gave this order to another store"})])
            return (store_id,)
        return ()
    if order.status in FINAL or status not in (*STORE_STEPS, "rejected", "cancelled"):
        return ()
    target = "assigned" if status in ("rejected", "cancelled") else status  # or split, ...
    if target != order.status and not order_states.can(order.status, target):
        # A stale or wrong report (a step back, a cancel once the rider has it): the order
        # stays as it is, and the store's link goes on.
        log.warning("store %s sent order.status %r for %s, which is %s: ignored", store_id,
                    status[:16], order.number, order.status)
        _log(s, order, "store", f"{store_id} reported {status}, which cannot follow "
                                f"{LABELS[order.status].lower()}: ignored")
        return ()
    if status in REROUTING_STATUSES:
        what = "could not take it" if status == "rejected" else "cancelled it"
        _log(s, order, "store", f"{store_id} {what}{': ' + reason if reason else ''}. "
                                "Looking for the next store.")
        wake = await place(s, cfg, order, actor=f"after {store_id} {status}")
        return wake
    _log(s, order, "store", f"{store_id}: {LABELS.get(status, status).lower()}"
                            f"{' (' + reason + ')' if reason else ''}")
    _set_status(s, order, status, store_id, reason, at=_store_time(data.get("at"), order))
    return ()


def _store_time(text: object, order: HubOrder) -> datetime | None:
    """When the store says it took the step: an on-time hand-over stays on time though
    the link was down when it happened. Only a time between the order's creation and
    now is believed (a store's clock is not the hub's); else None (now)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    created = order.created_at
    return at if (created is None or at >= created) and at <= utcnow() else None


# --- timers, people ------------------------------------------------------------------


async def expire_assignments(db: HubDatabase, cfg: HubConfig) -> tuple[str, ...]:
    """Orders a store has not accepted in time move to the next store (and are
    cancelled at the first). Safe with several hub processes: rows are claimed with
    FOR UPDATE SKIP LOCKED on PostgreSQL."""
    deadline = utcnow() - timedelta(seconds=cfg.routing.accept_timeout_seconds)
    # Every hub process asks every second; most seconds nothing is due, and then it takes
    # no lock (locking every store row each second held up every placement meanwhile).
    async with db.read() as s:
        if await s.scalar(select(HubOrder.id).where(
                HubOrder.status == "assigned", HubOrder.assigned_at < deadline).limit(1)) is None:
            return ()

    async def body(s: Session) -> tuple[str, ...]:
        wake: list[str] = []
        await lock_stores(s)
        query = (select(HubOrder).where(HubOrder.status == "assigned",
                                        HubOrder.assigned_at < deadline)
                 .order_by(HubOrder.assigned_at).limit(50))
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for order in list(await s.scalars(query)):
            first = order.store_id
            if first is None:  # never: an assigned order names its store
                continue
            _log(s, order, "timeout", f"{first} did not accept within "
                                      f"{cfg.routing.accept_timeout_seconds} s; cancelled there.")
            await enqueue(s, [first], [("order.cancelled", {
                "channel": order.channel, "external_id": order.external_id,
                "hub_order_id": order.id, "reason": "not accepted in time; sent elsewhere"})])
            wake.append(first)
            wake += await place(s, cfg, order, actor="timeout")
        return tuple(wake)

    return await write_retrying(db, body)


async def assign_by_hand(db: HubDatabase, cfg: HubConfig, order_id: str, store_id: str,
                         user: str) -> tuple[str, ...]:
    async def body(s: Session) -> tuple[str, ...]:
        await lock_stores(s)
        order = await s.get(HubOrder, order_id, with_for_update=True)
        if order is None:
            raise HubError(_("no such order"))
        if order.status not in order_states.MOVABLE_BY_HAND:
            raise HubError(_("an order that is %(status)s cannot move")
                           % {"status": _(LABELS[order.status]).lower()})
        store = await s.get(HubStore, store_id)
        if store is None or not store.active:
            raise HubError(_("no active store %(store)s") % {"store": store_id})
        if order.store_id == store_id:
            raise HubError(_("the order is with %(store)s already") % {"store": store_id})
        wake: list[str] = []
        if order.store_id:
            await enqueue(s, [order.store_id], [("order.cancelled", {
                "channel": order.channel, "external_id": order.external_id,
                "hub_order_id": order.id, "reason": f"moved to {store_id} by {user}"})])
            wake.append(order.store_id)
        courier = await _choose_courier(s, cfg, order)
        _log(s, order, "operator", f"{user} sent it to {store_id} ({store.name}) by hand. "
                                   f"{_sentence(courier.describe())}.")
        order.hops = min(order.hops, cfg.routing.max_hops - 1)  # a person's choice counts once
        wake += _assign(s, cfg, order, store_id, courier.courier or "",
                        await order_lines(s, order), user)
        return tuple(wake)

    return await write_retrying(db, body)


async def cancel(db: HubDatabase, order_id: str, reason: str, actor: str) -> tuple[str, ...]:
    reason = reason.strip()
    if not reason:
        raise HubError(_("say why the order is cancelled"))

    async def body(s: Session) -> tuple[str, ...]:
        await lock_stores(s)
        order = await s.get(HubOrder, order_id, with_for_update=True)
        if order is None:
            raise HubError(_("no such order"))
        if not order_states.can(order.status, "cancelled"):
            raise HubError(_("the order is %(status)s; it cannot be cancelled")
                           % {"status": _(LABELS[order.status]).lower()})
        wake: tuple[str, ...] = ()
        if order.store_id:
            await enqueue(s, [order.store_id], [("order.cancelled", {
                "channel": order.channel, "external_id": order.external_id,
                "hub_order_id": order.id, "reason": reason[:300]})])
            wake = (order.store_id,)
        _log(s, order, "operator", f"Cancelled by {actor}: {reason}")
        order.reason = reason[:500]
        _set_status(s, order, "cancelled", actor, reason)
        parts = list(await s.scalars(select(HubOrder).where(HubOrder.parent_id == order.id)))
        for part in parts:
            if not order_states.can(part.status, "cancelled"):
                continue
            if part.store_id:
                await enqueue(s, [part.store_id], [("order.cancelled", {
                    "channel": part.channel, "external_id": part.external_id,
                    "hub_order_id": part.id, "reason": reason[:300]})])
                wake += (part.store_id,)
            _log(s, part, "operator", f"Cancelled with {order.number} by {actor}: {reason}")
            _set_status(s, part, "cancelled", actor, reason)
        return wake

    return await write_retrying(db, body)


async def mark_delivered(db: HubDatabase, order_id: str, actor: str) -> HubOrder:
    """The courier (or an operator) says the customer has it."""

    async def body(s: Session) -> HubOrder:
        order = await s.get(HubOrder, order_id, with_for_update=True)
        if order is None:
            raise HubError(_("no such order"))
        if order.status == "delivered":
            return order
        parts = list(await s.scalars(select(HubOrder).where(HubOrder.parent_id == order.id)))
        if parts and order.status == "handed_over":  # a split order: every part arrived
            for part in parts:
                if part.status == "handed_over":
                    _log(s, part, "courier", f"Delivered (reported by {actor})")
                    _set_status(s, part, "delivered", actor)
            return order
        if order.status != "handed_over":
            raise HubError(_("only an order with a rider can be delivered; this one is "
                             "%(status)s") % {"status": _(LABELS[order.status]).lower()})
        _log(s, order, "courier", f"Delivered (reported by {actor})")
        _set_status(s, order, "delivered", actor)
        return order

    return await write_retrying(db, body)

