"""The discrete-event engine and the dark store it runs.

One heap of events ``(time, seq, kind, data)``; ``seq`` breaks ties in the order events
were scheduled, so a run is the same for the same seed. Time never goes backwards (an
event scheduled in the past is refused). Every state change of an order goes through the
real state machine (``app.orders.states.check``); a picker with nothing to do asks the
strategy exactly as the phone's "Start the next batch" asks ``planner.plan``: with every
accepted order that is in no batch yet, and the picker's limits.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.orders import states
from app.picking import planner
from app.picking.strategies import Strategy
from bench.sim.model import (
    FloorPlan,
    Line,
    Params,
    Product,
    Scenario,
    SimOrder,
    arrival_times,
    basket,
)

EPOCH = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # opening time of the simulated day
OVERRUN_S = 6 * 3600  # after the last arrival, the store has this long to finish


class SimError(RuntimeError):
    """An invariant broke (time went backwards, an order was lost, a stuck strategy)."""


@dataclass
class Batch:
    picker: int
    start: float
    end: float
    order_ids: tuple[str, ...]
    metres: float
    stops: int
    tasks: int


@dataclass
class Result:
    scenario: str
    strategy: str
    params: Params
    horizon: float
    orders: list[SimOrder]
    batches: list[Batch] = field(default_factory=list)
    plan_ms: list[float] = field(default_factory=list)
    queue: list[tuple[float, int]] = field(default_factory=list)  # (time, orders waiting)
    picker_busy: list[float] = field(default_factory=list)
    end: float = 0.0


class Engine:
    """The event loop alone: schedule, run, check that time only moves forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def at(self, when: float, kind: str, data: Any = None) -> None:
        if not when >= self.now:  # also refuses NaN
            raise SimError(f"event {kind} at {when} is before now ({self.now})")
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, data))

    def run(self, until: float) -> None:
        while self._heap:
            when, _seq, kind, data = heapq.heappop(self._heap)
            if when < self.now:
                raise SimError(f"time went backwards: {when} < {self.now}")
            if when > until:
                raise SimError(f"still busy at {until:.0f} s: is the strategy stuck?")
            self.now = when
            self.handlers[kind](data)

    def pending(self) -> int:
        return len(self._heap)


def make_orders(scenario: Scenario, products: list[Product], params: Params,
                seed: int) -> list[SimOrder]:
    """The day's orders: the same for the same seed, whatever the strategy."""
    rng = random.Random(f"orders-{seed}")
    out = []
    for n, t in enumerate(arrival_times(scenario, rng), start=1):
        out.append(SimOrder(f"o{n}", f"SIM-{n:06d}", t, basket(rng, products, params, n)))
    return out


class Store:
    """The dark store: pickers, packers and riders around one engine."""

    def __init__(self, scenario: Scenario, strategy_name: str, strategy: Strategy,
                 floor: FloorPlan, products: list[Product], params: Params, seed: int) -> None:
        self.p = params
        self.floor = floor
        self.strategy = strategy
        self.engine = Engine()
        self.rng = random.Random(f"work-{seed}")
        self.orders = make_orders(scenario, products, params, seed)
        self.by_id = {o.order_id: o for o in self.orders}
        self.horizon = scenario.hours * 3600
        self.result = Result(scenario.name, strategy_name, params, self.horizon, self.orders,
                             picker_busy=[0.0] * params.pickers)
        self.unplanned: dict[str, list[Line]] = {}  # accepted orders: lines in no batch
        self.idle = set(range(params.pickers))
        self.poll_due: set[int] = set()
        self.pack_queue: list[tuple[float, int, str]] = []
        self.free_packers = params.packers
        self.ready_queue: list[tuple[float, int, str]] = []
        self.free_riders = params.riders
        self._n = 0
        self.limits = planner.BatchLimits(params.max_orders, params.max_items,
                                          max_lines=params.max_lines,
                                          split_lines=params.split_lines,
                                          busy_orders=params.busy_orders)
        e = self.engine
        e.handlers.update(arrive=self._arrive, accept=self._accept, poll=self._poll,
                          picked=self._picked, batch_done=self._batch_done,
                          packed=self._packed, handed=self._handed,
                          delivered=self._delivered, rider_back=self._rider_back,
                          cancel=self._cancel)
        cancel_rng = random.Random(f"cancel-{seed}")
        for o in self.orders:
            e.at(o.arrival, "arrive", o.order_id)
            if cancel_rng.random() < params.cancel_rate:
                e.at(o.arrival + cancel_rng.uniform(10, 240), "cancel", o.order_id)

    # ---- helpers -------------------------------------------------------------------------

    def _tick(self) -> int:
        self._n += 1
        return self._n

    def _move(self, order: SimOrder, target: str) -> None:
        states.check(order.state, target)  # the real state machine refuses a wrong step
        order.state = target
        order.times.setdefault(target, self.engine.now)

    def _promised(self, order: SimOrder) -> datetime:
        return EPOCH + timedelta(seconds=order.arrival + self.p.promise_s)

    def _queue_sample(self) -> None:
        waiting = sum(1 for oid in self.unplanned if self.by_id[oid].state == "accepted")
        if not self.result.queue or self.result.queue[-1][1] != waiting:
            self.result.queue.append((self.engine.now, waiting))

    def _to_pick(self) -> list[planner.OrderToPick]:
        out = []
        for oid, lines in self.unplanned.items():
            o = self.by_id[oid]
            out.append(planner.OrderToPick(oid, o.number, self._promised(o), tuple(
                planner.OrderLineToPick(x.line_id, x.product.sku, x.product.name,
                                        x.quantity, x.product.unit, (x.product.bin,))
                for x in lines)))
        return out

    # ---- orders arrive and are accepted -------------------------------------------------

    def _arrive(self, oid: str) -> None:
        order = self.by_id[oid]
        order.times["received"] = self.engine.now
        self.engine.at(self.engine.now + self.p.accept_s, "accept", oid)

    def _accept(self, oid: str) -> None:
        order = self.by_id[oid]
        if order.state != "received":
            return  # cancelled meanwhile
        self._move(order, "accepted")
        self.unplanned[oid] = list(order.lines)
        self._queue_sample()
        self._wake_pickers()

    def _cancel(self, oid: str) -> None:
        order = self.by_id[oid]
        if order.state not in states.CANCELLABLE:
            return
        self._move(order, "cancelled")
        self.unplanned.pop(oid, None)
        self._queue_sample()

    # ---- pickers ------------------------------------------------------------------------

    def _wake_pickers(self) -> None:
        """Every idle picker asks in turn, while lines are left: a plan that takes only
        part of the open work (a big order split, one zone) leaves the rest for the next
        idle picker at once, as the next phone's "Start the next batch" would."""
        for picker in sorted(self.idle):
            if not self.unplanned:
                return
            if picker in self.idle:
                self._try_claim(picker)

    def _poll(self, picker: int) -> None:
        self.poll_due.discard(picker)
        if picker in self.idle:
            self._try_claim(picker)

    def _try_claim(self, picker: int) -> None:
        now = self.engine.now
        open_orders = self._to_pick()
        started = time.perf_counter()
        plan = self.strategy(open_orders, self.limits, EPOCH + timedelta(seconds=now))
        self.result.plan_ms.append((time.perf_counter() - started) * 1000)
        if plan is None or not plan.orders:
            if self.unplanned and picker not in self.poll_due:
                self.poll_due.add(picker)
                self.engine.at(now + self.p.poll_s, "poll", picker)
            return
        self.idle.discard(picker)
        self._start_batch(picker, plan)
        if self.unplanned and self.idle:
            self._wake_pickers()  # the rest of a split order goes to the next idle picker

    def _start_batch(self, picker: int, plan: planner.BatchPlan) -> None:
        now = self.engine.now
        planned = {line.line_id for o in plan.orders for line in o.lines}
        for o in plan.orders:
            order = self.by_id[o.order_id]
            left = [x for x in self.unplanned[o.order_id] if x.line_id not in planned]
            if left:
                self.unplanned[o.order_id] = left
            else:
                del self.unplanned[o.order_id]
            order.parts += 1
            order.parts_left += 1
            order.batches_out += 1
            if order.state == "accepted":
                self._move(order, "picking")
        self._queue_sample()
        t = now + self.p.batch_setup_s
        here: str | None = None
        metres = 0.0
        stops = 0
        last_task: dict[str, float] = {}
        for task in plan.tasks:
            if task.bin_code != here:
                leg = self.floor.leg_m(here, task.bin_code)
                metres += leg
                t += leg / self.p.walk_speed_mps
                here = task.bin_code
                stops += 1
            t += self._pick_seconds(task)
            last_task[task.order_id] = t
        back = self.floor.leg_m(here, None)
        metres += back
        t += back / self.p.walk_speed_mps
        for order_id in {o for o, _l, _q in plan.short}:
            last_task.setdefault(order_id, now)
        for o in plan.orders:
            self.engine.at(max(now, last_task.get(o.order_id, now)), "picked", o.order_id)
        ids = tuple(o.order_id for o in plan.orders)
        self.result.batches.append(Batch(picker, now, t, ids, metres, stops, len(plan.tasks)))
        self.result.picker_busy[picker] += t - now
        self.engine.at(t, "batch_done", (picker, ids))

    def _pick_seconds(self, task: planner.PickTask) -> float:
        p = self.p
        seconds = self.rng.gammavariate(p.pick_shape, p.pick_mean_s / p.pick_shape)
        if task.unit == "piece":
            seconds += p.extra_unit_s * max(0, task.quantity - 1)
        else:
            seconds += p.weigh_s
        return seconds

    def _picked(self, oid: str) -> None:
        order = self.by_id[oid]
        order.parts_left -= 1
        if order.state == "picking" and order.parts_left == 0 and oid not in self.unplanned:
            self._move(order, "picked")
            if order.batches_out == 0:  # its last batch is already back (a part with no task)
                order.times["bench"] = self.engine.now
                heapq.heappush(self.pack_queue, (order.arrival, self._tick(), oid))
                self._start_packing()

    def _batch_done(self, data: tuple[int, tuple[str, ...]]) -> None:
        picker, ids = data
        for oid in ids:  # the bags reach the packing bench with the picker
            order = self.by_id[oid]
            order.batches_out -= 1
            if order.state == "picked" and order.batches_out == 0 and "bench" not in order.times:
                order.times["bench"] = self.engine.now
                heapq.heappush(self.pack_queue, (order.arrival, self._tick(), oid))
        self.idle.add(picker)
        self._start_packing()
        if self.unplanned:
            self._try_claim(picker)
            self._wake_pickers()

    # ---- packing and riders -------------------------------------------------------------

    def _start_packing(self) -> None:
        while self.free_packers and self.pack_queue:
            _a, _n, oid = heapq.heappop(self.pack_queue)
            order = self.by_id[oid]
            if order.state != "picked":
                continue
            self.free_packers -= 1
            p = self.p
            seconds = p.pack_order_s + p.pack_item_s * order.items + \
                p.merge_part_s * max(0, order.parts - 1)
            self.engine.at(self.engine.now + seconds, "packed", oid)

    def _packed(self, oid: str) -> None:
        order = self.by_id[oid]
        self.free_packers += 1
        if order.state == "picked":
            self._move(order, "packed")
            self._move(order, "ready")
            heapq.heappush(self.ready_queue, (order.arrival, self._tick(), oid))
        self._start_packing()
        self._dispatch()

    def _dispatch(self) -> None:
        while self.free_riders and self.ready_queue:
            _a, _n, oid = heapq.heappop(self.ready_queue)
            if self.by_id[oid].state != "ready":
                continue
            self.free_riders -= 1
            self.engine.at(self.engine.now + self.p.handover_s, "handed", oid)

    def _handed(self, oid: str) -> None:
        order = self.by_id[oid]
        if order.state != "ready":  # cancelled while the rider waited
            self.free_riders += 1
            self._dispatch()
            return
        self._move(order, "handed_over")
        out = self.rng.gammavariate(4.0, self.p.ride_out_mean_s / 4.0)
        self.engine.at(self.engine.now + out, "delivered", oid)
        self.engine.at(self.engine.now + 2 * out + 60, "rider_back", None)

    def _delivered(self, oid: str) -> None:
        self._move(self.by_id[oid], "delivered")

    def _rider_back(self, _data: None) -> None:
        self.free_riders += 1
        self._dispatch()

    # ---- the whole run ------------------------------------------------------------------

    def run(self) -> Result:
        self.engine.run(self.horizon + OVERRUN_S)
        self.result.end = self.engine.now
        self.check()
        return self.result

    def check(self) -> None:
        """Every order ended in a final state and none was lost or made up."""
        unfinished = [o.number for o in self.orders if o.state not in states.FINAL]
        if unfinished:
            raise SimError(f"{len(unfinished)} orders did not finish: {unfinished[:5]}")
        finals = sum(1 for o in self.orders if o.state in states.FINAL)
        if finals != len(self.orders) or len(self.by_id) != len(self.orders):
            raise SimError("orders were lost or made up")
        if self.unplanned or self.pack_queue and any(
                self.by_id[oid].state == "picked" for _a, _n, oid in self.pack_queue):
            raise SimError("work was left undone")


def simulate(scenario: Scenario, strategy_name: str, strategy: Strategy, floor: FloorPlan,
             products: list[Product], params: Params, seed: int) -> Result:
    return Store(scenario, strategy_name, strategy, floor, products, params, seed).run()
