"""The runs the issue asks for: scenarios, strategies, targets with PASS/FAIL, staff
search, planning time for 50 open orders."""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from app.picking import planner, strategies
from bench.sim.engine import EPOCH, Result, make_orders, simulate
from bench.sim.model import FloorPlan, Params, Product, Scenario, Surge
from bench.sim.report import SLA_S, Summary, percentile, summarise

PRODUCTION = "current"  # what app/picking/service.py claims with today

SURGE_START_H = 1.0


def scenarios(base: float = 60.0, hours: float = 3.0, surge_h: float = 0.5,
              ) -> dict[str, Scenario]:
    return {
        "base": Scenario("base 1x", hours, base),
        "surge3": Scenario("3x surge", hours, base, (Surge(SURGE_START_H, surge_h, 3.0),)),
        "surge5": Scenario("5x surge", hours, base, (Surge(SURGE_START_H, surge_h, 5.0),)),
        "day": Scenario("day curve", 16.0, base, daily=True),
    }


def strategy_set(floor: FloorPlan, params: Params) -> dict[str, strategies.Strategy]:
    return strategies.strategies(cost=floor.route_cost,
                                 promise=timedelta(seconds=params.promise_s))


@dataclass
class Store:
    floor: FloorPlan
    products: list[Product]
    params: Params
    seed: int

    def run(self, scenario: Scenario, strategy: str, **changes: Any) -> Result:
        params = replace(self.params, **changes) if changes else self.params
        floor = FloorPlan(list(self.floor.places.values()), params)
        chosen = strategy_set(floor, params)[strategy]
        return simulate(scenario, strategy, chosen, floor, self.products, params, self.seed)


def surge_window(s: Scenario) -> tuple[float, float]:
    """The arrivals the surge target judges: those during the surge window."""
    if not s.surges:
        return 0.0, math.inf
    first = s.surges[0]
    return first.start_h * 3600, (first.start_h + first.length_h) * 3600


@dataclass(frozen=True)
class Target:
    name: str
    passed: bool
    figure: str
    advice: str = ""

    def line(self) -> str:
        text = f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.figure}"
        return text + (f"\n      {self.advice}" if self.advice else "")


def staff_needed(store: Store, scenario: Scenario, strategy: str, need: float,
                 most_pickers: int = 16, most_packers: int = 6) -> tuple[int, int] | None:
    """The fewest people (pickers first, then packers) that reach ``need`` with this
    strategy: (pickers, packers), or None when no mix up to the limits does."""
    a, b = surge_window(scenario)
    best: tuple[int, int] | None = None
    for packers in range(store.params.packers, most_packers + 1):
        for pickers in range(store.params.pickers, most_pickers + 1):
            if best is not None and pickers + packers >= sum(best):
                break
            run = store.run(scenario, strategy, pickers=pickers, packers=packers)
            if summarise(run, a, b).within_sla >= need:
                best = (pickers, packers)
                break
    return best


def ceiling(store: Store, scenario: Scenario, strategy: str,
            most_pickers: int = 16, most_packers: int = 6) -> tuple[float, float]:
    """With the most staff: the share within 5 minutes, and the mean lines of the orders
    that are still late (what no staff level fixes: the work of the order itself)."""
    a, b = surge_window(scenario)
    run = store.run(scenario, strategy, pickers=most_pickers, packers=most_packers)
    late = [o for o in run.orders if a <= o.arrival < b and "handed_over" in o.times
            and o.times["handed_over"] - o.arrival > SLA_S]
    lines = sum(len(o.lines) for o in late) / len(late) if late else math.nan
    return summarise(run, a, b).within_sla, lines


def sla_target(store: Store, name: str, scenario: Scenario, strategy: str, need: float,
               summary: Summary) -> Target:
    p = store.params
    figure = (f"{summary.within_sla * 100:.1f} % within 5 min (need {need * 100:.0f} %), "
              f"{p.pickers} pickers, {p.packers} packers, strategy {strategy}")
    if summary.within_sla >= need:
        return Target(name, True, figure)
    staff = staff_needed(store, scenario, strategy, need)
    if staff is not None:
        advice = f"{staff[0]} pickers and {staff[1]} packers would meet it"
    else:
        share, lines = ceiling(store, scenario, strategy)
        advice = (f"no staff level up to 16 pickers and 6 packers meets it: with them "
                  f"{share * 100:.1f} %; the orders still late have {lines:.1f} lines on "
                  f"average (one picker's work alone takes over 5 minutes)")
    return Target(name, False, figure, advice)


def walking_target(best_batching: Summary, single: Summary) -> Target:
    """Batching against one order at a time on metres walked per order (an order picked
    in several parts counts once, with the metres of all its batches)."""
    saving = 1 - best_batching.metres_per_order / single.metres_per_order
    figure = (f"{best_batching.strategy} walks {best_batching.metres_per_order:.0f} m per order, "
              f"one at a time {single.metres_per_order:.0f} m: {saving * 100:.0f} % less "
              f"(need 30 %), {best_batching.scenario}")
    return Target("batching walks less per order", saving >= 0.30, figure)


def planning_ms(store: Store, open_orders: int = 50, repeats: int = 40
                ) -> dict[str, tuple[float, float]]:
    """Per strategy: (median, 95th percentile) milliseconds for one decision over
    ``open_orders`` accepted orders drawn from the demo catalogue."""
    scenario = Scenario("planning", 1.0, open_orders * 1.5)
    orders = make_orders(scenario, store.products, store.params, store.seed)[:open_orders]
    rng = random.Random(store.seed)
    now = EPOCH + timedelta(hours=1)
    to_pick = [planner.OrderToPick(
        o.order_id, o.number, now + timedelta(seconds=rng.randint(60, 600)), tuple(
            planner.OrderLineToPick(x.line_id, x.product.sku, x.product.name, x.quantity,
                                    x.product.unit, (x.product.bin,)) for x in o.lines))
        for o in orders]
    out = {}
    for name, strategy in strategy_set(store.floor, store.params).items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            strategy(to_pick, planner.BatchLimits(
                store.params.max_orders, store.params.max_items,
                max_lines=store.params.max_lines, split_lines=store.params.split_lines), now)
            times.append((time.perf_counter() - started) * 1000)
        out[name] = (statistics.median(times), percentile(times, 95))
    return out
