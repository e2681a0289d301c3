"""Picking, packing and handover at the dark store.

A picker claims a batch (the planner groups the most urgent accepted orders and
orders the tasks by bin pick sequence); each task is confirmed by scanning the
product; a missing item is a short pick, optionally with a substitute. Packing
sets the bag count and prints bag labels and the packing slip through the print
queue; each bag's label carries its own code (bags.py). Handover is in handover.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import Row, and_, func, or_, select

from app.catalog.barcodes import BarcodeError, MeasureRule, ScanResult, parse_scan
from app.catalog.models import Product
from app.catalog.service import UnknownProduct, find_scanned
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session, get_existing, next_number
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.words import count_of
from app.orders import service as orders
from app.orders.models import Order, OrderLine
from app.picking import bags, planner
from app.picking.models import PickBatch, PickTaskRow
from app.printing import service as printing
from app.stock import fefo
from app.stock.models import Bin, StockLevel


class PickError(ValueError):
    """Refused, with a message for the picker or packer; nothing changed."""


class WrongProduct(PickError):
    """The scanned item is not the one this task asks for."""


async def _orders_to_pick(s: Session, today: date) -> list[planner.OrderToPick]:
    """``today``: the store's local date (what has expired is judged by it). An order
    the planner split (a big one, issue #20) is still waiting with the lines no batch
    holds yet."""
    waiting = list(await s.scalars(select(Order).where(*_waiting_to_pick())))
    planned = set(await s.scalars(select(PickTaskRow.order_line_id).where(
        PickTaskRow.order_id.in_([o.id for o in waiting if o.state == "picking"]),
        PickTaskRow.status != "cancelled")))
    out = []
    for order in waiting:
        lines = []
        for line in order.lines:
            if line.id in planned:
                continue
            rows = (await s.execute(
                select(Bin.code, Bin.zone, Bin.pick_seq, StockLevel.on_hand, StockLevel.expiry)
                .join(StockLevel, StockLevel.bin_id == Bin.id)
                .where(StockLevel.product_id == line.product_id))).all()
            lines.append(planner.OrderLineToPick(
                line_id=line.id, sku=line.sku, name=line.name, quantity=line.quantity,
                unit=line.unit, bins=_sellable_bins(rows, today)))
        out.append(planner.OrderToPick(order.id, order.number, order.promised_by, tuple(lines)))
    return out


def _sellable_bins(rows: Sequence[Row[str, str, int, int, date | None]], today: date,
                   ) -> tuple[planner.BinStock, ...]:
    """One ``BinStock`` per bin from its batch levels: expired batches are never picked
    (they wait on the expiry page for a write-off); the bin's earliest sellable expiry
    orders it for FEFO."""
    per_bin: dict[str, planner.BinStock] = {}
    for code, zone, pick_seq, on_hand, expiry in rows:
        if fefo.is_expired(expiry, today):
            continue
        have = per_bin.get(code)
        if have is None:
            per_bin[code] = planner.BinStock(code, zone, pick_seq, on_hand,
                                             expiry if on_hand > 0 else None)
            continue
        dated = [d for d in (have.earliest_expiry, expiry if on_hand > 0 else None) if d]
        per_bin[code] = planner.BinStock(code, zone, pick_seq, have.available + on_hand,
                                         min(dated) if dated else None)
    return tuple(per_bin.values())


def _unplanned_lines(order_id):
    """The order's lines that no live pick task holds (a part of a split order not yet
    claimed)."""
    planned = select(PickTaskRow.order_line_id).where(PickTaskRow.order_id == order_id,
                                                      PickTaskRow.status != "cancelled")
    return select(OrderLine.id).where(OrderLine.order_id == order_id,
                                      OrderLine.id.not_in(planned))


def _waiting_to_pick():
    """Accepted orders in no batch, and orders being picked in parts with a part left."""
    in_batches = select(PickTaskRow.order_id).where(PickTaskRow.status != "cancelled")
    return (or_(and_(Order.state == "accepted", Order.id.not_in(in_batches)),
                and_(Order.state == "picking", _unplanned_lines(Order.id).exists())),)


async def waiting_count(db: Database) -> int:
    """Orders accepted and in no batch yet, or with a part no batch holds yet: what
    "Start the next batch" would pick from."""
    async with db.read() as s:
        return await s.scalar(select(func.count(Order.id)).where(*_waiting_to_pick())) or 0


async def open_batch(db: Database, picker: StaffUser) -> PickBatch | None:
    async with db.read() as s:
        return await s.scalar(select(PickBatch).where(PickBatch.picker_id == picker.id,
                                                      PickBatch.status == "open"))


async def claim_batch(db: Database, cfg: StoreConfig, picker: StaffUser,
                      limits: planner.BatchLimits | None = None) -> PickBatch | None:
    """The picker's open batch, or a new one of the most urgent orders (None: nothing to do)."""
    async with db.write() as s:
        batch = await s.scalar(select(PickBatch).where(PickBatch.picker_id == picker.id,
                                                       PickBatch.status == "open"))
        if batch is not None:
            return batch
        candidates = await _orders_to_pick(s, utcnow().astimezone(cfg.tz).date())
        if not candidates:
            return None
        plan = planner.plan(candidates, limits or planner.BatchLimits(), utcnow())
        n = await next_number(s, "batch")
        batch = PickBatch(id=uuid7(), number=f"{cfg.store.id}-B{n:04d}", picker_id=picker.id,
                          status="open", created_at=utcnow(), tasks=[])
        s.add(batch)
        lines = {line.line_id: line for o in plan.orders for line in o.lines}
        product_of = {line.id: line.product_id for line in await s.scalars(
            select(OrderLine).where(OrderLine.id.in_(list(lines))))}
        for task in plan.tasks:
            batch.tasks.append(PickTaskRow(
                id=uuid7(), batch_id=batch.id, seq=task.seq, order_id=task.order_id,
                order_number=task.order_number, order_line_id=task.line_id,
                product_id=product_of[task.line_id], bin_code=task.bin_code, sku=task.sku,
                name=task.name, unit=task.unit, quantity=task.quantity, bag=task.bag))
        seq = len(plan.tasks)
        for order_id, line_id, quantity in plan.short:  # no bin has it: short at once
            seq += 1
            order = next(o for o in plan.orders if o.order_id == order_id)
            line = lines[line_id]
            batch.tasks.append(PickTaskRow(
                id=uuid7(), batch_id=batch.id, seq=seq, order_id=order_id,
                order_number=order.number, order_line_id=line_id,
                product_id=product_of[line_id], bin_code="-", sku=line.sku, name=line.name,
                unit=line.unit, quantity=quantity, bag=plan.bags[order_id], status="short",
                short_reason="no stock in any bin", done_at=utcnow()))
        for o in plan.orders:
            row = await get_existing(s, Order, o.order_id)
            if row.state == "accepted":  # a later part of a split order is picking already
                orders.transition(s, row, "picking", picker.name, f"batch {batch.number}")
        return batch


def next_task(batch: PickBatch) -> PickTaskRow | None:
    return next((t for t in batch.tasks if t.status == "open"), None)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


def progress(batch: PickBatch) -> Progress:
    live = [t for t in batch.tasks if t.status != "cancelled"]
    return Progress(sum(1 for t in live if t.status != "open"), len(live))


async def _task_for_change(s: Session, picker: StaffUser, task_id: str) -> tuple[PickTaskRow,
                                                                             PickBatch]:
    task = await s.get(PickTaskRow, task_id)
    if task is None:
        raise PickError("that task is not in your batch")
    batch = await get_existing(s, PickBatch, task.batch_id)
    if batch.picker_id != picker.id or batch.status != "open":
        raise PickError("that task is not in your batch")
    if task.status == "cancelled":
        raise PickError(f"order {task.order_number} was cancelled: put its items back")
    if task.status != "open":
        raise PickError(_("that task is already done"))
    return task, batch


async def confirm_scan(db: Database, picker: StaffUser, task_id: str, code: str,
                       rules: tuple[MeasureRule, ...]) -> PickTaskRow:
    """A scan confirms the item: the wrong product is refused (and counted); a scale
    label counts its weight; a piece counts one (or the quantity a pack code carries)."""
    try:
        scan = parse_scan(code, rules)
    except BarcodeError as exc:
        raise WrongProduct(_("not a barcode we can read: %(reason)s") % {"reason": exc}) from None
    refused: WrongProduct | None = None
    async with db.write() as s:
        task, batch = await _task_for_change(s, picker, task_id)
        try:
            product = (await find_scanned(s, scan)).product
        except UnknownProduct:
            product = None
        if product is None or product.id != task.product_id:
            # Counted for the fulfilment report: the refusal is raised only after this
            # transaction commits, or the rollback would take the count with it.
            task.wrong_scans += 1
            wrong = f" ({product.name})" if product else ""
            refused = WrongProduct(_("Wrong item%(wrong)s. Take %(name)s from %(bin)s.") % {
                "wrong": wrong, "name": task.name, "bin": task.bin_code})
        elif task.unit == "piece":
            task.picked += scan.quantity or 1
        else:
            task.picked += scan.weight_g or task.quantity
        if refused is None and task.picked >= task.quantity:
            task.picked = min(task.picked, task.quantity) if task.unit == "piece" else task.picked
            await _finish_task(s, task, batch, picker)
    if refused is not None:
        raise refused
    return task


async def add_more(db: Database, picker: StaffUser, task_id: str, take_all: bool) -> PickTaskRow:
    """The quantity stepper: once the product was confirmed by one scan, identical items
    are counted without scanning each (+1, or all that is left)."""
    async with db.write() as s:
        task, batch = await _task_for_change(s, picker, task_id)
        if task.unit != "piece":
            raise PickError("weighed items are confirmed by their scale label")
        if task.picked < 1:
            raise PickError("scan one first, so we know it is the right product")
        task.picked = task.quantity if take_all else task.picked + 1
        if task.picked >= task.quantity:
            await _finish_task(s, task, batch, picker)
        return task


async def short_pick(db: Database, picker: StaffUser, task_id: str, reason: str,
                     substitute_code: str = "", rules: tuple[MeasureRule, ...] = ()
                     ) -> PickTaskRow:
    """Can't find it: the rest of the line is short. A substitute scan is recorded on the
    order for the customer to approve; the bin is flagged for a count."""
    reason = reason.strip() or "not found"
    async with db.write() as s:
        task, batch = await _task_for_change(s, picker, task_id)
        if substitute_code.strip():
            try:
                sub = (await find_scanned(s, parse_scan(substitute_code, rules))).product
            except (BarcodeError, UnknownProduct) as exc:
                raise PickError(f"substitute: {exc}") from None
            if sub.id == task.product_id:
                raise PickError("that is the same product: scan it to confirm instead")
            task.substitute_sku = sub.sku
        task.status, task.short_reason, task.done_at = "short", reason[:80], utcnow()
        order = await get_existing(s, Order, task.order_id)
        note = f"short {task.sku} x{task.quantity - task.picked} at {task.bin_code}: {reason}"
        if task.substitute_sku:
            note += f"; substitute {task.substitute_sku} needs the customer's approval"
        order.notes = (order.notes + " | " if order.notes else "") + note[:200]
        audit.record(s, "count_needed", f"bin {task.bin_code} {task.sku}: {reason}",
                     user=picker)
        await _finish_task(s, task, batch, picker, already_done=True)
        return task


async def _finish_task(s: Session, task: PickTaskRow, batch: PickBatch, picker: StaffUser,
                       already_done: bool = False) -> None:
    if not already_done:
        task.status, task.done_at = "done", utcnow()
    line = await get_existing(s, OrderLine, task.order_line_id)
    line.picked_quantity = sum(t.picked for t in batch.tasks
                               if t.order_line_id == line.id and t.status != "cancelled")
    order_tasks = [t for t in batch.tasks if t.order_id == task.order_id]
    if all(t.status != "open" for t in order_tasks) and not await _parts_left(s, task, batch):
        order = await get_existing(s, Order, task.order_id)
        if order.state == "picking":
            orders.transition(s, order, "picked", picker.name, f"batch {batch.number}")
    if all(t.status != "open" for t in batch.tasks):
        batch.status, batch.finished_at = "done", utcnow()


async def _parts_left(s: Session, task: PickTaskRow, batch: PickBatch) -> bool:
    """A split order (issue #20) is picked only when its other batches are done too and
    no part of it is still waiting for a picker."""
    elsewhere = await s.scalar(select(func.count(PickTaskRow.id)).where(
        PickTaskRow.order_id == task.order_id, PickTaskRow.batch_id != batch.id,
        PickTaskRow.status == "open"))
    waiting = await s.scalar(select(func.count()).select_from(
        _unplanned_lines(task.order_id).subquery()))
    return bool(elsewhere or waiting)


async def put_back_list(db: Database, picker: StaffUser, tz: tzinfo) -> list[PickTaskRow]:
    """Items already picked for orders cancelled while the batch was open, in the order
    to put them back: products kept by batch first, the bin whose stock expires first
    leading (FEFO, issue #17: that stock is the next to sell), then the pick path."""
    batch = await open_batch(db, picker)
    if batch is None:
        return []
    tasks = [t for t in batch.tasks if t.status == "cancelled" and t.picked]
    if not tasks:
        return tasks
    today = utcnow().astimezone(tz).date()  # expiry goes by the store's local date
    async with db.read() as s:
        seq = dict((await s.execute(select(Bin.code, Bin.pick_seq).where(
            Bin.code.in_({t.bin_code for t in tasks})))).all())
        dated = (await s.execute(
            select(StockLevel.product_id, Bin.code, func.min(StockLevel.expiry))
            .join(Bin, Bin.id == StockLevel.bin_id)
            .join(Product, Product.id == StockLevel.product_id)
            .where(Product.tracks_expiry, StockLevel.on_hand > 0,
                   StockLevel.product_id.in_({t.product_id for t in tasks}),
                   StockLevel.expiry >= today)
            .group_by(StockLevel.product_id, Bin.code))).all()
    expires = {(pid, code): expiry for pid, code, expiry in dated}

    def fefo_then_path(t: PickTaskRow) -> tuple[bool, date, int, str]:
        expiry = expires.get((t.product_id, t.bin_code))
        return (expiry is None, expiry or date.max, seq.get(t.bin_code, 0), t.bin_code)

    return sorted(tasks, key=fefo_then_path)


@orders.on_cancel
async def cancel_picking_tasks(s: Session, order: Order, was: str) -> None:
    """Runs in an order's cancellation (orders.cancel_order_in): its open tasks stop."""
    if was not in ("picking", "picked"):
        return
    for task in await s.scalars(select(PickTaskRow).where(PickTaskRow.order_id == order.id,
                                                          PickTaskRow.status == "open")):
        task.status = "cancelled"


# ---- packing and handover ------------------------------------------------------------


@dataclass(frozen=True)
class PackCard:
    """An order on the packing bench, with the bag the picker put its items in (the
    letter the pick screen showed, "" if unknown) and its batch: bag letters start at A
    in every batch, so the batch tells two bags A apart."""

    order: Order
    bag: str
    batch: str

    @property
    def all_packed(self) -> bool:
        return not unpacked(self.order)


@dataclass(frozen=True)
class Packed:
    card: PackCard
    line: OrderLine


@dataclass(frozen=True)
class WhichOrder:
    """The item is still to pack in several orders: the packer says which bag it is in."""

    name: str
    code: str
    choices: tuple[PackCard, ...]


def _scan_or_refuse(code: str, rules: tuple[MeasureRule, ...]) -> ScanResult:
    try:
        return parse_scan(code, rules)
    except BarcodeError as exc:
        raise WrongProduct(_("not a barcode we can read: %(reason)s") % {"reason": exc}) from None


async def _cards(s: Session, orders_: list[Order]) -> list[PackCard]:
    """Each order's bag letter and batch, from its pick tasks; the bench's order: batch
    by batch, bag A, B, C… as the picker brings them."""
    parts: dict[str, dict[str, str]] = {}  # order -> batch number -> bag (in batch order)
    for order_id, bag, number in (await s.execute(
            select(PickTaskRow.order_id, PickTaskRow.bag, PickBatch.number)
            .join(PickBatch, PickBatch.id == PickTaskRow.batch_id)
            .where(PickTaskRow.order_id.in_([o.id for o in orders_]),
                   PickTaskRow.status != "cancelled")
            .order_by(PickBatch.created_at))).all():
        parts.setdefault(order_id, {})[number] = bag
    # A big order picked in parts (issue #20) has a bag in each batch: "A+C", "B1+B2".
    cards = [PackCard(o, "+".join(parts[o.id].values()), "+".join(parts[o.id]))
             if o.id in parts else PackCard(o, "", "") for o in orders_]
    return sorted(cards, key=lambda c: (c.batch == "", c.batch, len(c.bag), c.bag,
                                        c.order.promised_by))


async def packing_bench(db: Database) -> list[PackCard]:
    """The orders picked and waiting to be packed, with their bag letters."""
    async with db.read() as s:
        return await _cards(s, list(await s.scalars(select(Order).where(
            Order.state == "picked"))))


def _room(line: OrderLine) -> int:
    return line.picked_quantity - line.packed_quantity


def _pack_one(order: Order, line: OrderLine, scan: ScanResult) -> OrderLine:
    add = (scan.quantity or 1) if line.unit == "piece" else _room(line)
    if add > _room(line):
        raise PickError(_("all %(picked)s of %(name)s are already packed in %(order)s") % {
            "picked": line.picked_quantity, "name": line.name, "order": order.number})
    line.packed_quantity += add
    return line


async def pack_scan(db: Database, order_id: str, code: str,
                    rules: tuple[MeasureRule, ...]) -> OrderLine:
    """Each picked item is scanned into the order at the packing bench: the wrong
    product, or one more than was picked, is refused."""
    return (await pack_scan_into(db, order_id, code, rules)).line


async def pack_scan_into(db: Database, order_id: str, code: str,
                         rules: tuple[MeasureRule, ...]) -> Packed:
    """The item goes into this order (the packer chose it)."""
    scan = _scan_or_refuse(code, rules)
    async with db.write() as s:
        order = await s.get(Order, order_id)
        if order is None or order.state != "picked":
            raise PickError(_("that order is not waiting to be packed"))
        try:
            product = (await find_scanned(s, scan)).product
        except UnknownProduct:
            product = None
        lines = [x for x in order.lines if product and x.product_id == product.id]
        if not lines:
            raise WrongProduct(_("%(name)s is not in order %(order)s") % {
                "name": product.name if product else _("That item"), "order": order.number})
        line = next((x for x in lines if _room(x) > 0), lines[0])
        _pack_one(order, line, scan)
        (card,) = await _cards(s, [order])
        return Packed(card, line)


async def pack_scan_any(db: Database, code: str, rules: tuple[MeasureRule, ...]
                        ) -> Packed | WhichOrder:
    """A scan at the packing bench finds its order: the one picked order that still has
    room for the item. In several, nothing is packed and the packer is asked which."""
    scan = _scan_or_refuse(code, rules)
    async with db.write() as s:
        try:
            product = (await find_scanned(s, scan)).product
        except UnknownProduct:
            raise WrongProduct(_("That code is not one of our products: it is in no order. "
                                 "Put the item aside.")) from None
        picked = list(await s.scalars(
            select(Order).join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.state == "picked", OrderLine.product_id == product.id).distinct()))
        open_lines = [(o, line) for o in picked for line in o.lines
                      if line.product_id == product.id and _room(line) > 0]
        if not open_lines:
            if picked:
                raise PickError(_("All %(name)s picked for %(orders)s are already packed. "
                                  "Is this one extra? Put it aside.") % {
                    "name": product.name, "orders": ", ".join(o.number for o in picked)})
            raise WrongProduct(_("%(name)s is in no order waiting to be packed. "
                                 "Put it aside.") % {"name": product.name})
        orders_with_room = {o.id: o for o, _line in open_lines}
        if len(orders_with_room) > 1:
            cards = await _cards(s, list(orders_with_room.values()))
            return WhichOrder(product.name, code.strip(), tuple(cards))
        order, line = open_lines[0]
        _pack_one(order, line, scan)
        (card,) = await _cards(s, [order])
        return Packed(card, line)


def unpacked(order: Order) -> list[OrderLine]:
    return [line for line in order.lines if line.packed_quantity < line.picked_quantity]


async def pack(db: Database, cfg: StoreConfig, packer: StaffUser, order_id: str,
               bag_count: int) -> Order:
    """Bags counted: print a label per bag and the packing slip, and make it ready."""
    if not 1 <= bag_count <= 20:
        raise PickError(_("bags must be between 1 and 20"))
    async with db.write() as s:
        order = await s.get(Order, order_id)
        if order is None:
            raise PickError(_("no such order"))
        missing = unpacked(order)
        if missing and order.state == "picked":
            raise PickError(_("scan every item into the order first: %(items)s") % {
                "items": ", ".join(_("%(name)s (%(count)s more)") % {
                    "name": line.name, "count": line.picked_quantity - line.packed_quantity}
                    for line in missing)})
        orders.transition(s, order, "packed", packer.name, count_of(bag_count, "bag"))
        order.bag_count = bag_count
        order.bag_key = order.bag_key or bags.new_bag_key()
        for p in printing.printers_for(cfg, "bag_label"):
            for bag_no in range(1, bag_count + 1):
                layout = printing.render(
                    cfg, "bag_label", order=_label_view(order), bag_no=bag_no,
                    bag_count=bag_count, bag_code=bags.bag_code(order.bag_key, order.number, bag_no))
                printing.enqueue(s, p.name, "bag_label", layout, ref=order.id,
                                 title=f"Bag {bag_no}/{bag_count} {order.number}")
        for p in printing.printers_for(cfg, "packing_slip"):
            layout = printing.render(cfg, "packing_slip", order=_slip_view(order))
            printing.enqueue(s, p.name, "packing_slip", layout, ref=order.id,
                             title=f"Packing slip {order.number}")
        orders.transition(s, order, "ready", packer.name, "packed and labelled")
        return order


def _label_view(order: Order):
    from types import SimpleNamespace

    return SimpleNamespace(number=order.number, customer_first_name=order.customer_name.split()[0],
                           courier=order.courier or "Rider pool", promised_by=order.promised_by)


def _slip_view(order: Order):
    from types import SimpleNamespace

    return SimpleNamespace(
        number=order.number, customer_name=order.customer_name, address=order.address,
        pincode=order.pincode, payment=order.payment, cod_amount_minor=order.cod_amount_minor,
        notes=order.notes, bag_count=order.bag_count,
        lines=[SimpleNamespace(name=line.name, quantity=line.picked_quantity or line.quantity,
                               unit=line.unit, substitute_for=None) for line in order.lines])


async def orders_in(db: Database, state: str) -> list[Order]:
    async with db.read() as s:
        return list(await s.scalars(select(Order).where(Order.state == state)
                                    .order_by(Order.promised_by)))
