"""The promotions engine alone (issue #21): a basket of N lines against M offers.

    .venv/bin/python bench/promotions.py                 # 100 lines x 200 offers, 200 runs
    .venv/bin/python bench/promotions.py --lines 30 --offers 20

Offers are a chain's mix: percent and amount off products and brands, buy X get Y (same
and other products), bundles, slabs, bill offers and a free item; the basket draws its
products from the same catalogue so many lines meet offers. Prints p50/p90/p99 of
`promotions.best` (thread CPU time) and whether the search stayed exact. Target (issue
#21): 100 lines x 200 offers under 20 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core import promotions as pr
from app.core.promotions import Item, Promotion, Target

TARGET_MS = 20.0
CATALOGUE = 2000
BRANDS = 60
CATEGORIES = 25


def offers(rng: random.Random, count: int) -> list[Promotion]:
    made: list[Promotion] = []
    for n in range(count):
        pick = n % 8
        sku = Target(skus=frozenset({f"S{rng.randrange(CATALOGUE)}"}))
        brand = Target(brands=frozenset({f"B{rng.randrange(BRANDS)}"}))
        kw: dict = dict(id=f"P{n:04d}", name=f"offer {n}", priority=rng.randrange(3))
        if pick == 0:
            kw.update(kind="percent_off", target=brand, percent_bp=rng.choice([500, 1000, 1500]))
        elif pick == 1:
            kw.update(kind="amount_off", target=sku, amount=rng.choice([200, 500, 1000]))
        elif pick == 2:
            kw.update(kind="buy_x_get_y", target=brand, buy=rng.choice([1, 2]), get=1,
                      percent_bp=10_000)
        elif pick == 3:
            other = Target(skus=frozenset({f"S{rng.randrange(CATALOGUE)}"}))
            if other.overlaps(sku):
                continue
            kw.update(kind="buy_x_get_y", target=sku, get_target=other, buy=2, get=1,
                      percent_bp=10_000)
        elif pick == 4:
            kw.update(kind="bundle_price", target=sku, size=2, bundle_price=rng.randrange(2000, 20000))
        elif pick == 5:
            kw.update(kind="qty_slab", target=Target(categories=frozenset({f"C{rng.randrange(CATEGORIES)}"})),
                      size=3, amount=500)
        elif pick == 6:
            kw.update(kind="bill_amount_off", amount=5000 * (1 + n % 3), min_bill=50000 * (1 + n % 3))
        else:
            kw.update(kind="bill_free_item", free_sku=f"S{rng.randrange(CATALOGUE)}", min_bill=99900)
        made.append(Promotion(**kw).check())
    return made


def basket(rng: random.Random, lines: int) -> list[Item]:
    items = []
    for n in range(lines):
        s = rng.randrange(CATALOGUE)
        price, qty = rng.randrange(1000, 60000), rng.choice([1, 1, 1, 2, 2, 3, 4])
        items.append(Item(f"L{n}", f"S{s}", price, qty, price * qty, brand=f"B{s % BRANDS}",
                          category=f"C{s % CATEGORIES}"))
    return items


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=100)
    p.add_argument("--offers", type=int, default=200)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--seed", type=int, default=21)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    promos = offers(rng, args.offers)
    at = datetime(2026, 12, 1, 18, 0)
    times, exact, applied = [], 0, 0
    for _ in range(args.runs):
        items = basket(rng, args.lines)
        started = time.thread_time()
        result = pr.best(items, promos, at)
        times.append((time.thread_time() - started) * 1000)
        exact += result.exact
        applied += len(result.applied)
    times.sort()
    q = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
    print(f"promotions.best: {args.lines} lines x {len(promos)} offers, {args.runs} baskets")
    print(f"  CPU ms p50 {q[49]:.2f}  p90 {q[89]:.2f}  p99 {q[98]:.2f}  max {times[-1]:.2f}")
    print(f"  searched exactly: {exact} of {args.runs}; offers applied per basket "
          f"{applied / args.runs:.1f}")
    verdict = "MET" if q[98] <= TARGET_MS else "MISSED"
    print(f"engine p99 {q[98]:.2f} ms (target <= {TARGET_MS:.0f} ms for 100 lines x 200 "
          f"offers: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
