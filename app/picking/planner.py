"""Batch picking planner: which open orders one picker takes, and in what order to pick them.

Pure functions over frozen dataclasses; no I/O.  The caller loads the open orders with, for
every line, the bins that hold the product (``BinStock``) and hands them over.

* ``choose_orders`` picks the most urgent orders that fit one picker's limits.
* ``plan_batch`` gives every order a bag letter and turns the lines into a pick list that
  follows the store's bin pick sequence: each bin is visited once, for all orders in the batch.
  Stock is shared between the orders (keyed by ``(sku, bin_code)``); what no bin can supply is
  reported in ``BatchPlan.short``.
* ``plan`` does both and refuses an empty batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

UNITS = ("piece", "kg", "litre")


class PlanError(ValueError):
    """The orders or limits cannot be planned (bad data, or nothing to pick)."""


@dataclass(frozen=True)
class BinStock:
    bin_code: str
    zone: str
    pick_seq: int
    available: int  # sellable: expired batches are left out by the caller
    # The earliest expiry of the sellable stock in this bin (None: no dated stock). Lines
    # draw from the bin whose stock expires first (FEFO, issue #17), then by pick order.
    earliest_expiry: date | None = None


@dataclass(frozen=True)
class OrderLineToPick:
    line_id: str
    sku: str
    name: str
    quantity: int  # base units: pieces, grams or millilitres
    unit: str  # "piece" | "kg" | "litre"
    bins: tuple[BinStock, ...]


@dataclass(frozen=True)
class OrderToPick:
    order_id: str
    number: str
    promised_by: datetime
    lines: tuple[OrderLineToPick, ...]


@dataclass(frozen=True)
class BatchLimits:
    max_orders: int = 4
    max_items: int = 40  # pieces count one each; a kg or litre line counts as one item
    zone: str | None = None


@dataclass(frozen=True)
class PickTask:
    seq: int
    bin_code: str
    zone: str
    pick_seq: int
    order_id: str
    order_number: str
    line_id: str
    sku: str
    name: str
    quantity: int
    unit: str
    bag: str


@dataclass(frozen=True)
class BatchPlan:
    orders: tuple[OrderToPick, ...]  # in urgency order, the same order as the bags
    bags: dict[str, str]  # order_id -> "A", "B", ...
    tasks: tuple[PickTask, ...]
    short: tuple[tuple[str, str, int], ...]  # (order_id, line_id, quantity no bin can supply)


def urgency_key(order: OrderToPick) -> tuple[datetime, str, str]:
    """Earliest promise first; ties by order number (then id, so the order is total)."""
    return (order.promised_by, order.number, order.order_id)


def by_urgency(orders: Iterable[OrderToPick]) -> list[OrderToPick]:
    try:
        return sorted(orders, key=urgency_key)
    except TypeError as exc:  # naive and aware datetimes mixed
        raise PlanError(f"promised_by times cannot be compared: {exc}") from exc


def item_count(order: OrderToPick) -> int:
    """Pieces count one per piece; a weighed (kg) or measured (litre) line counts as one."""
    total = 0
    for line in order.lines:
        _check_line(order, line)
        total += line.quantity if line.unit == "piece" else 1
    return total


def bag_label(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA", 27 -> "AB", ... (spreadsheet columns)."""
    if index < 0:
        raise PlanError("bag index must not be negative")
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def has_zone_stock(order: OrderToPick, zone: str) -> bool:
    """True when every line has some stock (available > 0) in a bin of ``zone``."""
    return all(
        any(b.zone == zone and b.available > 0 for b in line.bins) for line in order.lines
    )


def choose_orders(
    orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime
) -> list[OrderToPick]:
    """The most urgent orders that fit ``limits``, most urgent first.

    Orders are considered earliest ``promised_by`` first (ties by number).  Each one is added
    when the batch stays within ``max_orders`` and ``max_items``; one that does not fit is
    skipped and smaller, later orders may still fill the batch.  If the most urgent order alone
    exceeds ``max_items`` it is returned on its own, so a big order is never starved.  With
    ``limits.zone`` only orders whose every line has stock in that zone are considered.

    ``now`` is accepted for the caller's convenience; urgency does not depend on it (an overdue
    order simply has the earliest promise).
    """
    del now
    if limits.max_orders < 1:
        raise PlanError("max_orders must be at least 1")
    if limits.max_items < 0:
        raise PlanError("max_items must not be negative")
    _check_unique_orders(orders)
    candidates = by_urgency(orders)
    if limits.zone is not None:
        candidates = [o for o in candidates if has_zone_stock(o, limits.zone)]
    if not candidates:
        return []
    first_items = item_count(candidates[0])
    if first_items > limits.max_items:
        return [candidates[0]]
    chosen = [candidates[0]]
    items = first_items
    for order in candidates[1:]:
        if len(chosen) >= limits.max_orders:
            break
        size = item_count(order)
        if items + size <= limits.max_items:
            chosen.append(order)
            items += size
    return chosen


def plan_batch(orders: Sequence[OrderToPick], *, zone: str | None = None) -> BatchPlan:
    """Bags, pick tasks and shortages for one batch.

    Orders get bags A, B, C... in urgency order.  Each line draws its quantity from its bins
    in FEFO order (the bin whose stock expires first, then ``(pick_seq, bin_code)``),
    skipping bins with nothing available and splitting across bins as needed; what is left
    goes to ``short``.  Stock per ``(sku, bin_code)`` is shared by the whole batch and
    handed out most urgent order first, then by line position.  If the same bin/sku is
    reported with different ``available`` figures, the smallest one is trusted.

    With ``zone`` set, only bins in that zone are used (so a zone picker never leaves the zone);
    quantity only stocked elsewhere is then reported as short.

    Tasks are sorted by ``(pick_seq, bin_code, order urgency, line position)`` and numbered from
    1, so each bin is one stop for all the orders that need it.
    """
    _check_unique_orders(orders)
    ranked = by_urgency(orders)
    bags = {order.order_id: bag_label(i) for i, order in enumerate(ranked)}

    bin_place: dict[str, tuple[str, int]] = {}  # bin_code -> (zone, pick_seq)
    stock: dict[tuple[str, str], int] = {}  # (sku, bin_code) -> still available
    for order in ranked:
        for line in order.lines:
            _check_line(order, line)
            for b in line.bins:
                place = bin_place.setdefault(b.bin_code, (b.zone, b.pick_seq))
                if place != (b.zone, b.pick_seq):
                    raise PlanError(
                        f"bin {b.bin_code} has conflicting zone/pick_seq: "
                        f"{place} and {(b.zone, b.pick_seq)}"
                    )
                key = (line.sku, b.bin_code)
                stock[key] = min(stock.get(key, b.available), b.available)

    keyed: list[tuple[tuple[int, str, int, int], PickTask]] = []
    short: list[tuple[str, str, int]] = []
    for rank, order in enumerate(ranked):
        for position, line in enumerate(order.lines):
            remaining = line.quantity
            seen: set[str] = set()
            for b in sorted(line.bins, key=_fefo_then_path):
                if remaining == 0:
                    break
                if b.bin_code in seen or (zone is not None and b.zone != zone):
                    continue
                seen.add(b.bin_code)
                key = (line.sku, b.bin_code)
                take = min(remaining, stock[key])
                if take <= 0:
                    continue
                stock[key] -= take
                remaining -= take
                task = PickTask(
                    seq=0,
                    bin_code=b.bin_code,
                    zone=b.zone,
                    pick_seq=b.pick_seq,
                    order_id=order.order_id,
                    order_number=order.number,
                    line_id=line.line_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=take,
                    unit=line.unit,
                    bag=bags[order.order_id],
                )
                keyed.append(((b.pick_seq, b.bin_code, rank, position), task))
            if remaining > 0:
                short.append((order.order_id, line.line_id, remaining))

    keyed.sort(key=lambda pair: pair[0])
    tasks = tuple(replace(task, seq=n) for n, (_, task) in enumerate(keyed, start=1))
    return BatchPlan(orders=tuple(ranked), bags=bags, tasks=tasks, short=tuple(short))


def _fefo_then_path(b: BinStock) -> tuple[bool, date, int, str]:
    """The bin a line draws from first: earliest-expiring stock, then the pick path
    (bins without dated stock come after every dated one)."""
    return (b.earliest_expiry is None, b.earliest_expiry or date.max, b.pick_seq, b.bin_code)


def plan(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime) -> BatchPlan:
    """``choose_orders`` then ``plan_batch`` (restricted to ``limits.zone`` when set)."""
    chosen = choose_orders(orders, limits, now)
    if not chosen:
        raise PlanError("no orders to pick")
    return plan_batch(chosen, zone=limits.zone)


def _check_unique_orders(orders: Sequence[OrderToPick]) -> None:
    seen: set[str] = set()
    for order in orders:
        if order.order_id in seen:
            raise PlanError(f"order {order.order_id} appears twice")
        seen.add(order.order_id)
        line_ids = [line.line_id for line in order.lines]
        if len(set(line_ids)) != len(line_ids):
            raise PlanError(f"order {order.number} has duplicate line ids")


def _check_line(order: OrderToPick, line: OrderLineToPick) -> None:
    if line.unit not in UNITS:
        raise PlanError(f"order {order.number} line {line.line_id}: unknown unit {line.unit!r}")
    if line.quantity < 0:
        raise PlanError(f"order {order.number} line {line.line_id}: negative quantity")
