"""Batch picking planner: which open orders one picker takes, and in what order to pick them.

Pure functions over frozen dataclasses; no I/O.  The caller loads the open orders with, for
every line, the bins that hold the product (``BinStock``) and hands them over.

* ``choose_batch`` (the default, issue #20) picks what one picker takes next: the most
  urgent order, split along the pick path when it is big (so several pickers work on it
  at once), or filled with the open orders that add the least walking, within the
  picker's limits and a cap on the batch's lines (so the first order is not kept waiting
  by a long batch). Chosen by the dark-store simulation (bench/sim, docs/simulation.md).
* ``choose_orders`` picks the most urgent orders that fit one picker's limits (the
  planner before issue #20; the simulator's ``greedy``).
* ``plan_batch`` gives every order a bag letter and turns the lines into a pick list that
  follows the store's bin pick sequence: each bin is visited once, for all orders in the batch.
  Stock is shared between the orders (keyed by ``(sku, bin_code)``); what no bin can supply is
  reported in ``BatchPlan.short``.
* ``plan`` does ``choose_batch`` then ``plan_batch`` and refuses an empty batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from itertools import islice

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
    # choose_batch only: orders join a batch while it has at most this many lines; an
    # order of more than split_lines lines goes out in parts of at most split_lines lines
    # along the pick path (0: never split). Tuned by the simulation (docs/simulation.md).
    max_lines: int = 8
    split_lines: int = 6
    # When more than busy_orders orders are waiting: no splitting and no max_lines, for
    # throughput (0: never). Off by default: at a 3x surge it lowers the share of orders
    # within 5 minutes in the simulation (it shortens the tail; docs/simulation.md).
    busy_orders: int = 0


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


RouteCost = Callable[[Iterable[BinStock]], float]


def first_stop(line: OrderLineToPick) -> BinStock | None:
    """The bin ``plan_batch`` draws this line from first (FEFO, then pick path), or None
    when no bin has any of it."""
    live = [b for b in line.bins if b.available > 0]
    return min(live, key=_fefo_then_path) if live else None


def stops(order: OrderToPick) -> set[BinStock]:
    """The bins the order's lines are drawn from first."""
    found = (first_stop(line) for line in order.lines)
    return {b for b in found if b is not None}


def pick_path_cost(bins: Iterable[BinStock]) -> float:
    """The walk through these bins, measured without a floor plan: from the bench to the
    furthest stop along the pick path and back (in pick-sequence units), plus one unit per
    stop. Good enough to tell an order on the way from one at the far end."""
    seqs = [b.pick_seq for b in bins]
    return 0.0 if not seqs else 2.0 * max(0, max(seqs)) + len(set(seqs))


def _along_path(line: OrderLineToPick) -> tuple[int, str]:
    stop = first_stop(line)
    return (stop.pick_seq, stop.bin_code) if stop else (-1, "")


def choose_batch(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime, *,
                 cost: RouteCost = pick_path_cost, pool: int = 12,
                 max_share: float = 0.6) -> list[OrderToPick]:
    """What one picker takes next (the default, issue #20), most urgent first.

    The most urgent order (``promised_by``, then number) always goes. When it has more
    than ``limits.split_lines`` lines, the picker takes only its first part along the pick
    path (the order in parts of at most ``split_lines`` lines, as even as can be): the
    next picker takes the next part at once, and the parts meet at the packing bench. The
    returned order then carries only the lines of that part. Otherwise, of the next
    ``pool`` most urgent orders that are not big, the one that adds the least walking
    (``cost`` of the stops together minus the batch's so far) joins, while it adds less
    than ``max_share`` of its own walk alone, and the batch stays within ``max_orders``,
    ``max_items`` and ``max_lines`` (a most urgent order alone may exceed them). With
    ``limits.zone`` only orders whose every line has stock in that zone are considered.
    ``now`` is accepted for the caller's convenience (urgency is the promise)."""
    del now
    if limits.max_orders < 1:
        raise PlanError("max_orders must be at least 1")
    if min(limits.max_items, limits.split_lines, limits.busy_orders) < 0 or limits.max_lines < 1:
        raise PlanError("max_items, split_lines and busy_orders must not be negative, "
                        "max_lines at least 1")
    if not 1 <= pool <= 200 or not 0 <= max_share <= 1:
        raise PlanError("pool must be 1-200 orders and max_share between 0 and 1")
    _check_unique_orders(orders)
    ranked = by_urgency(orders)
    if limits.zone is not None:
        ranked = [o for o in ranked if has_zone_stock(o, limits.zone)]
    if not ranked:
        return []
    seed = ranked[0]
    busy = 0 < limits.busy_orders < len(ranked)
    split = 0 if busy else limits.split_lines
    max_lines = 10**9 if busy else limits.max_lines
    if split and len(seed.lines) > split:
        along = sorted(seed.lines, key=_along_path)
        parts = -(-len(along) // split)
        size = -(-len(along) // parts)
        keep = {line.line_id for line in along[:size]}
        return [replace(seed, lines=tuple(x for x in seed.lines if x.line_id in keep))]
    batch = [seed]
    items = item_count(seed)
    lines = len(seed.lines)
    route = stops(seed)
    # the next `pool` orders that are not big, their stops worked out for those only
    eligible = (o for o in ranked[1:] if not split or len(o.lines) <= split)
    candidates = [(o, stops(o), item_count(o)) for o in islice(eligible, pool)]
    while candidates and len(batch) < limits.max_orders and items <= limits.max_items:
        here = cost(route)
        best: tuple[float, int] | None = None
        for i, (order, own, size) in enumerate(candidates):
            if items + size > limits.max_items or lines + len(order.lines) > max_lines:
                continue
            added = cost(route | own) - here
            if added <= max_share * cost(own) and (best is None or added < best[0]):
                best = (added, i)
        if best is None:
            break
        order, own, size = candidates.pop(best[1])
        batch.append(order)
        route |= own
        items += size
        lines += len(order.lines)
    return by_urgency(batch)


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
    """``choose_batch`` then ``plan_batch`` (restricted to ``limits.zone`` when set). A
    big order may come back with only some of its lines (one part): the caller plans the
    rest on the next call."""
    chosen = choose_batch(orders, limits, now)
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
