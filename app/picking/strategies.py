"""Batching strategies for the picker's "Start the next batch" (issue #20). Pure: no I/O.

Every strategy has one interface, :data:`Strategy`: the open orders (accepted, lines not
yet in a batch), the picker's limits and the time now in, one :class:`planner.BatchPlan`
out, or ``None`` when the picker should not start a batch now (nothing to pick, or the
strategy holds orders back to batch them with the next). Calling a strategy again with
the lines it planned taken out eventually plans every line exactly once.

* ``one_at_a_time``: the most urgent order alone.
* ``greedy``: the planner before issue #20 (the most urgent whole orders that fit).
* ``current``: the production planner as it is (``planner.plan``: ``choose_batch``).
* ``adaptive(cost)``: ``current`` with another walking cost (the simulator's metres).
* ``wait_window(seconds)``: ``greedy``, but a batch with room left is held back while
  its most urgent order is younger than ``seconds`` (so the next arrivals can join).
* ``zone_batch``: zone picking; the batch takes the lines of one zone (the zone of the
  most urgent order's first stop) from several orders; the orders' zone parts meet again
  at the packing bench.
* ``savings``: seed and savings (the most urgent order seeds the batch; among the next
  ``pool`` most urgent orders the one that adds the least walking joins, while it adds
  less than ``max_share`` of what picking it alone would cost).
* ``split_big(lines)``: ``greedy`` for ordinary orders; a big order goes out in halves
  along the pick path to two pickers at once.

The walking cost of a set of stops is a :data:`RouteCost`; the default,
``pick_path_cost``, is the length of the pick path through them measured in pick
sequence, so it needs no floor plan. The simulator (bench/sim) passes one from its floor
plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from app.picking import planner
from app.picking.planner import BatchLimits, BatchPlan, BinStock, OrderToPick

Strategy = Callable[[Sequence[OrderToPick], BatchLimits, datetime], BatchPlan | None]
RouteCost = Callable[[Iterable[BinStock]], float]

DEFAULT_PROMISE = timedelta(minutes=10)


first_stop = planner.first_stop
stops = planner.stops
pick_path_cost = planner.pick_path_cost


def one_at_a_time(orders: Sequence[OrderToPick], limits: BatchLimits,
                  now: datetime) -> BatchPlan | None:
    """The most urgent order on its own, whole (no batching, no splitting)."""
    return greedy(orders, replace(limits, max_orders=1), now)


def greedy(orders: Sequence[OrderToPick], limits: BatchLimits,
           now: datetime) -> BatchPlan | None:
    """The planner before issue #20: the most urgent whole orders that fit the limits
    (``planner.choose_orders``), one stop per bin."""
    chosen = planner.choose_orders(orders, limits, now)
    return planner.plan_batch(chosen, zone=limits.zone) if chosen else None


def current(orders: Sequence[OrderToPick], limits: BatchLimits,
            now: datetime) -> BatchPlan | None:
    """What production does: ``planner.plan`` unchanged (``choose_batch``: big orders
    split, the rest batched by the walk they add)."""
    if not planner.choose_batch(orders, limits, now):
        return None
    return planner.plan(orders, limits, now)


def _wait_window(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime, *,
                 seconds: float, promise: timedelta) -> BatchPlan | None:
    chosen = planner.choose_orders(orders, limits, now)
    if not chosen:
        return None
    full = len(chosen) >= limits.max_orders
    received = chosen[0].promised_by - promise  # the promise is made at arrival
    if not full and (now - received).total_seconds() < seconds:
        return None
    return planner.plan_batch(chosen, zone=limits.zone)


def wait_window(seconds: float, promise: timedelta = DEFAULT_PROMISE) -> Strategy:
    """``current`` that holds a batch with room left up to ``seconds`` after its most
    urgent order arrived (``promised_by - promise``). The caller asks again later."""
    if not 0 <= seconds < 3600:
        raise planner.PlanError("the wait window must be between 0 and 3600 seconds")
    return partial(_wait_window, seconds=float(seconds), promise=promise)


def zone_of_lines(order: OrderToPick) -> dict[str, list[planner.OrderLineToPick]]:
    """The order's lines by the zone of their first stop (no stock: zone "")."""
    out: dict[str, list[planner.OrderLineToPick]] = {}
    for line in order.lines:
        stop = first_stop(line)
        out.setdefault(stop.zone if stop else "", []).append(line)
    return out


def zone_batch(orders: Sequence[OrderToPick], limits: BatchLimits,
               now: datetime) -> BatchPlan | None:
    """Zone picking with a merge at packing: one zone's lines from the most urgent orders.

    The zone is the one of the most urgent order's first line; orders join, most urgent
    first, with their lines of that zone, within ``max_orders`` and ``max_items``. The
    plan's orders are those parts (same order ids, fewer lines)."""
    del now
    ranked = [o for o in planner.by_urgency(orders) if o.lines]
    if not ranked:
        return None
    seed = zone_of_lines(ranked[0])
    zone = next(iter(seed))
    parts: list[OrderToPick] = []
    items = 0
    for order in ranked:
        lines = zone_of_lines(order).get(zone)
        if not lines:
            continue
        part = replace(order, lines=tuple(lines))
        size = planner.item_count(part)
        if parts and (len(parts) >= limits.max_orders or items + size > limits.max_items):
            continue
        parts.append(part)
        items += size
        if len(parts) >= limits.max_orders:
            break
    return planner.plan_batch(parts)


def _savings(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime, *,
             cost: RouteCost, pool: int, max_share: float) -> BatchPlan | None:
    """The planner's own seed-and-savings step (planner.choose_batch) with its splitting
    and line cap off: whole orders, limited by orders and items only."""
    whole = replace(limits, split_lines=0, max_lines=10**9, busy_orders=0)
    batch = planner.choose_batch(orders, whole, now, cost=cost, pool=pool, max_share=max_share)
    return planner.plan_batch(batch, zone=limits.zone) if batch else None


def savings(cost: RouteCost = pick_path_cost, pool: int = 10,
            max_share: float = 0.6) -> Strategy:
    """Seed and savings: the most urgent order, plus whichever of the next ``pool`` adds
    the least walking, while it adds under ``max_share`` of its own walk alone."""
    if not 1 <= pool <= 200:
        raise planner.PlanError("the savings pool must be between 1 and 200 orders")
    if not 0 <= max_share <= 1:
        raise planner.PlanError("max_share must be between 0 and 1")
    return partial(_savings, cost=cost, pool=pool, max_share=float(max_share))


def _split_big(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime, *,
               lines: int) -> BatchPlan | None:
    ranked = [o for o in planner.by_urgency(orders) if o.lines]
    if not ranked:
        return None
    seed = ranked[0]
    if len(seed.lines) <= lines:
        small = [o for o in ranked if len(o.lines) <= lines]
        return greedy(small, limits, now)
    def place(line: planner.OrderLineToPick) -> tuple[int, str]:
        stop = first_stop(line)
        return (stop.pick_seq, stop.bin_code) if stop else (-1, "")
    along = sorted(seed.lines, key=place)
    first = along[: (len(along) + 1) // 2]
    return planner.plan_batch([replace(seed, lines=tuple(first))], zone=limits.zone)


def split_big(lines: int = 8) -> Strategy:
    """``current`` for ordinary orders; an order of more than ``lines`` lines, once it is
    the most urgent, goes out in halves along the pick path, so two pickers work on it at
    once (the halves meet at the packing bench). Big orders never join a batch."""
    if not 1 <= lines <= 1000:
        raise planner.PlanError("the big-order threshold must be between 1 and 1000 lines")
    return partial(_split_big, lines=int(lines))


def _adaptive(orders: Sequence[OrderToPick], limits: BatchLimits, now: datetime, *,
              cost: RouteCost) -> BatchPlan | None:
    chosen = planner.choose_batch(orders, limits, now, cost=cost)
    return planner.plan_batch(chosen, zone=limits.zone) if chosen else None


def adaptive(cost: RouteCost = pick_path_cost) -> Strategy:
    """``current`` (``planner.choose_batch``) with another walking cost: the simulator
    passes the metres of its floor plan, to see whether knowing the floor would help."""
    return partial(_adaptive, cost=cost)


def strategies(cost: RouteCost = pick_path_cost, wait_seconds: float = 45,
               promise: timedelta = DEFAULT_PROMISE) -> dict[str, Strategy]:
    """Every strategy by name, in the order the simulator compares them."""
    return {
        "one_at_a_time": one_at_a_time,
        "greedy": greedy,
        "current": current,
        "wait_window": wait_window(wait_seconds, promise),
        "zone": zone_batch,
        "savings": savings(cost),
        "split_big": split_big(),
        "adaptive_floor": adaptive(cost),
    }
