"""Which store should fulfil an online order. Pure: no database, no clock.

Candidates are active, online stores that serve the order's PIN code or lie within
the configured radius of the customer, below their capacity, and able to cover every
line from available-to-promise (ATP = the hub's level - assigned-but-not-picked -
safety stock). Stores already tried for this order are left out. When the rules
allow a split (order value at or above `split_above_minor`), stores that cover only
part of the order stay in, and `split_plan` shares the lines out.

Candidates are ranked by the configured criteria, in order, then by store id, so
the same inputs always give the same answer. A store's live load (issue #24: pickers
signed in, its own open orders, pick rate; only when fresh) sets its capacity and adds
a weighted share to "load" and a last tie-break before the id. Every store not chosen says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from app.core.i18n import N_
from app.core.money import MAX_AMOUNT_MINOR, MAX_QUANTITY
from app.core.words import count_of

CRITERIA = ("distance", "coverage", "load", "priority")
CRITERIA_LABELS = {
    "distance": N_("nearest first"),
    "coverage": N_("most of the order in stock first"),
    "load": N_("least busy first"),
    "priority": N_("highest store priority first"),
}
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


MAX_RADIUS_KM = 100  # km, as in the config: beyond it a store does not deliver


@dataclass(frozen=True)
class Rules:
    criteria: tuple[str, ...] = CRITERIA
    radius_km: float = 8.0
    safety_stock: int = 0
    split_above_minor: int = 0  # 0: never split an order between stores
    orders_per_picker: int = 4
    # The stores' live load (issue #24): capacity from the pickers signed in now, and
    # the weight of a store's own open orders per picker in the ranking (0: unused).
    live_pickers: bool = True
    live_load_weight: float = 0.25

    def __post_init__(self) -> None:
        unknown = [c for c in self.criteria if c not in CRITERIA]
        if unknown or len(set(self.criteria)) != len(self.criteria) or not self.criteria:
            raise ValueError(f"criteria must be some of {', '.join(CRITERIA)}, each once")
        if self.radius_km < 0 or self.safety_stock < 0 or self.split_above_minor < 0:
            raise ValueError("radius, safety stock and split value cannot be negative")
        if not math.isfinite(self.radius_km) or self.radius_km > MAX_RADIUS_KM:
            raise ValueError(f"radius must be a number of km from 0 to {MAX_RADIUS_KM}")
        # Bounded like one order line's quantity and one order's value (money.py):
        # anything larger is a typo.
        if self.safety_stock > MAX_QUANTITY or self.split_above_minor > MAX_AMOUNT_MINOR:
            raise ValueError("safety stock or split value is too large; check it")
        if not 1 <= self.orders_per_picker <= 100:
            raise ValueError("orders per picker must be from 1 to 100")
        if not (math.isfinite(self.live_load_weight) and 0 <= self.live_load_weight <= 10):
            raise ValueError("the live load's weight must be from 0 to 10")


class Live(NamedTuple):
    """A store's live load as it reported it (sync protocol 3, fresh: older ones are
    not read): pickers signed in, its open online orders, lines picked per hour."""

    pickers: int
    open_orders: int
    picks_per_hour: int

    def describe(self) -> str:
        return (f"{count_of(self.pickers, 'picker')} signed in, "
                f"{count_of(self.open_orders, 'open order')}, "
                f"{self.picks_per_hour} picks/h")


@dataclass(frozen=True)
class StoreView:
    id: str
    name: str
    lat: float
    lon: float
    pincodes: frozenset[str]
    priority: int = 0
    active: bool = True
    online: bool = True
    open_orders: int = 0
    pickers: int = 1
    level: Mapping[str, int] = field(default_factory=dict)  # the hub's on hand per SKU
    assigned: Mapping[str, int] = field(default_factory=dict)  # assigned, not yet picked
    live: Live | None = None  # its live load, when fresh (issue #24)

    def pickers_now(self, rules: Rules) -> int:
        """The pickers capacity counts: those signed in now when the store reported them
        (at least one, as the registered figure), else the registered figure."""
        if rules.live_pickers and self.live is not None:
            return max(1, self.live.pickers)
        return self.pickers

    def capacity(self, rules: Rules) -> int:
        return self.pickers_now(rules) * rules.orders_per_picker

    def live_busy(self, rules: Rules) -> float:
        """The store's own open orders per capacity, weighted (0 without a live load):
        added to the "load" criterion and the last tie-break before the store's id."""
        if self.live is None or not rules.live_load_weight:
            return 0.0
        return rules.live_load_weight * min(10.0, self.live.open_orders
                                            / self.capacity(rules))

    def atp(self, sku: str, rules: Rules, level: Mapping[str, int] | None = None) -> int:
        """Available-to-promise of `sku` (from `level` instead of the store's when given)."""
        return available_to_promise((self.level if level is None else level).get(sku, 0),
                                    self.assigned.get(sku, 0), rules.safety_stock)


def available_to_promise(on_hand: int, promised: int, safety_stock: int) -> int:
    """The one ATP rule: what the hub may still promise from a store's stock."""
    return max(0, on_hand - promised - safety_stock)


@dataclass(frozen=True)
class OrderView:
    pincode: str
    lat: float | None
    lon: float | None
    lines: tuple[tuple[str, int], ...]  # (sku, quantity)
    value_minor: int = 0


class Candidate(NamedTuple):  # tuples: a decision makes hundreds of these
    store_id: str
    store_name: str
    distance_km: float | None
    coverage: float  # share of the ordered units this store can promise, 0..1
    load: float  # open orders / capacity
    priority: int
    covers_all: bool
    in_pincode: bool
    live: Live | None = None  # the live load the decision used (issue #24)
    live_busy: float = 0.0  # StoreView.live_busy

    def key(self, criteria: tuple[str, ...]) -> tuple:
        parts: list = []
        for criterion in criteria:
            if criterion == "distance":
                parts.append(self.distance_km if self.distance_km is not None else math.inf)
            elif criterion == "coverage":
                parts.append(-self.coverage)
            elif criterion == "load":
                parts.append(self.load + self.live_busy)
            elif criterion == "priority":
                parts.append(-self.priority)
        return (*parts, self.live_busy, self.store_id)

    def describe(self) -> str:
        where = (f"{self.distance_km:.1f} km away" if self.distance_km is not None
                 else "distance unknown")
        return (f"{self.store_id} {self.store_name}: {where}"
                f"{', serves this PIN code' if self.in_pincode else ''}, "
                f"{round(self.coverage * 100)}% of the items in stock, "
                f"{round(self.load * 100)}% busy, priority {self.priority}"
                + (f", {self.live.describe()}" if self.live is not None else ""))


class Skipped(NamedTuple):
    """A store not chosen, and why: a code and its facts (the words are made only when
    someone reads them; most stores of a big chain are simply out of the area)."""

    store_id: str
    why: str  # tried | inactive | offline | area | full | short | partial
    facts: tuple = ()

    @property
    def reason(self) -> str:
        f = self.facts
        if self.why == "area":
            pincode, distance, radius = f
            if callable(distance):  # measured only when someone reads it
                distance = distance()
            where = f"is {distance:.1f} km away" if distance is not None else "has no location"
            return f"does not serve PIN {pincode} and {where} (limit {radius:g} km)"
        if self.why == "full":
            live = f"; {f[2].describe()}" if len(f) > 2 and f[2] is not None else ""
            return f"is full ({count_of(f[0], 'open order')}, capacity {f[1]}{live})"
        if self.why == "short":
            sku, qty, have, more = f
            return (f"is short of {sku} (needs {qty}, can promise {have})"
                    + (f" and {more} more" if more else ""))
        return {"tried": "was tried already for this order", "inactive": "is not active",
                "offline": "is offline",
                "partial": "has only part of the order; another store has it all"}[self.why]


@dataclass(frozen=True)
class Decision:
    ranked: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    split: bool  # True: no single store covers the order, the rules allow a split

    @property
    def chosen(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    def reason_none(self) -> str:
        if not self.skipped:
            return "no stores are registered"
        return "no store can take it: " + describe_skipped(self.skipped)


def describe_skipped(skipped: tuple[Skipped, ...] | list[Skipped], list_out_of_area: int = 3
                     ) -> str:
    """The stores not chosen, in words; stores out of the area are only counted when
    there are many of them."""
    away = [s for s in skipped if s.why == "area"]
    near = [s for s in skipped if s.why != "area"]
    parts = [f"{s.store_id} {s.reason}" for s in near]
    if len(away) <= list_out_of_area:
        parts += [f"{s.store_id} {s.reason}" for s in away]
    else:
        parts.append(f"{len(away)} more stores do not serve PIN {away[0].facts[0]} and are "
                     f"further than {away[0].facts[2]:g} km")
    return "; ".join(parts)


def in_area(order: OrderView, lat: float, lon: float, pincodes: frozenset[str] | set[str],
            rules: Rules) -> tuple[bool, float | None]:
    """Does a store serve the customer (PIN code, or within the radius)? And how far."""
    distance = (haversine_km(order.lat, order.lon, lat, lon)
                if order.lat is not None and order.lon is not None else None)
    return (order.pincode in pincodes
            or (distance is not None and distance <= rules.radius_km)), distance


class _Distance(NamedTuple):
    """A distance worked out only if a person reads it (far stores are just counted)."""

    lat1: float
    lon1: float
    lat2: float
    lon2: float

    def __call__(self) -> float:
        return haversine_km(self.lat1, self.lon1, self.lat2, self.lon2)


class _Area:
    """The customer's service area for one decision: a bounding box first (cheap), the
    great-circle distance only for stores inside it. A chain's far stores cost a
    comparison each; this is what keeps 1,000 stores within a few milliseconds."""

    def __init__(self, order: OrderView, rules: Rules) -> None:
        self.order, self.radius = order, rules.radius_km
        self.point = (order.lat, order.lon) if order.lat is not None and order.lon is not None \
            else None
        if self.point is not None:
            self.lat_span = self.radius / 110.5 + 1e-9  # km per degree of latitude >= 110.5
            cos = max(0.01, math.cos(math.radians(min(89.0, abs(self.point[0]) + self.lat_span))))
            self.lon_span = self.radius / (111.4 * cos) + 1e-9

    def check(self, store: StoreView) -> tuple[bool, float | None, bool]:
        """(serves the customer, distance if it was worth measuring, in its PIN codes)."""
        order = self.order
        in_pincode = order.pincode in store.pincodes
        if self.point is None:
            return in_pincode, None, in_pincode
        lat, lon = self.point
        if (not in_pincode and (abs(store.lat - lat) > self.lat_span
                                or abs(store.lon - lon) > self.lon_span)):
            return False, None, False
        distance = haversine_km(lat, lon, store.lat, store.lon)
        return in_pincode or distance <= self.radius, distance, in_pincode


def stores_in_area(order: OrderView, stores: Sequence[StoreView], rules: Rules) -> list[str]:
    """The active stores that serve the customer, by the same test `allocate` makes, in
    id order: the only stores whose stock, load and link a decision needs to know."""
    area = _Area(order, rules)
    return sorted(store.id for store in stores if store.active and area.check(store)[0])


def allocate(order: OrderView, stores: Sequence[StoreView], rules: Rules,
             exclude: frozenset[str] = frozenset()) -> Decision:
    wanted = sum(q for _sku, q in order.lines) or 1
    split_allowed = rules.split_above_minor > 0 and order.value_minor >= rules.split_above_minor
    area = _Area(order, rules)
    ranked: list[Candidate] = []
    skipped: list[Skipped] = []
    for store in sorted(stores, key=lambda s: s.id):
        if store.id in exclude:
            skipped.append(Skipped(store.id, "tried"))
            continue
        if not store.active:
            skipped.append(Skipped(store.id, "inactive"))
            continue
        serves, distance, in_pincode = area.check(store)
        if not serves:
            far = (distance if distance is not None or area.point is None else
                   _Distance(*area.point, store.lat, store.lon))
            skipped.append(Skipped(store.id, "area", (order.pincode, far, rules.radius_km)))
            continue
        if not store.online:  # (after the area: only stores in it need their link read)
            skipped.append(Skipped(store.id, "offline"))
            continue
        capacity = store.capacity(rules)
        if store.open_orders >= capacity:
            skipped.append(Skipped(store.id, "full", (store.open_orders, capacity,
                                                      store.live)))
            continue
        atps = [store.atp(sku, rules) for sku, _qty in order.lines]
        short = [(sku, qty, have) for (sku, qty), have in zip(order.lines, atps, strict=True)
                 if have < qty]
        promised = sum(min(qty, have) for (_sku, qty), have in zip(order.lines, atps,
                                                                    strict=True))
        if short and not (split_allowed and promised > 0):
            sku, qty, have = short[0]
            skipped.append(Skipped(store.id, "short", (sku, qty, have, len(short) - 1)))
            continue
        ranked.append(Candidate(store.id, store.name, distance, promised / wanted,
                                store.open_orders / capacity, store.priority, not short,
                                in_pincode, store.live, store.live_busy(rules)))
    whole = [c for c in ranked if c.covers_all]
    if whole:  # a store that covers everything always beats a split
        skipped += [Skipped(c.store_id, "partial") for c in ranked if not c.covers_all]
        ranked = whole
    ranked.sort(key=lambda c: c.key(rules.criteria))
    return Decision(tuple(ranked), tuple(skipped), split=bool(ranked) and not whole)


def split_plan(order: OrderView, decision: Decision, stores: Mapping[str, StoreView],
               rules: Rules) -> dict[str, list[tuple[str, int]]] | None:
    """Share the lines out over the ranked stores, best first, each line whole at one
    store; None when some line fits nowhere."""
    plan: dict[str, list[tuple[str, int]]] = {}
    left = {c.store_id: dict(stores[c.store_id].level) for c in decision.ranked}
    for sku, qty in order.lines:
        for cand in decision.ranked:
            store = stores[cand.store_id]
            if store.atp(sku, rules, left[cand.store_id]) >= qty:
                left[cand.store_id][sku] = left[cand.store_id].get(sku, 0) - qty
                plan.setdefault(cand.store_id, []).append((sku, qty))
                break
        else:
            return None
    return plan
