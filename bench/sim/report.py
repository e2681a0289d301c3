"""Figures from a run: per-order stage times, percentiles, the 5-minute share, picker
utilisation and walking; the Markdown summary and the SVG chart."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.core import svg_charts
from bench.sim.engine import Result

SLA_S = 300.0
# (label, from, to): the fulfilment report's stages (app/reports/fulfilment.py), with
# "Picking" ending when the state machine says picked.
STAGES = (
    ("Accept", "received", "accepted"),
    ("Start picking", "accepted", "picking"),
    ("Picking", "picking", "picked"),
    ("Packing", "picked", "ready"),
    ("Waiting for rider", "ready", "handed_over"),
)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


@dataclass(frozen=True)
class Summary:
    scenario: str
    strategy: str
    pickers: int
    orders: int
    handed_over: int
    within_sla: float  # share of handed-over orders within 5 minutes of arrival
    p50: float
    p90: float
    p99: float
    stage_mean: dict[str, float]
    utilisation: float
    metres_per_order: float
    orders_per_batch: float
    plan_ms_p50: float
    plan_ms_max: float


def cycle_times(result: Result, start_s: float = 0.0, end_s: float = math.inf) -> list[float]:
    return [o.times["handed_over"] - o.arrival for o in result.orders
            if "handed_over" in o.times and start_s <= o.arrival < end_s]


def summarise(result: Result, start_s: float = 0.0, end_s: float = math.inf) -> Summary:
    cycles = cycle_times(result, start_s, end_s)
    chosen = [o for o in result.orders if start_s <= o.arrival < end_s]
    stage_mean = {}
    for label, a, b in STAGES:
        vals = [o.times[b] - o.times[a] for o in chosen if a in o.times and b in o.times]
        stage_mean[label] = sum(vals) / len(vals) if vals else math.nan
    span = max([result.horizon, *(b.end for b in result.batches)])
    busy = sum(result.picker_busy)
    parts = sum(len(b.order_ids) for b in result.batches)
    # An order picked in several batches (zone picking, a big order split) is one order:
    # its metres are the sum of its batches', divided once (counting each part as an
    # order made splitting look like it walked less).
    picked_orders = len({oid for b in result.batches for oid in b.order_ids})
    metres = sum(b.metres for b in result.batches)
    return Summary(
        scenario=result.scenario, strategy=result.strategy, pickers=result.params.pickers,
        orders=len(chosen), handed_over=len(cycles),
        within_sla=sum(1 for c in cycles if c <= SLA_S) / len(cycles) if cycles else math.nan,
        p50=percentile(cycles, 50), p90=percentile(cycles, 90), p99=percentile(cycles, 99),
        stage_mean=stage_mean,
        utilisation=busy / (result.params.pickers * span) if span > 0 else math.nan,
        metres_per_order=metres / picked_orders if picked_orders else math.nan,
        orders_per_batch=parts / len(result.batches) if result.batches else math.nan,
        plan_ms_p50=percentile(result.plan_ms, 50), plan_ms_max=max(result.plan_ms, default=0.0))


def mmss(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


def pct(share: float) -> str:
    return "-" if not math.isfinite(share) else f"{share * 100:.1f} %"


TABLE_HEAD = ("| scenario | strategy | pickers | orders | within 5 min | p50 | p90 | p99 | "
              "m walked / order | orders / batch | picker busy | plan ms p50 / max |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def table_row(s: Summary) -> str:
    return (f"| {s.scenario} | {s.strategy} | {s.pickers} | {s.orders} | {pct(s.within_sla)} "
            f"| {mmss(s.p50)} | {mmss(s.p90)} | {mmss(s.p99)} | {s.metres_per_order:.0f} "
            f"| {s.orders_per_batch:.2f} | {pct(s.utilisation)} "
            f"| {s.plan_ms_p50:.2f} / {s.plan_ms_max:.1f} |")


def stage_table(summaries: Sequence[Summary]) -> str:
    head = "| scenario | strategy | " + " | ".join(label for label, _a, _b in STAGES) + " |"
    lines = [head, "|---|---|" + "---:|" * len(STAGES)]
    for s in summaries:
        lines.append(f"| {s.scenario} | {s.strategy} | " + " | ".join(
            mmss(s.stage_mean[label]) for label, _a, _b in STAGES) + " |")
    return "\n".join(lines)


def orders_csv(result: Result) -> str:
    """One row per order: seconds from arrival to each step (empty: not reached)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    steps = ("accepted", "picking", "picked", "packed", "ready", "handed_over", "delivered")
    w.writerow(["order", "state", "lines", "items", "arrival_s", *steps])
    for o in result.orders:
        w.writerow([o.number, o.state, len(o.lines), o.items, round(o.arrival, 1),
                    *("" if s not in o.times else round(o.times[s] - o.arrival, 1)
                      for s in steps)])
    return out.getvalue()


def buckets(result: Result, width_s: float = 600.0) -> tuple[list[str], list[int], list[int]]:
    """Per ``width_s`` of the day: labels, p90 cycle seconds of the orders that arrived
    in it, and the most orders waiting for a picker at any moment in it."""
    n = max(1, math.ceil(result.horizon / width_s))
    labels, cycle, queue = [], [], []
    for i in range(n):
        a, b = i * width_s, (i + 1) * width_s
        p90 = percentile(cycle_times(result, a, b), 90)
        labels.append(f"{7 + int(a // 3600):02d}:{int(a % 3600 // 60):02d}")
        cycle.append(0 if not math.isfinite(p90) else round(p90))
        before = [q for t, q in result.queue if t < a]
        inside = [q for t, q in result.queue if a <= t < b]
        queue.append(max([*inside, *(before[-1:])], default=0))
    return labels, cycle, queue


def chart(result: Result) -> str:
    """One standalone SVG: p90 cycle time by arrival time, and the queue for pickers."""
    labels, cycle, queue = buckets(result)
    first = svg_charts.line_chart(
        labels, cycle, title=f"{result.scenario}, {result.strategy}: 90th percentile minutes "
        "from order to rider, by arrival time", fmt=mmss)
    second = svg_charts.line_chart(
        labels, queue, title=f"{result.scenario}, {result.strategy}: most orders waiting "
        "for a picker", fmt=str)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="720" height="600" '
             'viewBox="0 0 720 600" font-family="sans-serif">',
             '<rect width="720" height="600" fill="#ffffff"/>',
             '<text x="8" y="20" font-size="15">p90 minutes from order to rider, by the '
             'time it arrived (10-minute steps)</text>',
             str(first).replace('<svg class="chart"',
                                '<svg x="0" y="30" width="720" height="260" class="chart"', 1),
             '<text x="8" y="320" font-size="15">Most orders waiting for a picker</text>',
             str(second).replace('<svg class="chart"',
                                 '<svg x="0" y="330" width="720" height="260" class="chart"', 1),
             "</svg>"]
    return "\n".join(parts)
