"""python -m bench.sim: the dark-store simulation (issue #20); see docs/simulation.md."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench._common import busy_warning
from bench.sim.calibrate import calibrate
from bench.sim.model import Params, load_store
from bench.sim.report import (
    TABLE_HEAD,
    Summary,
    chart,
    orders_csv,
    stage_table,
    summarise,
    table_row,
)
from bench.sim.runs import (
    PRODUCTION,
    Store,
    planning_ms,
    scenarios,
    sla_target,
    strategy_set,
    surge_window,
    walking_target,
)

PLAN_TARGET_MS = 50.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.sim", description=__doc__)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pickers", type=int, default=Params.pickers)
    ap.add_argument("--packers", type=int, default=Params.packers)
    ap.add_argument("--riders", type=int, default=Params.riders)
    ap.add_argument("--base-rate", type=float, default=60.0, help="orders per hour")
    ap.add_argument("--hours", type=float, default=3.0, help="length of base/surge runs")
    ap.add_argument("--surge-minutes", type=float, default=30.0)
    ap.add_argument("--walk-speed", type=float, default=Params.walk_speed_mps)
    ap.add_argument("--pick-mean", type=float, default=Params.pick_mean_s)
    ap.add_argument("--pack-order", type=float, default=Params.pack_order_s)
    ap.add_argument("--pack-item", type=float, default=Params.pack_item_s)
    ap.add_argument("--max-orders", type=int, default=Params.max_orders,
                    help="orders per batch (the phone's limit)")
    ap.add_argument("--max-lines", type=int, default=Params.max_lines,
                    help="lines a batch fills up to (planner.BatchLimits)")
    ap.add_argument("--split-lines", type=int, default=Params.split_lines,
                    help="orders of more lines go out in parts (0: never)")
    ap.add_argument("--strategies", default="", help="comma list (default: all)")
    ap.add_argument("--quick", action="store_true", help="no full-day run, no staff search")
    ap.add_argument("--calibrate", type=Path, help="the fulfilment report's orders CSV")
    ap.add_argument("--out", type=Path, help="write summary.md, charts and order CSVs here")
    return ap.parse_args(argv)


def _params(args: argparse.Namespace) -> Params:
    return Params(pickers=args.pickers, packers=args.packers, riders=args.riders,
                  walk_speed_mps=args.walk_speed, pick_mean_s=args.pick_mean,
                  pack_order_s=args.pack_order, pack_item_s=args.pack_item,
                  max_orders=args.max_orders, max_lines=args.max_lines,
                  split_lines=args.split_lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        params = _params(args)
        runs = scenarios(args.base_rate, args.hours, args.surge_minutes / 60)
        calibration = args.calibrate.read_text(encoding="utf-8") if args.calibrate else ""
    except (ValueError, OSError) as exc:
        print(f"bad parameter: {exc}", file=sys.stderr)
        return 2
    floor, products = load_store(params, args.seed)
    store = Store(floor, products, params, args.seed)
    out: list[str] = [f"# Dark-store simulation (seed {args.seed})", ""]
    if args.calibrate:
        changes = calibrate(calibration, store, args.base_rate)
        params = replace(params, **changes)
        store = Store(floor, products, params, args.seed)
        out += ["Calibrated from " + args.calibrate.name + ": " + ", ".join(
            f"{k} = {v:.1f}" for k, v in changes.items()), ""]
    names = list(strategy_set(floor, params))
    if args.strategies:
        wanted = [n.strip() for n in args.strategies.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"unknown strategies: {', '.join(unknown)}; known: {', '.join(names)}",
                  file=sys.stderr)
            return 2
        names = wanted
    out += [f"Store: {len(floor.places)} bins, {len(products)} products; "
            f"{params.pickers} pickers, {params.packers} packers, {params.riders} riders; "
            f"walking {params.walk_speed_mps} m/s, pick {params.pick_mean_s} s mean; "
            f"batches of at most {params.max_orders} orders / {params.max_items} items.", ""]

    lines: list[str] = []
    plan = planning_ms(store)
    lines.append("## Planning time, one decision over 50 open orders\n")
    lines.append("| strategy | median ms | p95 ms |\n|---|---:|---:|")
    for name in names:
        med, top = plan[name]
        lines.append(f"| {name} | {med:.2f} | {top:.2f} |")
    slowest = max(names, key=lambda n: plan[n][0])
    med, p95 = plan[slowest]
    plan_line = (f"{'PASS' if med < PLAN_TARGET_MS else 'FAIL'}  planning time for 50 open "
                 f"orders: {slowest}, the slowest, takes {med:.1f} ms a decision (median; p95 "
                 f"{p95:.1f} ms on this machine; need < 50 ms)")
    warning = busy_warning()
    if warning:
        lines.append(f"\n{warning}")

    if args.quick:
        runs.pop("day")
    results = {}
    started = time.perf_counter()
    lines += ["", "## Whole runs", "", TABLE_HEAD]
    summaries = {}
    for key, scenario in runs.items():
        for name in names:
            result = store.run(scenario, name)
            results[key, name] = result
            summaries[key, name] = summarise(result)
            lines.append(table_row(summaries[key, name]))
    lines += ["", "## Orders that arrived during the surge window", "", TABLE_HEAD]
    window = {}
    for key in ("surge3", "surge5"):
        for name in names:
            window[key, name] = summarise(results[key, name], *surge_window(runs[key]))
            lines.append(table_row(window[key, name]))
    lines += ["", "## Mean minutes per stage (whole runs)", "",
              stage_table(list(summaries.values()))]
    best = max(names, key=lambda n: (window["surge3", n].within_sla, -window["surge3", n].p90))
    lines += ["", f"Best strategy at a 3x surge with {params.pickers} pickers: **{best}** "
              f"({window['surge3', best].within_sla * 100:.1f} % of the surge's orders "
              f"within 5 minutes; production ({PRODUCTION}): "
              f"{window['surge3', PRODUCTION].within_sla * 100:.1f} %)."
              if PRODUCTION in names else f"Best strategy at a 3x surge: **{best}**."]

    targets = [plan_line]
    if PRODUCTION in names:
        search = not args.quick
        base = summaries["base", PRODUCTION]
        t1 = sla_target(store, "base rate >= 99 % within 5 min", runs["base"], PRODUCTION,
                        0.99, base) if search else _no_search("base rate", base, 0.99)
        t2 = sla_target(store, "3x surge for 30 min >= 95 % within 5 min", runs["surge3"],
                        PRODUCTION, 0.95, window["surge3", PRODUCTION]) if search else \
            _no_search("3x surge", window["surge3", PRODUCTION], 0.95)
        targets += [t1.line(), t2.line()]
        if "one_at_a_time" in names:
            batching = [summaries["surge3", n] for n in names if n != "one_at_a_time"]
            least = min(batching, key=lambda x: x.metres_per_order)
            single = summaries["surge3", "one_at_a_time"]
            targets.append(walking_target(least, single).line())
            if least.strategy != PRODUCTION:
                targets.append(walking_target(summaries["surge3", PRODUCTION], single).line()
                               + "  (the default: it splits big orders, which walks more)")
    lines += ["", "## Targets", "", "```", *targets, "```",
              "", f"(simulated in {time.perf_counter() - started:.1f} s)"]
    text = "\n".join(out + lines)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.md").write_text(text + "\n", encoding="utf-8")
        for (key, name), result in results.items():
            if name in (PRODUCTION, best):
                (args.out / f"{key}-{name}.svg").write_text(chart(result), encoding="utf-8")
                (args.out / f"{key}-{name}.csv").write_text(orders_csv(result), encoding="utf-8")
        print(f"\nwritten to {args.out}/")
    return 0


def _no_search(name: str, summary: Summary, need: float) -> _Line:
    ok = summary.within_sla >= need
    return _Line(f"{'PASS' if ok else 'FAIL'}  {name}: {summary.within_sla * 100:.1f} % within "
                 f"5 min (need {need * 100:.0f} %; --quick: no staff search)")


class _Line:
    def __init__(self, text: str) -> None:
        self.text = text

    def line(self) -> str:
        return self.text


if __name__ == "__main__":
    sys.exit(main())
