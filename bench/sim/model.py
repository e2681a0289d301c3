"""The simulated store: parameters, floor plan, catalogue on the shelves, and orders.

Everything here is deterministic for a ``random.Random``: the floor plan and the shelf
placement come from the real files (store_config/demo_bins.csv and demo_catalog.csv,
placed the way ``kirana demo`` places them), the orders from the seeded generator.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.picking.planner import BinStock

ROOT = Path(__file__).resolve().parents[2]
BINS_CSV = ROOT / "store_config" / "demo_bins.csv"
CATALOG_CSV = ROOT / "store_config" / "demo_catalog.csv"

# The demo puts these categories in these zones, everything else in AMBIENT (app/demo.py).
ZONE_FOR_CATEGORY = {"Dairy & Eggs": "CHILLED", "Frozen": "FROZEN",
                     "Fruits & Vegetables": "PRODUCE"}


@dataclass(frozen=True)
class Params:
    """Every figure the model uses; the defaults are the demo dark store."""

    # floor plan
    aisle_length_m: float = 10.0    # front cross-aisle to back cross-aisle (at least the longest aisle)
    bay_m: float = 1.25             # one bay of shelving along an aisle (8 bays: 10 m)
    aisle_spacing_m: float = 2.5    # centre to centre
    bench_to_first_aisle_m: float = 4.0
    walk_speed_mps: float = 1.0
    # picking
    pick_mean_s: float = 8.0        # scan, take, bag: one stop's first unit
    pick_shape: float = 4.0         # gamma shape of the pick time (cv = 1/sqrt(shape))
    extra_unit_s: float = 2.0       # each further piece of the same line
    weigh_s: float = 10.0           # a weighed line (kg/litre) is weighed and labelled
    batch_setup_s: float = 15.0     # take the batch on the phone, bags onto the trolley
    # packing
    pack_order_s: float = 20.0
    pack_item_s: float = 3.0
    merge_part_s: float = 15.0      # zone picking: fetch each further part of an order
    # riders
    riders: int = 40
    ride_out_mean_s: float = 240.0  # one way (10 min door to door - 5 in the store - the handover)
    handover_s: float = 15.0
    # people and the batch limits of the phone
    pickers: int = 4
    packers: int = 2
    max_orders: int = 4
    max_items: int = 40
    max_lines: int = 8              # planner.BatchLimits: lines a batch fills up to
    split_lines: int = 6            # planner.BatchLimits: bigger orders go out in parts (0: never)
    busy_orders: int = 0            # planner.BatchLimits: more waiting: no split, no line cap
    # orders
    accept_s: float = 5.0           # received -> accepted (automatic acceptance)
    promise_s: float = 600.0        # promised_by = arrival + this
    poll_s: float = 5.0             # an idle picker looks again this often
    cancel_rate: float = 0.0        # share of orders the customer cancels soon after
    weighed_share: float = 0.12     # share of lines that are loose / weighed items
    lines_shape: float = 3.0        # gamma(lines_shape, lines_scale) + 0.5, rounded
    lines_scale: float = 1.8        # -> median 5-6 lines

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.walk_speed_mps <= 0 or self.pick_shape <= 0 or self.lines_shape <= 0 \
                or self.bay_m <= 0 or self.max_lines < 1:
            raise ValueError("walk speed, bay width, pick shape, lines shape and max lines "
                             "must be above 0")
        if self.pickers < 1 or self.packers < 1 or self.riders < 1 or self.max_orders < 1:
            raise ValueError("at least one picker, packer, rider and order per batch")
        if max(self.pickers, self.packers, self.max_orders) > 500 or self.riders > 10_000:
            raise ValueError("at most 500 pickers, packers or orders a batch, 10,000 riders")
        if self.cancel_rate > 1 or self.weighed_share > 1:
            raise ValueError("shares are between 0 and 1")


@dataclass(frozen=True)
class Place:
    code: str
    zone: str
    aisle: str
    bay: int
    pick_seq: int


class FloorPlan:
    """Aisles side by side in pick-path order, cross-aisles front and back, the packing
    bench in front of the first aisle. Shelf levels of one bay are one stop."""

    def __init__(self, places: Sequence[Place], params: Params) -> None:
        if not places:
            raise ValueError("the floor plan has no bins")
        self.params = params
        self.places = {p.code: p for p in places}
        order: list[str] = []
        for p in sorted(places, key=lambda p: p.pick_seq):
            if p.aisle not in order:
                order.append(p.aisle)
        self.aisle_index = {a: i for i, a in enumerate(order)}
        # Every bay is bay_m wide, so an aisle of 3 bays is shorter than one of 8 (the
        # first version stretched every aisle to aisle_length_m: the 3 freezer bays were
        # 3.3 m each). The back cross-aisle runs behind the longest aisle.
        deepest = max(p.bay for p in places) * params.bay_m
        self.length_m = max(params.aisle_length_m, deepest)

    def xy(self, code: str) -> tuple[float, float]:
        p = self.places[code]
        x = self.params.bench_to_first_aisle_m + self.aisle_index[p.aisle] * \
            self.params.aisle_spacing_m
        return x, (p.bay - 0.5) * self.params.bay_m

    def _between(self, a: tuple[float, float], b: tuple[float, float], same: bool) -> float:
        if same:
            return abs(a[1] - b[1])
        length = self.length_m
        return abs(a[0] - b[0]) + min(a[1] + b[1], 2 * length - a[1] - b[1])

    def leg_m(self, a: str | None, b: str | None) -> float:
        """Metres between two bins (None: the packing bench)."""
        if a == b:
            return 0.0
        here = self.xy(a) if a else (0.0, 0.0)
        there = self.xy(b) if b else (0.0, 0.0)
        same = a is not None and b is not None and \
            self.places[a].aisle == self.places[b].aisle
        return self._between(here, there, same)

    def route_m(self, codes: Iterable[str]) -> float:
        """Metres from the bench through the bins in this order and back to the bench."""
        here: str | None = None
        total = 0.0
        for code in codes:
            total += self.leg_m(here, code)
            here = code
        return total + self.leg_m(here, None)

    def route_cost(self, bins: Iterable[BinStock]) -> float:
        """Metres of the pick path through these bins (for the savings strategy)."""
        ordered = sorted({b.bin_code: b for b in bins}.values(), key=lambda b: b.pick_seq)
        return self.route_m(b.bin_code for b in ordered if b.bin_code in self.places)


def read_places(text: str) -> list[Place]:
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        code = row["code"].strip()
        parts = code.split("-")
        bay = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else 1
        out.append(Place(code, row["zone"].strip(), row["aisle"].strip(), bay,
                         int(row["pick_seq"])))
    return out


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    unit: str  # piece | kg | litre
    bin: BinStock
    weight: float  # popularity


def shelve(catalog_text: str, places: Sequence[Place], rng: random.Random) -> list[Product]:
    """Active products on shelves of their zone, round robin in pick order (as the demo
    does), each with a popularity from a Zipf-like curve over a seeded shuffle."""
    rows = [r for r in csv.DictReader(io.StringIO(catalog_text))
            if r.get("active", "yes").strip().lower() in ("yes", "true", "1")]
    rows.sort(key=lambda r: (r["category"], r["name"]))
    by_zone: dict[str, list[Place]] = {}
    for p in sorted(places, key=lambda p: p.pick_seq):
        if p.zone != "BACKROOM":
            by_zone.setdefault(p.zone, []).append(p)
    cursor: dict[str, int] = {}
    ranks = list(range(1, len(rows) + 1))
    rng.shuffle(ranks)
    out = []
    for row, rank in zip(rows, ranks, strict=True):
        zone = ZONE_FOR_CATEGORY.get(row["category"], "AMBIENT")
        shelf = by_zone.get(zone) or by_zone["AMBIENT"]
        place = shelf[cursor.get(zone, 0) % len(shelf)]
        cursor[zone] = cursor.get(zone, 0) + 1
        unit = row["unit"].strip() if row["unit"].strip() in ("piece", "kg", "litre") else "piece"
        out.append(Product(row["sku"], row["name"], unit,
                           BinStock(place.code, place.zone, place.pick_seq, 10**9),
                           1.0 / rank ** 0.8))
    return out


@dataclass
class Line:
    line_id: str
    product: Product
    quantity: int  # pieces, or grams for a weighed line


@dataclass
class SimOrder:
    order_id: str
    number: str
    arrival: float
    lines: list[Line]
    state: str = "received"
    times: dict[str, float] = field(default_factory=dict)  # state -> first time reached
    parts_left: int = 0  # zone picking: batches still holding some of its lines
    parts: int = 0
    batches_out: int = 0  # batches with some of its lines not yet back at the bench

    @property
    def items(self) -> int:
        return sum(x.quantity if x.product.unit == "piece" else 1 for x in self.lines)


def basket(rng: random.Random, products: Sequence[Product], params: Params,
           order_no: int) -> list[Line]:
    """Lines of one basket: the count from a gamma (median 5-6), products by popularity
    (no product twice), 1-3 pieces, weighed items 250-2000 g."""
    n = max(1, min(30, round(rng.gammavariate(params.lines_shape, params.lines_scale) + 0.5)))
    loose = [p for p in products if p.unit != "piece"]
    packed = [p for p in products if p.unit == "piece"]
    chosen: dict[str, Product] = {}
    tries = 0
    while len(chosen) < n and tries < 20 * n:
        tries += 1
        pool = loose if loose and rng.random() < params.weighed_share else packed
        p = rng.choices(pool, weights=[q.weight for q in pool])[0]
        chosen.setdefault(p.sku, p)
    lines = []
    for k, p in enumerate(chosen.values()):
        qty = rng.choice((250, 500, 500, 1000, 2000)) if p.unit != "piece" else \
            rng.choices((1, 2, 3, 4), weights=(70, 20, 7, 3))[0]
        lines.append(Line(f"O{order_no}-L{k}", p, qty))
    return lines


def load_store(params: Params, seed: int) -> tuple[FloorPlan, list[Product]]:
    places = read_places(BINS_CSV.read_text(encoding="utf-8"))
    products = shelve(CATALOG_CSV.read_text(encoding="utf-8"), places, random.Random(seed))
    return FloorPlan(places, params), products


# Orders per hour relative to the base rate, hour by hour from opening (07:00): a
# morning rise, lunch, an afternoon lull and the evening peak.
DAILY_CURVE = (0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.0, 0.8, 0.7, 0.8, 1.0, 1.3, 1.5, 1.4, 1.0, 0.6)


@dataclass(frozen=True)
class Surge:
    start_h: float
    length_h: float
    factor: float


@dataclass(frozen=True)
class Scenario:
    """The arrival curve: ``base_per_hour`` times the daily curve (when ``daily``) times
    any surge running at that moment, for ``hours`` from opening."""

    name: str
    hours: float
    base_per_hour: float
    surges: tuple[Surge, ...] = ()
    daily: bool = False

    def __post_init__(self) -> None:
        figures = [self.hours, self.base_per_hour,
                   *(x for s in self.surges for x in (s.start_h, s.length_h, s.factor))]
        if not all(isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in figures):
            raise ValueError("scenario figures must be finite numbers >= 0")
        if self.hours > 24 or self.base_per_hour > 10_000:
            raise ValueError("at most 24 hours and 10,000 orders an hour")

    def rate(self, t_s: float) -> float:
        """Orders per second at ``t_s`` seconds after opening."""
        h = t_s / 3600
        r = self.base_per_hour
        if self.daily:
            r *= DAILY_CURVE[min(int(h), len(DAILY_CURVE) - 1)]
        for s in self.surges:
            if s.start_h <= h < s.start_h + s.length_h:
                r *= s.factor
        return r / 3600

    def peak(self) -> float:
        top = max(DAILY_CURVE) if self.daily else 1.0
        for s in self.surges:
            top *= max(1.0, s.factor)
        return self.base_per_hour * top / 3600


def arrival_times(scenario: Scenario, rng: random.Random) -> list[float]:
    """A non-homogeneous Poisson process by thinning (Lewis and Shedler)."""
    peak = scenario.peak()
    out: list[float] = []
    if peak <= 0:
        return out
    t, end = 0.0, scenario.hours * 3600
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return out
        if rng.random() * peak <= scenario.rate(t):
            out.append(t)
