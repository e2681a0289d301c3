"""Transfers between stores at the hub (issue #17): HQ raises, approves and cancels;
the stores report their steps (`transfer.*` events, applied in the sync transaction);
the hub tells each store what it must know (`transfer.approved` to both, `transfer.
incoming` to the destination with the batches that left, `transfer.cancelled`).

A transfer is bound to its two stores: only they may report on it, the source its
pick and dispatch, the destination its receipt (anything else is logged and ignored,
like an `order.status` for another store's order). Rules: app/stock/transfer_rules.py.

Lock order (PostgreSQL): store rows before transfer rows. A frame that may queue
events for another store locks every store row first (`ENQUEUES`, see
app/sync/hub_link.apply_frame), HQ's steps lock the pair's two rows in id order.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.db import Session, next_number
from app.core.i18n import gettext
from app.core.ids import uuid7
from app.core.words import count_of
from app.hub import replenish
from app.hub.db import HubDatabase, upsert, write_retrying
from app.hub.models import (
    HubReservation,
    HubSkuDay,
    HubStockLevel,
    HubStore,
    HubTransfer,
    HubTransferLine,
)
from app.hub.service import HubError, enqueue
from app.stock import transfer_rules as rules
from app.stock.transfer_rules import Line, TransferRuleError
from app.sync.protocol import Event

log = logging.getLogger("kirana.hub")
_json = msgspec.json.Encoder()

KINDS = frozenset({"transfer.requested", "transfer.picked", "transfer.dispatched",
                   "transfer.received", "transfer.withdrawn"})
# Store events whose applying may queue hub -> store events for another store.
ENQUEUES = frozenset({"transfer.requested", "transfer.dispatched", "transfer.withdrawn"})
SOLD = frozenset({"sale", "order", "refund"})  # stock.moved reasons that are sales


class NotFound(HubError):
    pass


# --- what the stores report ---------------------------------------------------------------


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise ValueError(f"event data needs text {key!r} of at most "
                         f"{count_of(limit, 'character')}")
    return value


async def apply_store_event(s: Session, store_id: str, e: Event) -> None:
    """One `transfer.*` event from `store_id`, in the frame's transaction. A malformed
    transfer id fails the frame (ValueError: the link closes with 4400); a request the
    rules refuse is answered with `transfer.cancelled`; a report on a transfer that is
    not the store's to report is logged and ignored."""
    data = e.data
    transfer_id = _text(data, "transfer_id", 36)
    if e.kind == "transfer.requested":
        await _requested(s, store_id, transfer_id, data)
        return
    transfer = await s.get(HubTransfer, transfer_id, with_for_update=True)
    allowed = {"transfer.picked": "source", "transfer.dispatched": "source",
               "transfer.received": "dest"}.get(e.kind)
    if transfer is None or store_id not in (transfer.source, transfer.dest) or (
            allowed and getattr(transfer, allowed) != store_id):
        log.warning("store %s sent %s for transfer %s %s: ignored", store_id, e.kind,
                    transfer_id, "it does not have" if transfer is None else
                    f"between {transfer.source} and {transfer.dest}")
        return
    if not _may_report(transfer, e.kind):
        log.warning("store %s sent %s for transfer %s, which is %s%s: ignored", store_id,
                    e.kind, transfer.number, transfer.state,
                    "" if transfer.approved_at else " and was never approved")
        return
    now = utcnow()
    if e.kind == "transfer.picked":
        _move(transfer, "picked", now)
    elif e.kind == "transfer.dispatched":
        await _dispatched(s, transfer, data, now)
    elif e.kind == "transfer.received":
        await _received(s, transfer, data, now)
    elif e.kind == "transfer.withdrawn" and _move(transfer, "cancelled", now):
        transfer.reason = str(data.get("reason") or "")[:rules.MAX_NOTE]
        other = transfer.dest if store_id == transfer.source else transfer.source
        await enqueue(s, [other], [("transfer.cancelled", _cancel_data(transfer))])


def _may_report(transfer: HubTransfer, kind: str) -> bool:
    """The hub's own order of steps, whatever a store's copy says: the source picks or
    dispatches only what HQ approved, the destination receives only what was
    dispatched. (A store token alone must not move goods past HQ.)"""
    if kind in ("transfer.picked", "transfer.dispatched"):
        return transfer.approved_at is not None
    if kind == "transfer.received":
        return transfer.dispatched_at is not None
    return True


def _move(transfer: HubTransfer, reported: str, now: datetime) -> bool:
    new = rules.after_report(transfer.state, reported)
    if new is None:
        log.info("transfer %s is %s; a report of %s changes nothing", transfer.number,
                 transfer.state, reported)
        return False
    transfer.state, transfer.updated_at = new, now
    return True


def _lines_in(data: dict, key: str) -> list[tuple[str, int, dict]]:
    lines = data.get("lines")
    if not isinstance(lines, list) or not 0 < len(lines) <= rules.MAX_LINES:
        raise TransferRuleError(f"'lines' must be a list of 1 to {rules.MAX_LINES}")
    out, seen = [], set()
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str):
            raise TransferRuleError("a line needs a sku")
        sku = line["sku"].strip().upper()
        if not rules.SKU.match(sku) or sku in seen:
            raise TransferRuleError(f"bad or repeated sku {sku[:40]!r}")
        seen.add(sku)
        out.append((sku, rules.check_quantity(line.get(key), sku, zero_ok=key != "quantity"),
                    line))
    return out


async def _requested(s: Session, store_id: str, transfer_id: str, data: dict) -> None:
    existing = await s.get(HubTransfer, transfer_id)
    if existing is not None:
        if existing.raised_by != store_id:
            log.warning("store %s sent transfer.requested for transfer %s raised by %s: "
                        "ignored", store_id, transfer_id, existing.raised_by)
        return
    source, dest = str(data.get("source") or "")[:8], str(data.get("dest") or "")[:8]
    if store_id not in (source, dest):
        log.warning("store %s asked for a transfer between %s and %s: ignored (a store "
                    "raises transfers for itself only)", store_id, source[:8], dest[:8])
        return
    number = str(data.get("number") or "")[:20]
    try:
        if not rules.NUMBER.match(number) or not number.startswith(f"{store_id}-"):
            raise TransferRuleError(f"{number!r} is not a transfer number of {store_id}")
        lines = rules.check_request(source, dest, [Line(sku, qty) for sku, qty, _ in
                                                   _lines_in(data, "quantity")])
        other = dest if source == store_id else source
        if await s.get(HubStore, other) is None:
            raise TransferRuleError(f"there is no store {other}")
        if await s.scalar(select(HubTransfer.id).where(HubTransfer.number == number)):
            raise TransferRuleError(f"the hub already has a transfer {number}")
    except TransferRuleError as exc:
        log.warning("store %s's transfer request %s refused: %s", store_id, transfer_id, exc)
        await enqueue(s, [store_id], [("transfer.cancelled", {
            "transfer_id": transfer_id, "number": number, "source": source, "dest": dest,
            "reason": f"refused by the hub: {exc}"[:rules.MAX_NOTE]})])
        return
    now = utcnow()
    s.add(HubTransfer(id=transfer_id, number=number, source=source, dest=dest,
                      state="requested", note=str(data.get("note") or "")[:rules.MAX_NOTE],
                      reason="", raised_by=store_id, request_key=None, created_at=now,
                      updated_at=now))
    await s.flush()
    s.add_all([HubTransferLine(transfer_id=transfer_id, sku=line.sku, quantity=line.quantity,
                               sent=0, received=None, parts="") for line in lines])


async def _dispatched(s: Session, transfer: HubTransfer, data: dict, now: datetime) -> None:
    try:
        sent = _lines_in(data, "sent")
    except TransferRuleError as exc:
        raise ValueError(f"transfer.dispatched: {exc}") from None
    if not _move(transfer, "dispatched", now):
        return
    lines = {line.sku: line for line in await _lines(s, transfer.id)}
    for sku, qty, raw in sent:
        kept = _parts(sku, qty, raw.get("parts"))
        line = lines.get(sku)
        if line is None:
            line = HubTransferLine(transfer_id=transfer.id, sku=sku, quantity=0, received=None)
            s.add(line)
            lines[sku] = line
        line.sent, line.parts = qty, _json.encode(kept).decode()
    transfer.dispatched_at = now
    await s.flush()
    await enqueue(s, [transfer.dest], [("transfer.incoming", _incoming_data(
        transfer, list(lines.values())))])


def _parts(sku: str, sent: int, parts: Any) -> list[dict[str, Any]]:
    """The batches that left, checked before they go on to the destination (which
    refuses a malformed event, and must not be cut off by its source's mistake)."""
    if sent == 0 and parts in (None, []):
        return []
    if not isinstance(parts, list) or not 0 < len(parts) <= 1000:
        raise ValueError(f"transfer.dispatched: {sku} needs the list of batches that left")
    kept, total = [], 0
    for part in parts:
        if not isinstance(part, dict):
            raise ValueError(f"transfer.dispatched: {sku}: a batch must be an object")
        batch, expiry = part.get("batch") or None, part.get("expiry") or None
        if batch is not None and (not isinstance(batch, str) or len(batch) > 20
                                  or "\x00" in batch):
            raise ValueError(f"transfer.dispatched: {sku}: a batch is text of at most 20")
        if expiry is not None:
            try:
                expiry = date.fromisoformat(str(expiry)).isoformat()
            except ValueError:
                raise ValueError(f"transfer.dispatched: {sku}: expiry {str(expiry)[:20]!r} "
                                 "is not a date") from None
        try:
            quantity = rules.check_quantity(part.get("quantity"), sku)
        except TransferRuleError as exc:
            raise ValueError(f"transfer.dispatched: {exc}") from None
        total += quantity
        kept.append({"batch": batch, "expiry": expiry, "quantity": quantity})
    if total != sent:
        raise ValueError(f"transfer.dispatched: {sku}: the batches add up to {total}, "
                         f"not the {sent} sent")
    return kept


async def _received(s: Session, transfer: HubTransfer, data: dict, now: datetime) -> None:
    try:
        got = _lines_in(data, "received")
    except TransferRuleError as exc:
        raise ValueError(f"transfer.received: {exc}") from None
    if not _move(transfer, "received", now):
        return
    lines = {line.sku: line for line in await _lines(s, transfer.id)}
    for sku, qty, _raw in got:
        if sku in lines:
            lines[sku].received = qty
    transfer.received_at = now


def _approved_data(transfer: HubTransfer, lines: list[HubTransferLine]) -> dict[str, Any]:
    return {"transfer_id": transfer.id, "number": transfer.number, "source": transfer.source,
            "dest": transfer.dest, "note": transfer.note, "by": transfer.raised_by,
            "lines": [{"sku": x.sku, "quantity": x.quantity} for x in lines]}


def _incoming_data(transfer: HubTransfer, lines: list[HubTransferLine]) -> dict[str, Any]:
    return {**_approved_data(transfer, lines),
            "at": (transfer.dispatched_at or utcnow()).isoformat(),
            "lines": [{"sku": x.sku, "quantity": x.quantity, "sent": x.sent,
                       "parts": msgspec.json.decode(x.parts) if x.parts else []}
                      for x in sorted(lines, key=lambda x: x.sku) if x.sent]}


def _cancel_data(transfer: HubTransfer) -> dict[str, Any]:
    return {"transfer_id": transfer.id, "number": transfer.number, "source": transfer.source,
            "dest": transfer.dest, "reason": transfer.reason or "cancelled by HQ"}


async def _lines(s: Session, transfer_id: str) -> list[HubTransferLine]:
    return list(await s.scalars(select(HubTransferLine).where(
        HubTransferLine.transfer_id == transfer_id).order_by(HubTransferLine.sku)))


# --- sales per SKU and day, for replenishment ---------------------------------------------


@dataclass
class SoldTally:
    """A frame's sales per SKU and local day (stock.moved with reason sale, order or
    refund), written with one statement (`write`)."""

    tz: Any
    sold: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, data: dict) -> None:
        if data.get("reason") not in SOLD:
            return
        delta, sku = data.get("delta"), data.get("sku")
        if not isinstance(delta, int) or isinstance(delta, bool) or not isinstance(sku, str):
            return
        try:
            at = datetime.fromisoformat(str(data.get("at") or ""))
        except ValueError:
            at = utcnow()
        if at.tzinfo is None:
            at = utcnow()
        self.sold[(sku[:40], at.astimezone(self.tz).date().isoformat())] -= delta

    async def write(self, s: Session, store_id: str) -> None:
        if not self.sold:
            return
        table = HubSkuDay.__table__
        stmt = upsert(s, table)
        stmt = stmt.on_conflict_do_update(index_elements=["store_id", "sku", "day"],
                                          set_={"sold": table.c.sold + stmt.excluded.sold})
        await s.execute(stmt, [{"store_id": store_id, "sku": sku, "day": day, "sold": n}
                               for (sku, day), n in sorted(self.sold.items())])


# --- HQ's steps ------------------------------------------------------------------------------


async def _lock_pair(s: Session, transfer_id: str) -> HubTransfer:
    """The transfer, locked after its two stores' rows (in id order)."""
    head = (await s.execute(select(HubTransfer.source, HubTransfer.dest).where(
        HubTransfer.id == transfer_id[:36]))).first()
    if head is None:
        raise NotFound("No such transfer.")
    await s.execute(select(HubStore.id).where(HubStore.id.in_(head)).order_by(HubStore.id)
                    .with_for_update())
    transfer = await s.get(HubTransfer, transfer_id[:36], with_for_update=True,
                           populate_existing=True)
    assert transfer is not None
    return transfer


def _step(transfer: HubTransfer, target: str) -> None:
    try:
        rules.check(transfer.state, target)
    except TransferRuleError as exc:
        raise HubError(f"{transfer.number}: {exc}") from None


async def approve(db: HubDatabase, transfer_id: str, by: str) -> HubTransfer:
    async def body(s: Session) -> HubTransfer:
        transfer = await _lock_pair(s, transfer_id)
        _step(transfer, "approved")
        transfer.state, transfer.updated_at = "approved", utcnow()
        transfer.approved_at = transfer.updated_at
        await enqueue(s, [transfer.source, transfer.dest], [
            ("transfer.approved", _approved_data(transfer, await _lines(s, transfer.id)))])
        log.info("transfer %s approved by %s", transfer.number, by)
        return transfer

    return await write_retrying(db, body)


async def cancel(db: HubDatabase, transfer_id: str, by: str, reason: str = "") -> HubTransfer:
    reason = reason.replace("\x00", "").strip()[:rules.MAX_NOTE] or f"cancelled by HQ ({by})"

    async def body(s: Session) -> HubTransfer:
        transfer = await _lock_pair(s, transfer_id)
        _step(transfer, "cancelled")
        transfer.state, transfer.reason, transfer.updated_at = "cancelled", reason, utcnow()
        await enqueue(s, [transfer.source, transfer.dest],
                      [("transfer.cancelled", _cancel_data(transfer))])
        return transfer

    return await write_retrying(db, body)


@dataclass(frozen=True)
class NewTransfer:
    source: str
    dest: str
    lines: tuple[Line, ...]
    note: str = ""


async def _create(s: Session, new: NewTransfer, by: str, key: str | None) -> HubTransfer:
    try:
        lines = rules.check_request(new.source, new.dest, list(new.lines))
        source, dest = rules.check_store(new.source), rules.check_store(new.dest)
    except TransferRuleError as exc:
        raise HubError(str(exc)) from None
    if "\x00" in new.note:
        raise HubError(gettext("the note has a character that cannot be kept"))
    known = set(await s.scalars(select(HubStore.id).where(HubStore.id.in_([source, dest]))))
    for store in (source, dest):
        if store not in known:
            raise HubError(gettext("there is no store %(store)s") % {"store": store})
    skus = [line.sku for line in lines]
    have = set(await s.scalars(select(Product.sku).where(Product.sku.in_(skus))))
    missing = [sku for sku in skus if sku not in have]
    if missing:
        raise HubError(gettext("no product with SKU %(sku)s in the catalogue")
                       % {"sku": missing[0]})
    now = utcnow()
    number = rules.transfer_number("HQ", await next_number(s, "hub_transfer"))
    transfer = HubTransfer(id=uuid7(), number=number, source=source, dest=dest,
                           state="approved", note=new.note.strip()[:rules.MAX_NOTE], reason="",
                           raised_by=by[:80], request_key=key, created_at=now, updated_at=now,
                           approved_at=now)
    s.add(transfer)
    await s.flush()
    rows = [HubTransferLine(transfer_id=transfer.id, sku=line.sku, quantity=line.quantity,
                            sent=0, received=None, parts="") for line in lines]
    s.add_all(rows)
    await enqueue(s, [source, dest], [("transfer.approved", _approved_data(transfer, rows))])
    return transfer


async def create(db: HubDatabase, new: NewTransfer, by: str) -> HubTransfer:
    """HQ raises a transfer: it is approved as it is made, and both stores hear of it."""

    async def body(s: Session) -> HubTransfer:
        return await _create(s, new, by, None)

    return await write_retrying(db, body)


async def create_many(db: HubDatabase, key: str, items: list[NewTransfer], by: str
                      ) -> list[HubTransfer]:
    """The replenishment page's bulk confirm: one transfer per pair of stores, in one
    transaction. `key` comes with the form: the same confirm sent twice (a double tap,
    a second tab) finds the transfers the first made and makes none."""
    if not 8 <= len(key) <= 64 or not key.replace("-", "").isalnum():
        raise HubError(gettext("the page is out of date: open it again"))
    if not items:
        raise HubError(gettext("tick at least one suggestion"))
    if len(items) > 500:
        raise HubError(gettext("at most 500 transfers at once"))

    async def body(s: Session) -> list[HubTransfer]:
        stores = sorted({x.source for x in items} | {x.dest for x in items})
        await s.execute(select(HubStore.id).where(HubStore.id.in_(stores))
                        .order_by(HubStore.id).with_for_update())
        made = []
        for item in items:
            pair_key = f"{key}:{item.source}:{item.dest}"
            done = await s.scalar(select(HubTransfer).where(HubTransfer.request_key == pair_key))
            made.append(done or await _create(s, item, by, pair_key))
        return made

    return await write_retrying(db, body)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class TransferView:
    transfer: HubTransfer
    lines: list[HubTransferLine]

    def parts_of(self, line: HubTransferLine) -> list[dict]:
        return list(msgspec.json.decode(line.parts)) if line.parts else []


async def list_transfers(db: HubDatabase, state: str = "", store: str = "",
                         limit: int = 200) -> list[HubTransfer]:
    query = select(HubTransfer).order_by(HubTransfer.created_at.desc()).limit(limit)
    if state in rules.STATES:
        query = query.where(HubTransfer.state == state)
    elif state == "open":
        query = query.where(HubTransfer.state.in_([*rules.OPEN, rules.IN_TRANSIT]))
    if store:
        query = query.where((HubTransfer.source == store.upper()[:8])
                            | (HubTransfer.dest == store.upper()[:8]))
    async with db.read() as s:
        return list(await s.scalars(query))


async def get_transfer(db: HubDatabase, transfer_id: str) -> TransferView:
    async with db.read() as s:
        transfer = await s.get(HubTransfer, transfer_id[:36])
        if transfer is None:
            raise NotFound("No such transfer.")
        return TransferView(transfer, await _lines(s, transfer.id))


@dataclass(frozen=True)
class InTransit:
    source: str
    dest: str
    sku: str
    quantity: int
    number: str
    transfer_id: str
    since: datetime | None


async def in_transit(db: HubDatabase) -> list[InTransit]:
    """Stock that left a store and has not been received: per transfer and SKU."""
    async with db.read() as s:
        rows = (await s.execute(
            select(HubTransfer.source, HubTransfer.dest, HubTransferLine.sku,
                   HubTransferLine.sent, HubTransfer.number, HubTransfer.id,
                   HubTransfer.dispatched_at)
            .join(HubTransferLine, HubTransferLine.transfer_id == HubTransfer.id)
            .where(HubTransfer.state == rules.IN_TRANSIT, HubTransferLine.sent > 0)
            .order_by(HubTransfer.dest, HubTransferLine.sku, HubTransfer.number))).all()
    return [InTransit(*row) for row in rows]


async def in_transit_to(s: Session) -> dict[tuple[str, str], int]:
    """(destination store, SKU) -> quantity on its way there."""
    rows = (await s.execute(
        select(HubTransfer.dest, HubTransferLine.sku, func.sum(HubTransferLine.sent))
        .join(HubTransferLine, HubTransferLine.transfer_id == HubTransfer.id)
        .where(HubTransfer.state == rules.IN_TRANSIT)
        .group_by(HubTransfer.dest, HubTransferLine.sku))).all()
    return {(dest, sku): int(n) for dest, sku, n in rows}


async def open_to(s: Session) -> dict[tuple[str, str], int]:
    """(destination, SKU) -> asked in transfers not yet dispatched (requested to picked)."""
    rows = (await s.execute(
        select(HubTransfer.dest, HubTransferLine.sku, func.sum(HubTransferLine.quantity))
        .join(HubTransferLine, HubTransferLine.transfer_id == HubTransfer.id)
        .where(HubTransfer.state.in_(rules.OPEN))
        .group_by(HubTransfer.dest, HubTransferLine.sku))).all()
    return {(dest, sku): int(n) for dest, sku, n in rows}


@dataclass(frozen=True)
class ReplenishFacts:
    """What the replenishment rule reads, all stores at once."""

    stores: list[HubStore]
    on_hand: dict[tuple[str, str], int]
    reserved: dict[tuple[str, str], int]
    sold: dict[tuple[str, str], int]  # over `days`
    inbound: dict[tuple[str, str], int]  # in transit and asked, to the store
    outbound: dict[tuple[str, str], int]  # asked from the store, not yet dispatched
    names: dict[str, str]
    days: int


async def replenish_facts(db: HubDatabase, today: date, days: int) -> ReplenishFacts:
    since = (today - timedelta(days=days)).isoformat()
    async with db.read() as s:
        stores = list(await s.scalars(select(HubStore).where(HubStore.active.is_(True))
                                      .order_by(HubStore.id)))
        on_hand = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubStockLevel.store_id, HubStockLevel.sku, HubStockLevel.on_hand))).all()}
        reserved = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubReservation.store_id, HubReservation.sku,
                   func.sum(HubReservation.quantity))
            .group_by(HubReservation.store_id, HubReservation.sku))).all()}
        sold = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubSkuDay.store_id, HubSkuDay.sku, func.sum(HubSkuDay.sold))
            .where(HubSkuDay.day >= since, HubSkuDay.day < today.isoformat())
            .group_by(HubSkuDay.store_id, HubSkuDay.sku))).all()}
        inbound: dict[tuple[str, str], int] = defaultdict(int)
        for key, n in (await in_transit_to(s)).items():
            inbound[key] += n
        for key, n in (await open_to(s)).items():
            inbound[key] += n
        outbound = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubTransfer.source, HubTransferLine.sku, func.sum(HubTransferLine.quantity))
            .join(HubTransferLine, HubTransferLine.transfer_id == HubTransfer.id)
            .where(HubTransfer.state.in_(rules.OPEN))
            .group_by(HubTransfer.source, HubTransferLine.sku))).all()}
        names = dict((await s.execute(select(Product.sku, Product.name)
                                      .where(Product.active.is_(True)))).all())
    return ReplenishFacts(stores, on_hand, reserved, sold, dict(inbound), outbound, names,
                          days)


@dataclass(frozen=True)
class Replenishment:
    suggestions: list[replenish.Suggestion]
    names: dict[str, str]
    dark_stores: list[str]


async def replenishment(db: HubDatabase, today: date, lead_days: int, history_days: int
                        ) -> Replenishment:
    """The replenishment page: every dark store's SKUs that run out before the next
    delivery, each with a store that can spare it (app/hub/replenish.py)."""
    facts = await replenish_facts(db, today, history_days)
    dark = [st.id for st in facts.stores if st.kind == "darkstore"]
    figures = replenish.figures_from(facts.on_hand, facts.reserved, facts.sold, facts.inbound,
                                     facts.outbound, [st.id for st in facts.stores])
    return Replenishment(replenish.suggest(figures, dark, lead_days=lead_days,
                                           history_days=history_days), facts.names, dark)
