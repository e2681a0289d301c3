"""Promotions: which offers apply to a basket, and how much each takes off. Pure.

One engine for the till, the receipt, refunds, the hub's preview and the reports
(issue #21), so they agree to the paisa. It is given the basket's items, the
promotions that exist, the store's local time and the coupon codes the customer
showed, and returns the combination that saves the customer the most, with every
discount put on the lines it belongs to and a sentence saying why.

The rules (docs/promotions.md says them for managers):

- Kinds. On items: ``percent_off`` and ``amount_off`` (per piece, or per kg / litre
  of a weighed item), ``buy_x_get_y`` (buy X get Y free or at a percent off, the
  cheapest Y of each group; Y may be other products), ``bundle_price`` ("3 for
  ₹99") and ``qty_slab`` ("₹5 off each from 3", or a percent from N). On the bill:
  ``bill_amount_off`` ("₹50 off on ₹500 or more"), ``bill_percent_off`` (with an
  optional cap) and ``bill_free_item`` (one piece of a product free above a value).
- Targets: products (SKUs), brands or categories; an item matches when any of them
  names it.
- A piece takes part in at most one item offer. A bill offer's minimum is judged on
  the bill before any offer (an item offer never costs the customer a bill offer);
  a percent off the bill is of what is left after the item offers. At most one bill
  discount (amount or percent, the best) applies, plus each free-item offer whose
  minimum is met without the free piece itself.
- A line with a discount typed by the cashier takes no offer (the two are not
  added up; the cashier's discount was the decision).
- Stacking: an ``exclusive`` offer applies alone or not at all; ``stackable``
  offers combine under the rules above. The engine compares every exclusive offer
  alone with the best combination of the stackable ones and keeps what saves the
  most. Ties go to the higher ``priority``, then to the smaller promotion id:
  the same basket always gives the same answer.
- Never more off than a line's price; a promotion never raises a price.

How the best combination is found: offers whose value is a sum over pieces
(percent, amount and slab are not: a slab needs N pieces) only ever compete by the
piece, so each line's remaining pieces go to its best such offer. The other offers
(buy X get Y, bundles, slabs, free items) are searched exactly: every way of giving
each line's pieces to them, valued with the bill offers at each leaf. The search is
exact while it stays under ``SEARCH_BUDGET`` (leaves times pieces: a few ms; small
and normal baskets: a property test compares it with brute force over every
piece's choice); beyond that it falls back to a greedy pass in priority order and
says so (``Result.exact``). Refunds of part of a promoted bill stay fair because
each offer's discount is spread over the lines whose pieces made it (a "buy 2 get 1"
spreads the free piece's price over the three, so returning one of them returns what
was paid for it).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from app.core.i18n import N_, _, ngettext
from app.core.money import format_amount, round_half_up, spread

Kind = Literal["percent_off", "amount_off", "buy_x_get_y", "bundle_price", "qty_slab",
               "bill_amount_off", "bill_percent_off", "bill_free_item"]
ITEM_KINDS: frozenset[str] = frozenset({"percent_off", "amount_off", "buy_x_get_y",
                                        "bundle_price", "qty_slab"})
BILL_DISCOUNT_KINDS: frozenset[str] = frozenset({"bill_amount_off", "bill_percent_off"})
KINDS: frozenset[str] = ITEM_KINDS | BILL_DISCOUNT_KINDS | {"bill_free_item"}
# Offers whose value is a plain sum over the pieces they take.
_PER_PIECE = frozenset({"percent_off", "amount_off"})
FULL_BP = 10_000
SEARCH_BUDGET = 1_000  # leaves x pieces the exact search may visit before going greedy
MAX_GROUP = 100  # buy/get/bundle/slab sizes: a bigger one is a typo
MAX_NAME = 80
MAX_TARGETS = 1_000


class PromotionError(ValueError):
    """A promotion that cannot be: said in words a manager can act on."""


def _money(paise: int) -> str:
    return format_amount(paise)


# ---- what a promotion is ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Which items an offer looks at: any of these SKUs, brands or categories."""

    skus: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.skus or self.brands or self.categories)

    def matches(self, item: Item) -> bool:
        return (item.sku in self.skus or (bool(item.brand) and item.brand in self.brands)
                or (bool(item.category) and item.category in self.categories))

    def overlaps(self, other: Target) -> bool:
        return bool(self.skus & other.skus or self.brands & other.brands
                    or self.categories & other.categories)

    def size(self) -> int:
        return len(self.skus) + len(self.brands) + len(self.categories)


@dataclass(frozen=True, slots=True)
class Window:
    """When an offer runs, in the store's local time: dates (both ends included),
    days of the week (0 Monday ... 6 Sunday; none = every day) and a time of day
    (minutes after midnight, ``until`` not included; ``until`` before ``since``
    runs across midnight, as a late-night happy hour does)."""

    starts: date | None = None
    ends: date | None = None
    days: frozenset[int] = frozenset()
    since_minute: int | None = None
    until_minute: int | None = None

    def check(self) -> None:
        if self.starts and self.ends and self.ends < self.starts:
            raise PromotionError(_("the offer ends (%(ends)s) before it starts (%(starts)s)")
                                 % {"ends": self.ends, "starts": self.starts})
        if any(d not in range(7) for d in self.days):
            raise PromotionError(_("days of the week are 0 (Monday) to 6 (Sunday)"))
        if (self.since_minute is None) != (self.until_minute is None):
            raise PromotionError(_("give both the start and the end of the hours, or neither"))
        for minute in (self.since_minute, self.until_minute):
            if minute is not None and minute not in range(24 * 60 + 1):
                raise PromotionError(_("hours are between 00:00 and 24:00"))
        if self.since_minute is not None and self.since_minute == self.until_minute:
            raise PromotionError(_("the hours start and end at the same time"))

    def active(self, at: datetime) -> bool:
        day = at.date()
        if (self.starts and day < self.starts) or (self.ends and day > self.ends):
            return False
        if self.days and at.weekday() not in self.days:
            return False
        if self.since_minute is None or self.until_minute is None:
            return True
        minute = at.hour * 60 + at.minute
        if self.since_minute < self.until_minute:
            return self.since_minute <= minute < self.until_minute
        return minute >= self.since_minute or minute < self.until_minute


@dataclass(frozen=True, slots=True)
class Promotion:
    id: str
    name: str
    kind: Kind
    target: Target = field(default_factory=Target)
    percent_bp: int = 0  # percent_off, qty_slab (percent), bill_percent_off, buy_x_get_y
    amount: int = 0  # amount_off / qty_slab per piece or per kg; bill_amount_off
    buy: int = 0  # buy_x_get_y
    get: int = 0  # buy_x_get_y
    get_target: Target | None = None  # buy_x_get_y on other products (disjoint from target)
    size: int = 0  # bundle_price: this many pieces ...
    bundle_price: int = 0  # ... for this much; qty_slab: from `size` pieces
    min_bill: int = 0  # bill offers: the bill must reach this (after item offers)
    cap: int | None = None  # bill_percent_off: at most this much off
    free_sku: str = ""  # bill_free_item
    window: Window = field(default_factory=Window)
    exclusive: bool = False
    priority: int = 0
    coupon: str | None = None  # applies only when this code was shown

    def check(self) -> Promotion:
        """The promotion, or a PromotionError naming what to fix."""
        if not self.id or len(self.id) > 64:
            raise PromotionError(_("a promotion needs an id of at most 64 characters"))
        if not self.name.strip() or len(self.name) > MAX_NAME:
            raise PromotionError(_("give the offer a name of at most %(most)s characters")
                                 % {"most": MAX_NAME})
        if self.kind not in KINDS:
            raise PromotionError(_("%(kind)r is not a kind of offer") % {"kind": self.kind})
        self.window.check()
        for what, value in ((N_("percent"), self.percent_bp), (N_("amount"), self.amount),
                            (N_("bundle price"), self.bundle_price),
                            (N_("minimum bill"), self.min_bill)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise PromotionError(_("the %(what)s cannot be negative") % {"what": _(what)})
        if self.percent_bp > FULL_BP:
            raise PromotionError(_("a percent off cannot be more than 100 %"))
        if self.cap is not None and self.cap <= 0:
            raise PromotionError(_("a cap must be more than zero (or none)"))
        if self.target.size() + (self.get_target.size() if self.get_target else 0) > MAX_TARGETS:
            raise PromotionError(_("an offer names at most %(most)s products, brands and "
                                   "categories") % {"most": MAX_TARGETS})
        kind = self.kind
        if kind in ITEM_KINDS and self.target.empty:
            raise PromotionError(_("say which products, brands or categories the offer is on"))
        if kind == "percent_off" and not self.percent_bp > 0:
            raise PromotionError(_("a percent off needs a percent more than zero"))
        if kind == "amount_off" and not self.amount > 0:
            raise PromotionError(_("an amount off needs an amount more than zero"))
        if kind == "buy_x_get_y":
            if not (0 < self.buy <= MAX_GROUP and 0 < self.get <= MAX_GROUP):
                raise PromotionError(_("buy and get are whole numbers from 1 to %(most)s")
                                     % {"most": MAX_GROUP})
            if self.percent_bp == 0:
                raise PromotionError(_("say how much off the free pieces are (100 % for free)"))
            if self.get_target is not None and (self.get_target.empty
                                                or self.get_target.overlaps(self.target)):
                raise PromotionError(_("the pieces to get must be other products than the "
                                       "pieces to buy (or leave them out for the same ones)"))
        if kind == "bundle_price":
            if not 1 < self.size <= MAX_GROUP:
                raise PromotionError(_("a bundle is 2 to %(most)s pieces") % {"most": MAX_GROUP})
            if self.bundle_price <= 0:
                raise PromotionError(_("a bundle needs a price more than zero"))
        if kind == "qty_slab":
            if not 1 < self.size <= MAX_GROUP:
                raise PromotionError(_("a slab starts from 2 to %(most)s pieces") % {"most": MAX_GROUP})
            if (self.amount > 0) == (self.percent_bp > 0):
                raise PromotionError(_("a slab takes either an amount or a percent off each piece"))
        if kind == "bill_amount_off" and (self.amount <= 0 or self.min_bill < self.amount):
            raise PromotionError(_("a bill offer needs an amount more than zero and a minimum "
                                   "bill at least that amount"))
        if kind == "bill_percent_off" and self.percent_bp <= 0:
            raise PromotionError(_("a bill offer needs a percent more than zero"))
        if kind == "bill_free_item" and (not self.free_sku or self.min_bill <= 0):
            raise PromotionError(_("a free-item offer needs the product and the bill it needs"))
        return self


# ---- the basket ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """A cart line as the offers see it. ``unit_price`` is per piece, or per kg /
    litre when ``measured`` (then ``quantity`` is grams or ml and ``gross`` is the
    line's price as the till worked it out)."""

    key: str
    sku: str
    unit_price: int
    quantity: int
    gross: int
    measured: bool = False
    brand: str = ""
    category: str = ""
    manual_discount: bool = False  # the cashier discounted this line: no offer


@dataclass(frozen=True, slots=True)
class Applied:
    promotion_id: str
    name: str
    discount: int
    lines: tuple[tuple[str, int], ...]  # (line key, paise) on each line it took off
    why: str


@dataclass(frozen=True)
class Result:
    applied: tuple[Applied, ...]
    line_discounts: Mapping[str, int]  # every line key -> paise off by offers
    total: int
    exact: bool  # False: the basket was too big to search and the greedy pass chose
    hints: tuple[str, ...] = ()  # "₹70.00 more for ₹50 off" and the like

    def on_line(self, key: str) -> tuple[Applied, ...]:
        return tuple(a for a in self.applied if any(k == key for k, _ in a.lines))


NOTHING = Result((), {}, 0, True)


# ---- value of an offer on the pieces it was given ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Piece:
    line: int  # index into the basket
    price: int  # this piece's price (a weighed line is one piece: its gross)
    role: str = "buy"  # buy_x_get_y: "buy" or "get"


def _per_piece_value(promo: Promotion, item: Item) -> int:
    """What a per-piece offer takes off one piece (a weighed line: the whole line)."""
    price = item.gross if item.measured else item.unit_price
    if promo.kind == "percent_off":
        return round_half_up(price * promo.percent_bp, FULL_BP)
    # amount_off: per piece, or per kg / litre of a weighed line
    off = round_half_up(promo.amount * item.quantity, 1000) if item.measured else promo.amount
    return min(off, price)


@dataclass(frozen=True, slots=True)
class _Use:
    value: int
    shares: tuple[tuple[int, int], ...]  # (line index, paise)
    pieces: int  # pieces it used
    groups: int  # times it applied


def _spread_over(pieces: Sequence[_Piece], amount: int, shares: dict[int, int]) -> None:
    """Put `amount` on the lines of `pieces` in proportion to their prices."""
    for piece, share in zip(pieces, spread(amount, [p.price for p in pieces]), strict=True):
        if share:
            shares[piece.line] = shares.get(piece.line, 0) + share


def _use(promo: Promotion, pieces: Sequence[_Piece], where: bool = True) -> _Use:
    """The most `promo` takes off these pieces, and (`where`) on which lines. Each piece
    list is given most expensive first (ties by line), the best order for every kind."""
    shares: dict[int, int] = {}
    if not pieces:
        return _Use(0, (), 0, 0)
    kind = promo.kind
    value = groups = used = 0
    if kind == "buy_x_get_y":
        if promo.get_target is None:
            size = promo.buy + promo.get
            for start in range(0, len(pieces) - size + 1, size):
                group = pieces[start:start + size]
                free_value = sum(p.price for p in group[-promo.get:])
                off = round_half_up(free_value * promo.percent_bp, FULL_BP)
                if where:
                    _spread_over(group, off, shares)
                value += off
                groups += 1
                used += size
        else:
            buys = [p for p in pieces if p.role == "buy"]
            gets = [p for p in pieces if p.role == "get"]
            groups = min(len(buys) // promo.buy, len(gets) // promo.get)
            if groups:
                # The customer gets the dearest pieces free; the cheapest pieces bought
                # qualify, the dearer ones stay free for another offer.
                free_pieces = gets[:groups * promo.get]
                bought = buys[len(buys) - groups * promo.buy:]
                off = round_half_up(sum(p.price for p in free_pieces) * promo.percent_bp,
                                    FULL_BP)
                if where:
                    _spread_over(bought + free_pieces, off, shares)
                value, used = off, len(free_pieces) + len(bought)
    elif kind == "bundle_price":
        for start in range(0, len(pieces) - promo.size + 1, promo.size):
            group = pieces[start:start + promo.size]
            off = max(0, sum(p.price for p in group) - promo.bundle_price)
            if off:
                if where:
                    _spread_over(group, off, shares)
                value += off
                groups += 1
                used += promo.size
    elif kind == "qty_slab" and len(pieces) >= promo.size:
        for p in pieces:
            off = (min(promo.amount, p.price) if promo.amount
                   else round_half_up(p.price * promo.percent_bp, FULL_BP))
            shares[p.line] = shares.get(p.line, 0) + off
            value += off
        groups, used = 1, len(pieces)
    return _Use(value, tuple(sorted(shares.items())), used, groups)


# ---- the search ------------------------------------------------------------------------


@dataclass
class _Plan:
    """One way to give the pieces to the offers, valued."""

    value: int
    item_uses: dict[str, _Use]
    per_piece: dict[str, dict[int, int]]  # promo id -> line -> paise
    bill: list[tuple[Promotion, int, dict[int, int]]]
    priority: int
    ids: tuple[str, ...]


class _Index:
    """Offers by the SKUs, brands and categories they name: a basket of 100 lines against
    200 offers looks up each line instead of testing every pair."""

    def __init__(self, promos: Iterable[Promotion]) -> None:
        self.order: dict[str, int] = {}
        self.by: dict[tuple[str, str], list[tuple[Promotion, str]]] = {}
        for n, promo in enumerate(promos):
            self.order[promo.id] = n
            for role, target in (("buy", promo.target), ("get", promo.get_target)):
                if target is None:
                    continue
                for field_name, names in (("sku", target.skus), ("brand", target.brands),
                                          ("category", target.categories)):
                    for name in names:
                        self.by.setdefault((field_name, name), []).append((promo, role))

    def of(self, item: Item) -> list[tuple[Promotion, str]]:
        found: dict[str, tuple[Promotion, str]] = {}
        for key in (("sku", item.sku), ("brand", item.brand), ("category", item.category)):
            if key[1]:
                for promo, role in self.by.get(key, ()):
                    # A target's own match wins over its get-side one (they are disjoint).
                    if promo.id not in found or role == "buy":
                        found[promo.id] = (promo, role)
        return sorted(found.values(), key=lambda pr: self.order[pr[0].id])


class _Search:
    def __init__(self, items: Sequence[Item], promos: Sequence[Promotion]) -> None:
        self.items = items
        # In id order: equally good ways are then met in the same order whatever order
        # the offers came in, and the first one found is kept.
        promos = sorted(promos, key=lambda p: p.id)
        self.promos = {p.id: p for p in promos}
        self.per_piece = [p for p in promos if p.kind in _PER_PIECE]
        self.grouped = [p for p in promos if p.kind in ("buy_x_get_y", "bundle_price",
                                                        "qty_slab")]
        self.bill_discounts = [p for p in promos if p.kind in BILL_DISCOUNT_KINDS]
        self.free_items = [p for p in promos if p.kind == "bill_free_item"]
        self.neg_ids = {p.id: _neg(p.id) for p in promos}
        self.budget = SEARCH_BUDGET
        self.exact = True
        self.gross = sum(item.gross for item in items)
        on_item = _Index(self.per_piece + self.grouped)
        # Per line: its best per-piece offer and what it takes off a piece, and the
        # grouped offers (and free-item offers) that may take its pieces.
        self.best_per_piece: list[tuple[Promotion, int] | None] = []
        self.takers: list[list[tuple[Promotion, str]]] = []
        for item in items:
            best: tuple[Promotion, int] | None = None
            takers: list[tuple[Promotion, str]] = []
            if not item.manual_discount:
                for promo, role in on_item.of(item):
                    if promo.kind in _PER_PIECE:
                        off = _per_piece_value(promo, item)
                        if off > 0 and (best is None or _better(off, promo, best[1], best[0])):
                            best = (promo, off)
                    elif not item.measured:
                        takers.append((promo, role))
                if not item.measured:
                    takers.extend((promo, "free") for promo in self.free_items
                                  if item.sku == promo.free_sku)
            self.best_per_piece.append(best)
            self.takers.append(takers)

    def pieces_of(self, line: int) -> int:
        item = self.items[line]
        return 1 if item.measured else item.quantity

    # Lines meet only through the grouped offers they share: each such component is
    # searched alone (its leaves multiply, the components' only add up). With the bill
    # minimums judged before offers, what the bill offers add never falls when the
    # components save more, so the best of each component is the best of the whole.
    def run(self) -> _Plan:
        given: dict[str, list[_Piece]] = {}
        for component in self._components():
            given.update(self._best_given(component))
        left = {i: self.pieces_of(i) for i in range(len(self.items))}
        for pieces in given.values():
            for piece in pieces:
                left[piece.line] -= 1
        return self._plan(given, left)

    def _components(self) -> list[list[int]]:
        parent: dict[str, str] = {}

        def root(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for takers in self.takers:
            ids = [promo.id for promo, _ in takers]
            for other in ids[1:]:
                parent[root(other)] = root(ids[0])
        components: dict[str, list[int]] = {}
        for line, takers in enumerate(self.takers):
            if takers:
                components.setdefault(root(takers[0][0].id), []).append(line)
        return sorted(components.values())

    def _best_given(self, lines: list[int]) -> dict[str, list[_Piece]]:
        # The search's cost: its leaves times the pieces each leaf sorts and groups,
        # counted before a single split is made (300 pieces over 3 offers would be 4.5
        # million of them).
        cost = sum(self.pieces_of(i) for i in lines)
        for line in lines:
            cost *= self._split_count(line)
            if cost > self.budget:
                self.exact = False
                return self._greedy(lines)
        self.budget -= cost
        choices = [self._splits(i) for i in lines]
        best: tuple[tuple[int, int, tuple[tuple[int, ...], ...]], dict[str, list[_Piece]]] | None
        best = None
        for pick in itertools.product(*choices):
            given: dict[str, list[_Piece]] = {}
            left: dict[int, int] = {}
            for line, counts in zip(lines, pick, strict=True):
                left[line] = self.pieces_of(line)
                price = self.items[line].unit_price
                for (promo, role), n in zip(self.takers[line], counts, strict=True):
                    if n:
                        given.setdefault(promo.id, []).extend([_Piece(line, price, role)] * n)
                        left[line] -= n
            score = self._score(given, left)
            if best is None or score > best[0]:
                best = (score, given)
        assert best is not None
        return best[1]

    def _score(self, given: dict[str, list[_Piece]], left: dict[int, int]
               ) -> tuple[int, int, tuple[tuple[int, ...], ...]]:
        """What a component's leaf saves (its grouped offers, its free pieces, its lines'
        per-piece offers on the rest), then the tie-breaks: priority, smaller ids."""
        value = 0
        used: list[Promotion] = []
        for promo_id, pieces in given.items():
            promo = self.promos[promo_id]
            if promo.kind == "bill_free_item":
                if len(pieces) == 1 and self.gross - pieces[0].price >= promo.min_bill:
                    value += pieces[0].price
                    used.append(promo)
                continue
            pieces.sort(key=lambda p: (-p.price, p.line))
            use = _use(promo, pieces, where=False)
            if use.value > 0:
                value += use.value
                used.append(promo)
            for line, count in _unused(pieces, use, promo).items():
                left[line] += count
        for line, count in left.items():
            best = self.best_per_piece[line]
            if best and count:
                value += best[1] * count
                used.append(best[0])
        ids = tuple(sorted({self.neg_ids[p.id] for p in used}))
        return value, max((p.priority for p in used), default=0), ids

    def _exact_sum(self, line: int) -> int | None:
        """Every grouped kind's value only grows with the pieces it is given (its free
        pieces, its bundles, its slab are order statistics of what it has), so a line
        with no per-piece offer to fall back on gives all its pieces out: only splits of
        that sum. (A free-item offer is not such a kind: it takes one piece of all the
        lines that carry its product, so those lines may keep theirs.)"""
        takers = self.takers[line]
        if self.best_per_piece[line] or any(role == "free" for _, role in takers):
            return None
        return self.pieces_of(line)

    def _split_count(self, line: int) -> int:
        """How many splits ``_splits`` makes, worked out without making them: g grouped
        takers (each up to all the pieces) and f free-item takers (0 or 1 piece each)."""
        takers = self.takers[line]
        q = self.pieces_of(line)
        f = sum(1 for _, role in takers if role == "free")
        g = len(takers) - f
        exact = self._exact_sum(line)
        count = 0
        for j in range(min(f, q) + 1):  # j free-item takers take their one piece
            rest = q - j
            if exact is None:  # g counts summing to at most `rest`
                count += math.comb(f, j) * math.comb(rest + g, g)
            elif g:  # g counts summing to exactly `rest`
                count += math.comb(f, j) * math.comb(rest + g - 1, g - 1)
            else:
                count += math.comb(f, j) if rest == 0 else 0
        return count

    def _splits(self, line: int) -> list[tuple[int, ...]]:
        """Ways to split a line's pieces over its takers: counts per taker, the rest to
        the line's per-piece offer. Free-item offers take at most one piece."""
        takers = self.takers[line]
        pieces = self.pieces_of(line)
        caps = [1 if role == "free" else pieces for _, role in takers]
        exact_sum = self._exact_sum(line)
        out = []
        for counts in itertools.product(*(range(c + 1) for c in caps)):
            total = sum(counts)
            if total <= pieces and (exact_sum is None or total == exact_sum):
                out.append(counts)
        return out

    def _plan(self, given: dict[str, list[_Piece]], left: dict[int, int]) -> _Plan:
        item_uses: dict[str, _Use] = {}
        value = 0
        free_pieces: dict[str, list[_Piece]] = {}
        for promo_id, pieces in given.items():
            promo = self.promos[promo_id]
            if promo.kind == "bill_free_item":
                free_pieces[promo_id] = pieces
                continue
            pieces.sort(key=lambda p: (-p.price, p.line))
            use = _use(promo, pieces)
            item_uses[promo_id] = use
            value += use.value
            # Pieces a grouped offer was given but did not use go back to the line.
            for line, count in _unused(pieces, use, promo).items():
                left[line] += count
        per_piece: dict[str, dict[int, int]] = {}
        for line, count in left.items():
            best = self.best_per_piece[line]
            if best and count:
                promo, off = best
                per_piece.setdefault(promo.id, {})[line] = off * count
                value += off * count
        gross = self.gross
        bill: list[tuple[Promotion, int, dict[int, int]]] = []
        free_total = 0
        for promo_id, pieces in sorted(free_pieces.items()):
            promo = self.promos[promo_id]
            piece = pieces[0]
            if len(pieces) == 1 and gross - piece.price >= promo.min_bill:
                bill.append((promo, piece.price, {piece.line: piece.price}))
                free_total += piece.price
        # What is left to pay after the item offers and the free pieces.
        base = gross - value - free_total
        best_bill: tuple[Promotion, int] | None = None
        for promo in self.bill_discounts:
            if gross < max(promo.min_bill, 1) or base <= 0:
                continue
            off = (promo.amount if promo.kind == "bill_amount_off"
                   else round_half_up(base * promo.percent_bp, FULL_BP))
            if promo.cap is not None:
                off = min(off, promo.cap)
            off = min(off, base)
            if off > 0 and (best_bill is None or _better(off, promo, best_bill[1], best_bill[0])):
                best_bill = (promo, off)
        if best_bill is not None:
            bill.append((best_bill[0], best_bill[1], {}))  # spread over the lines at the end
        value += sum(off for _, off, _ in bill)
        used = [self.promos[i] for i, use in item_uses.items() if use.value > 0]
        used += [self.promos[i] for i in per_piece] + [p for p, _, _ in bill]
        priority = max((p.priority for p in used), default=0)
        return _Plan(value, item_uses, per_piece, bill, priority,
                     tuple(sorted(p.id for p in used)))

    def _greedy(self, lines: Sequence[int]) -> dict[str, list[_Piece]]:
        """Too many ways to search this component: its offers in priority order (then
        by what each would take alone) take their best whole groups from what is left."""
        left = {i: self.pieces_of(i) for i in lines}
        grouped = {promo.id: promo for line in lines for promo, role in self.takers[line]
                   if role != "free"}
        alone: dict[str, int] = {}
        for promo in grouped.values():
            alone[promo.id] = _use(promo, self._pieces_for(promo, lines, left), where=False).value
        order = sorted(grouped.values(), key=lambda p: (-p.priority, -alone[p.id], p.id))
        given: dict[str, list[_Piece]] = {}
        for promo in order:
            pieces = self._pieces_for(promo, lines, left)
            use = _use(promo, pieces, where=False)
            if use.value <= 0:
                continue
            taken = _taken(pieces, use, promo)
            given[promo.id] = taken
            for p in taken:
                left[p.line] -= 1
        for promo in self.free_items:
            for line in lines:
                price = self.items[line].unit_price
                if (self.items[line].sku == promo.free_sku and left[line] > 0
                        and self.gross - price >= promo.min_bill):
                    given[promo.id] = [_Piece(line, price, "free")]
                    left[line] -= 1
                    break
        return given

    def _pieces_for(self, promo: Promotion, lines: Sequence[int],
                    left: Mapping[int, int]) -> list[_Piece]:
        pieces = []
        for line in lines:
            for taker, role in self.takers[line]:
                if taker.id == promo.id:
                    pieces.extend([_Piece(line, self.items[line].unit_price, role)] * left[line])
        pieces.sort(key=lambda p: (-p.price, p.line))
        return pieces


def _taken(pieces: Sequence[_Piece], use: _Use, promo: Promotion) -> list[_Piece]:
    """The pieces a use of `promo` took (the rest stay with their lines)."""
    if promo.kind == "qty_slab":
        return list(pieces) if use.groups else []
    if promo.kind == "buy_x_get_y" and promo.get_target is not None:
        buys = [p for p in pieces if p.role == "buy"]
        gets = [p for p in pieces if p.role == "get"]
        groups = min(len(buys) // promo.buy, len(gets) // promo.get)
        return gets[:groups * promo.get] + buys[len(buys) - groups * promo.buy:]
    size = promo.buy + promo.get if promo.kind == "buy_x_get_y" else promo.size
    if promo.kind == "bundle_price":
        taken: list[_Piece] = []
        for start in range(0, len(pieces) - size + 1, size):
            group = pieces[start:start + size]
            if sum(p.price for p in group) > promo.bundle_price:
                taken.extend(group)
        return taken
    return list(pieces[:len(pieces) // size * size])


def _unused(pieces: Sequence[_Piece], use: _Use, promo: Promotion) -> dict[int, int]:
    taken: dict[int, int] = {}
    for p in _taken(pieces, use, promo):
        taken[p.line] = taken.get(p.line, 0) + 1
    out: dict[int, int] = {}
    for p in pieces:
        out[p.line] = out.get(p.line, 0) + 1
    return {line: n - taken.get(line, 0) for line, n in out.items() if n > taken.get(line, 0)}


def _better(off: int, promo: Promotion, best_off: int, best: Promotion) -> bool:
    return (off, promo.priority, _neg(promo.id)) > (best_off, best.priority, _neg(best.id))


def _neg(text: str) -> tuple[int, ...]:
    """Orders strings backwards, so the smaller id wins a tie in a max()."""
    return tuple(-ord(c) for c in text) + (1,)


def _plan_better(plan: _Plan, best: _Plan) -> bool:
    return ((plan.value, plan.priority, tuple(_neg(i) for i in plan.ids))
            > (best.value, best.priority, tuple(_neg(i) for i in best.ids)))


# ---- the entry point ----------------------------------------------------------------------


def applicable(promos: Iterable[Promotion], at: datetime,
               coupons: Iterable[str] = ()) -> list[Promotion]:
    """The offers that run at `at` and whose coupon (if any) was shown."""
    shown = {c.strip().upper() for c in coupons}
    return [p for p in promos if p.window.active(at)
            and (p.coupon is None or p.coupon.strip().upper() in shown)]


def best(items: Sequence[Item], promos: Iterable[Promotion], at: datetime,
         coupons: Iterable[str] = ()) -> Result:
    """The offers that save the customer the most on this basket, with the discount on
    each line and why. `promos` are checked ones (``Promotion.check``)."""
    keys = [item.key for item in items]
    if len(set(keys)) != len(keys):
        raise PromotionError(_("each line of the basket needs its own key"))
    for item in items:
        if item.quantity <= 0 or item.gross < 0 or item.unit_price < 0:
            raise PromotionError(_("line %(key)s: quantity must be more than zero and prices "
                                   "cannot be negative") % {"key": item.key})
    running = applicable(promos, at, coupons)
    if not items or not running:
        return Result((), {item.key: 0 for item in items}, 0, True)
    stackable = [p for p in running if not p.exclusive]
    candidates: list[tuple[_Plan, _Search]] = []
    if stackable:
        search = _Search(items, stackable)
        candidates.append((search.run(), search))
    for promo in sorted((p for p in running if p.exclusive), key=lambda p: p.id):
        search = _Search(items, [promo])
        candidates.append((search.run(), search))
    plan, search = candidates[0]
    for other, other_search in candidates[1:]:
        if _plan_better(other, plan):
            plan, search = other, other_search
    if plan.value <= 0:
        return Result((), {item.key: 0 for item in items}, 0, search.exact,
                      _hints(items, running))
    return _result(items, plan, search, running)


def _result(items: Sequence[Item], plan: _Plan, search: _Search,
            running: Sequence[Promotion]) -> Result:
    promos = search.promos
    per_line = [0] * len(items)
    applied: list[Applied] = []
    for promo_id, use in sorted(plan.item_uses.items()):
        if use.value <= 0:
            continue
        promo = promos[promo_id]
        for line, paise in use.shares:
            per_line[line] += paise
        applied.append(Applied(promo.id, promo.name, use.value,
                               tuple((items[i].key, v) for i, v in use.shares),
                               _why_grouped(promo, use)))
    for promo_id, lines in sorted(plan.per_piece.items()):
        promo = promos[promo_id]
        for line, paise in lines.items():
            per_line[line] += paise
        pieces = sum(1 if items[i].measured else items[i].quantity for i in lines)
        applied.append(Applied(promo.id, promo.name, sum(lines.values()),
                               tuple((items[i].key, v) for i, v in sorted(lines.items())),
                               _why_per_piece(promo, pieces)))
    bill_before = sum(item.gross for item in items)
    for promo, off, fixed in plan.bill:
        if fixed:
            shares = dict(fixed)
        else:
            room = [item.gross - per_line[i] for i, item in enumerate(items)]
            shares = {i: v for i, v in enumerate(spread(off, room)) if v}
        for line, paise in shares.items():
            per_line[line] += paise
        applied.append(Applied(promo.id, promo.name, off,
                               tuple((items[i].key, v) for i, v in sorted(shares.items())),
                               _why_bill(promo, off, bill_before)))
    total = sum(per_line)
    return Result(tuple(applied), {item.key: per_line[i] for i, item in enumerate(items)},
                  total, search.exact, _hints(items, running))


# ---- the words ---------------------------------------------------------------------------


def _pct(bp: int) -> str:
    return f"{bp // 100}" if bp % 100 == 0 else f"{bp / 100:g}"


def _pieces(n: int) -> str:
    return ngettext("%(num)s piece", "%(num)s pieces", n) % {"num": n}


def _why_per_piece(promo: Promotion, pieces: int) -> str:
    what = (_("%(pct)s %% off") % {"pct": _pct(promo.percent_bp)} if promo.kind == "percent_off"
            else _("%(amount)s off each") % {"amount": _money(promo.amount)})
    return f"{what}: {_pieces(pieces)}"


def _why_grouped(promo: Promotion, use: _Use) -> str:
    if promo.kind == "buy_x_get_y":
        off = (_("free") if promo.percent_bp == FULL_BP
               else _("%(pct)s %% off") % {"pct": _pct(promo.percent_bp)})
        times = use.pieces // (promo.buy + promo.get)
        return _("Buy %(buy)s get %(get)s %(off)s: %(times)s × (%(pieces)s)") % {
            "buy": promo.buy, "get": promo.get, "off": off, "times": times,
            "pieces": _pieces(use.pieces)}
    if promo.kind == "bundle_price":
        return _("%(size)s for %(price)s: %(bundles)s") % {
            "size": promo.size, "price": _money(promo.bundle_price),
            "bundles": ngettext("%(num)s bundle", "%(num)s bundles", use.groups)
            % {"num": use.groups}}
    each = _money(promo.amount) if promo.amount else f"{_pct(promo.percent_bp)} %"
    return _("%(each)s off each from %(size)s: %(pieces)s") % {
        "each": each, "size": promo.size, "pieces": _pieces(use.pieces)}


def _why_bill(promo: Promotion, off: int, bill: int) -> str:
    if promo.kind == "bill_free_item":
        return _("Free on bills of %(least)s or more: bill %(bill)s") % {
            "least": _money(promo.min_bill), "bill": _money(bill)}
    if promo.kind == "bill_amount_off":
        return _("%(off)s off bills of %(least)s or more") % {
            "off": _money(off), "least": _money(promo.min_bill)}
    if promo.cap is not None:
        return _("%(pct)s %% off the bill (at most %(cap)s)") % {
            "pct": _pct(promo.percent_bp), "cap": _money(promo.cap)}
    return _("%(pct)s %% off the bill") % {"pct": _pct(promo.percent_bp)}


def _hints(items: Sequence[Item], running: Sequence[Promotion]) -> tuple[str, ...]:
    """Bill offers the customer is close to: what more to buy for them (for the cashier
    to say, never applied)."""
    bill = sum(item.gross for item in items)
    hints = []
    for promo in sorted(running, key=lambda p: (p.min_bill, p.id)):
        if promo.kind in BILL_DISCOUNT_KINDS and 0 < promo.min_bill - bill <= promo.min_bill // 5:
            gain = (_money(promo.amount) if promo.kind == "bill_amount_off"
                    else f"{_pct(promo.percent_bp)} %")
            hints.append(_("%(more)s more for %(gain)s off")
                         % {"more": _money(promo.min_bill - bill), "gain": gain})
    return tuple(hints[:2])
