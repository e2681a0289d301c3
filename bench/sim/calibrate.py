"""Calibrate the model from a real store: the fulfilment report's orders CSV
(/reports/fulfilment, "Download CSV": seconds per stage per order)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bench.sim.model import Scenario
from bench.sim.report import summarise

if TYPE_CHECKING:
    from bench.sim.runs import Store

MAX_STAGE_S = 4 * 3600.0  # a stage figure above this is a forgotten order, not a timing


def stage_means(text: str) -> dict[str, float]:
    """Mean seconds per stage column; cells that are empty, not numbers, negative, NaN,
    infinite or over four hours are left out. A stage with no usable cell is absent."""
    sums: dict[str, list[float]] = {}
    reader = csv.DictReader(io.StringIO(text.replace("\x00", "")))
    for row in reader:
        for label in ("Accept", "Start picking", "Picking", "Packing", "Waiting for rider"):
            cell = (row.get(label) or "").strip()
            try:
                value = float(cell)
            except ValueError:
                continue
            if math.isfinite(value) and 0 <= value <= MAX_STAGE_S:
                sums.setdefault(label, []).append(value)
    return {k: sum(v) / len(v) for k, v in sums.items() if v}


def calibrate(text: str, store: Store, base_per_hour: float) -> dict[str, Any]:
    """Parameters that make the model's stage means match the store's: acceptance
    directly, packing per order from the packing mean, and the mean pick time scaled
    until the simulated picking stage matches (three rounds at the base rate)."""
    means = stage_means(text)
    changes: dict[str, Any] = {}
    if "Accept" in means:
        changes["accept_s"] = means["Accept"]
    scenario = Scenario("calibration", 2.0, base_per_hour)
    params = replace(store.params, **changes)
    if "Packing" in means:
        orders = store.run(scenario, "current", **changes).orders
        items = sum(o.items for o in orders) / max(1, len(orders))
        changes["pack_order_s"] = max(1.0, means["Packing"] - params.pack_item_s * items)
    if "Picking" in means:
        pick = params.pick_mean_s
        for _ in range(3):
            got = summarise(store.run(scenario, "current", **changes,
                                      pick_mean_s=pick)).stage_mean["Picking"]
            if not math.isfinite(got) or got <= 0:
                break
            pick = min(600.0, max(0.5, pick * means["Picking"] / got))
        changes["pick_mean_s"] = pick
    return changes
