"""Stock use cases. Every movement goes through ``record_move``: one ledger row,
the level updated by the same delta, and a ``stock.moved`` outbox event, all in
the caller's transaction -- so the level always equals the ledger's sum."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.catalog.models import Product
from app.core import audit
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.prepared import Prepared
from app.stock import fefo, sales_days
from app.stock.models import REASONS, Bin, CountEntry, CountLine, StockLevel, StockMove
from app.sync.outbox import emit, emit_many

ADJUST_REASONS = {"damaged": -1, "expired": -1, "found": +1, "count": 0}


class StockError(ValueError):
    pass


# Prepared (core/prepared.py), built once: every sale runs both (issue #15).
_INSERT_MOVE = Prepared.insert(cast(Table, StockMove.__table__))
_LEVELS = cast(Table, StockLevel.__table__)
_level_row = sqlite_insert(_LEVELS).values(
    product_id=bindparam("product_id"), bin_id=bindparam("bin_id"),
    batch=bindparam("batch"), expiry=bindparam("expiry"), on_hand=bindparam("on_hand"))
# A level is the ledger's sum per product, bin and batch (issue #17); a batch's expiry
# is the one given when it came in (a move without one keeps what the level has).
_ADD_TO_LEVEL = Prepared(_level_row.on_conflict_do_update(
    index_elements=["product_id", "bin_id", "batch"],
    set_={"on_hand": _LEVELS.c.on_hand + _level_row.excluded.on_hand,
          "expiry": func.coalesce(_level_row.excluded.expiry, _LEVELS.c.expiry)}))


async def record_move(
    s: Session,
    *,
    product: Product,
    bin: Bin,
    delta: int,
    reason: str,
    reference: str = "",
    user_id: str | None = None,
    batch: str | None = None,
    expiry: date | None = None,
) -> StockMove:
    if reason not in REASONS:
        raise StockError(f"unknown stock reason {reason!r}")
    if delta == 0:
        raise StockError("a stock movement needs a non-zero quantity")
    move = StockMove(
        id=uuid7(),
        product_id=product.id,
        bin_id=bin.id,
        delta=delta,
        reason=reason,
        reference=reference[:80],
        batch=batch or None,
        expiry=expiry,
        user_id=user_id,
        at=utcnow(),
    )
    s.add(move)
    # Through the session (not the raw connection) so a bin or product added in this
    # transaction is flushed first.
    await s.execute(_ADD_TO_LEVEL.statement, {
        "product_id": product.id, "bin_id": bin.id, "batch": move.batch or "",
        "expiry": expiry, "on_hand": delta})
    await sales_days.add_sales(s, reason, move.at, ((product.id, delta),))
    emit(s, "stock.moved", _moved_event(move.id, product.sku, bin.code, delta, reason,
                                        move.reference, move.batch, expiry, move.at))
    return move


def _moved_event(move_id: str, sku: str, bin_code: str, delta: int, reason: str,
                 reference: str, batch: str | None, expiry: date | None,
                 at: datetime) -> dict[str, Any]:
    """The data of a ``stock.moved`` event (one shape for record_move and record_moves)."""
    return {
        "move_id": move_id,
        "sku": sku,
        "bin": bin_code,
        "delta": delta,
        "reason": reason,
        "reference": reference,
        "batch": batch,
        "expiry": expiry.isoformat() if expiry else None,
        "at": at.isoformat(),
    }


@dataclass(frozen=True)
class SaleMove:
    """One line's stock movement in ``record_moves``."""

    product_id: str
    sku: str
    bin_id: str
    bin_code: str
    delta: int
    batch: str = ""  # '' : stock without a batch
    expiry: date | None = None


async def record_moves(
    s: Session,
    moves: Sequence[SaleMove],
    *,
    reason: str,
    reference: str = "",
    user_id: str | None = None,
    then: Iterable[tuple[str, dict[str, Any]]] = (),
) -> list[str]:
    """``record_move`` for many lines at once (a sale): the same ledger rows, level
    upserts and ``stock.moved`` events, written with one executemany each. ``then``
    are further outbox events written after the moves' (so one executemany holds the
    sale's whole outbox). Returns the move ids, in order."""
    if reason not in REASONS:
        raise StockError(f"unknown stock reason {reason!r}")
    if any(m.delta == 0 for m in moves):
        raise StockError("a stock movement needs a non-zero quantity")
    reference = reference[:80]
    now = utcnow()
    ids = [uuid7() for _ in moves]
    if moves:
        await _INSERT_MOVE.run_many(s, [
            {"id": move_id, "product_id": m.product_id, "bin_id": m.bin_id, "delta": m.delta,
             "reason": reason, "reference": reference, "batch": m.batch or None,
             "expiry": m.expiry, "user_id": user_id, "at": now}
            for move_id, m in zip(ids, moves, strict=True)
        ])
        await _ADD_TO_LEVEL.run_many(s, [
            {"product_id": m.product_id, "bin_id": m.bin_id, "batch": m.batch,
             "expiry": m.expiry, "on_hand": m.delta}
            for m in moves])
        # The sales per product and local day (one upsert per product; sales_days.py).
        await sales_days.add_sales(s, reason, now, ((m.product_id, m.delta) for m in moves))
    events = [("stock.moved", _moved_event(move_id, m.sku, m.bin_code, m.delta, reason,
                                           reference, m.batch or None, m.expiry, now))
              for move_id, m in zip(ids, moves, strict=True)]
    await emit_many(s, [*events, *then])
    return ids


async def bin_for_sale(s: Session, product: Product) -> Bin:
    """Where a counter sale takes stock from: the product's fullest bin, else any bin
    it has been in, else the first bin of the store. A sale is never blocked by the
    book figure; a level that goes negative shows up in the stock list for a count."""
    fullest = await s.scalar(
        select(Bin)
        .join(StockLevel, StockLevel.bin_id == Bin.id)
        .where(StockLevel.product_id == product.id)
        .group_by(Bin.id)
        .order_by(func.sum(StockLevel.on_hand).desc(), Bin.pick_seq)
        .limit(1)
    )
    if fullest is not None:
        return fullest
    return await _first_bin(s)


@dataclass(frozen=True)
class SaleBin:
    id: str
    code: str
    pick_seq: int


@dataclass(frozen=True)
class SalePart:
    """Part of a line's quantity taken from one bin and batch."""

    bin: SaleBin
    batch: str  # '' : stock without a batch
    expiry: date | None
    quantity: int


@dataclass
class SaleBins:
    """Where each line of one sale takes stock from, read with one query
    (``bins_for_sale``).

    A product without batches follows ``bin_for_sale``: its fullest bin counting the
    lines already taken, else the fallback bin. A product with batches (tracks expiry)
    goes FEFO (``fefo.choose``): earliest expiry first, expired batches never; what
    FEFO cannot cover comes from the batch-less stock of the first bin it used, whose
    level then goes below zero and shows up for a count (a sale never waits for the
    book figure)."""

    levels: dict[str, dict[tuple[SaleBin, str], tuple[date | None, int]]]
    fallback: SaleBin | None
    today: date = field(default_factory=lambda: utcnow().date())

    def take(self, product_id: str, quantity: int, batch: str = "") -> list[SalePart]:
        """Where `quantity` of the product leaves from. `batch`: the batch the scanned
        code names (GS1 AI 10): that physical item left, so its batch leaves the books
        first, also when FEFO would not pick it (an expired item a manager let through,
        a fresher one the customer chose); the rest as above."""
        levels = self.levels.setdefault(product_id, {})
        if batch:
            named = sorted((key for key, (_e, on_hand) in levels.items()
                            if key[1] == batch and on_hand > 0),
                           key=lambda k: (k[0].pick_seq, k[0].code))
            parts: list[SalePart] = []
            left = quantity
            for key in named:
                if left <= 0:
                    break
                expiry, on_hand = levels[key]
                taken = min(on_hand, left)
                self._take(levels, key[0], batch, expiry, taken)
                parts.append(SalePart(key[0], batch, expiry, taken))
                left -= taken
            if parts:
                return parts + (self.take(product_id, left) if left > 0 else [])
        if not any(batch for _bin, batch in levels):
            per_bin: dict[SaleBin, int] = {}
            for (bin_, _batch), (_expiry, on_hand) in levels.items():
                per_bin[bin_] = per_bin.get(bin_, 0) + on_hand
            if per_bin:
                bin_ = min(per_bin, key=lambda b: (-per_bin[b], b.pick_seq, b.code))
            else:
                assert self.fallback is not None  # bins_for_sale reads it for such products
                bin_ = self.fallback
            self._take(levels, bin_, "", None, quantity)
            return [SalePart(bin_, "", None, quantity)]
        by_code = {bin_.code: bin_ for bin_, _batch in levels}
        plan = fefo.choose(
            (fefo.BatchLevel(bin_.code, bin_.pick_seq, batch or None, expiry, on_hand)
             for (bin_, batch), (expiry, on_hand) in levels.items()),
            quantity, self.today)
        parts = [SalePart(by_code[t.level.bin_code], t.level.batch or "", t.level.expiry,
                          t.quantity) for t in plan.takes]
        if plan.short:
            first = parts[0].bin if parts else min(
                by_code.values(), key=lambda b: (b.pick_seq, b.code))
            parts.append(SalePart(first, "", None, plan.short))
        for part in parts:
            self._take(levels, part.bin, part.batch, part.expiry, part.quantity)
        return parts

    @staticmethod
    def _take(levels: dict[tuple[SaleBin, str], tuple[date | None, int]], bin_: SaleBin,
              batch: str, expiry: date | None, quantity: int) -> None:
        old_expiry, on_hand = levels.get((bin_, batch), (expiry, 0))
        levels[(bin_, batch)] = (old_expiry, on_hand - quantity)


async def bins_for_sale(s: Session, product_ids: Iterable[str], *, today: date | None = None,
                        ) -> SaleBins:
    """``bin_for_sale`` for all of a sale's products in one query (plus one for the
    store's first bin, only when a product has never had stock anywhere). ``today`` is
    the store's local date (a batch expires at the end of its local day); the UTC date
    when not given."""
    ids = set(product_ids)
    rows = await _SALE_LEVELS.all(s, {"ids": json.dumps(sorted(ids))})
    levels: dict[str, dict[tuple[SaleBin, str], tuple[date | None, int]]] = {}
    for product_id, batch, expiry, on_hand, bin_id, code, pick_seq in rows:
        levels.setdefault(product_id, {})[(SaleBin(bin_id, code, pick_seq), batch)] = (
            expiry, on_hand)
    fallback = None
    if ids - levels.keys():
        first = await _FIRST_BIN.first(s)
        if first is None:
            made = await _first_bin(s)
            first = (made.id, made.code, made.pick_seq)
        fallback = SaleBin(*first)
    return SaleBins(levels, fallback, today or utcnow().date())


# Prepared (issue #15): a plain bill then builds no ORM Session at all. The sale's
# product ids go in as one JSON array (a prepared statement has no IN list).
_SALE_IDS = func.json_each(bindparam("ids")).table_valued("value")
_SALE_LEVELS = Prepared(
    select(StockLevel.product_id, StockLevel.batch, StockLevel.expiry, StockLevel.on_hand,
           Bin.id, Bin.code, Bin.pick_seq)
    .join(Bin, Bin.id == StockLevel.bin_id)
    .where(StockLevel.product_id.in_(select(_SALE_IDS.c.value))))
_FIRST_BIN = Prepared(select(Bin.id, Bin.code, Bin.pick_seq).order_by(Bin.pick_seq, Bin.code)
                      .limit(1))


async def _first_bin(s: Session) -> Bin:
    first = await s.scalar(select(Bin).order_by(Bin.pick_seq, Bin.code).limit(1))
    if first is None:
        first = Bin(id=uuid7(), code="STORE", zone="STORE", aisle="", shelf="", pick_seq=0)
        s.add(first)
        await s.flush()
    return first


async def refund_batches(s: Session, *, sold: str, refunds: Sequence[str], product_id: str,
                         bin_id: str, quantity: int,
                         ) -> list[tuple[str | None, date | None, int]]:
    """Where a refund of ``quantity`` goes back in this bin: into the batches the sale
    (reference ``sold``) took this product from, each at most what it gave less what
    earlier refunds of the sale (references ``refunds``) gave back, the freshest batch
    first; what is left (a sale that took from no batch) goes in without one.
    Returns (batch, expiry, quantity) parts, batch None for stock without a batch."""
    took = (await s.execute(
        select(StockMove.batch, func.max(StockMove.expiry), -func.sum(StockMove.delta))
        .where(StockMove.reason == "sale", StockMove.reference == sold,
               StockMove.product_id == product_id, StockMove.bin_id == bin_id,
               StockMove.delta < 0)
        .group_by(StockMove.batch))).all()
    back = dict((await s.execute(
        select(StockMove.batch, func.sum(StockMove.delta))
        .where(StockMove.reason == "refund", StockMove.reference.in_(list(refunds)),
               StockMove.product_id == product_id, StockMove.bin_id == bin_id,
               StockMove.delta > 0)
        .group_by(StockMove.batch))).all()) if refunds else {}
    parts: list[tuple[str | None, date | None, int]] = []
    left = quantity
    # Freshest first: latest expiry, then batches without a date, stock without a batch last.
    for batch, expiry, taken in sorted(
            took, key=lambda r: (r[0] is None, r[1] is None, -(r[1] or date.min).toordinal())):
        if left == 0 or batch is None:
            continue
        room = int(taken) - int(back.get(batch) or 0)
        if room > 0:
            parts.append((batch, expiry, min(room, left)))
            left -= min(room, left)
    if left:
        parts.append((None, None, left))
    return parts


async def batch_levels(s: Session, product_id: str, *, bin_id: str | None = None,
                       ) -> list[tuple[Bin, fefo.BatchLevel]]:
    """The product's levels per bin and batch (in one bin when ``bin_id`` is given), as
    the FEFO rule reads them, each with its bin."""
    stmt = (select(Bin, StockLevel.batch, StockLevel.expiry, StockLevel.on_hand)
            .join(StockLevel, StockLevel.bin_id == Bin.id)
            .where(StockLevel.product_id == product_id))
    if bin_id is not None:
        stmt = stmt.where(Bin.id == bin_id)
    return [(bin_, fefo.BatchLevel(bin_.code, bin_.pick_seq, batch or None, expiry, on_hand))
            for bin_, batch, expiry, on_hand in (await s.execute(stmt)).all()]


async def take_fefo(
    s: Session,
    *,
    product: Product,
    quantity: int,
    reason: str,
    reference: str = "",
    user_id: str | None = None,
    bin: Bin | None = None,
    today: date | None = None,
    include_expired: bool = False,
) -> list[StockMove]:
    """Take ``quantity`` of a product out, batch by batch, earliest expiry first (in one
    bin when ``bin`` is given): the ledger moves a pick leaving, a transfer dispatched or
    a negative count write. Expired batches are skipped unless ``include_expired`` (a
    write-off or a count takes what is there). What the batches cannot cover comes from
    the batch-less stock of ``bin`` (or the first bin used, or the store's first bin),
    whose level may go below zero, as at the till."""
    if quantity <= 0:
        raise StockError("a quantity to take must be more than zero")
    day = today or utcnow().date()
    levels = await batch_levels(s, product.id, bin_id=bin.id if bin is not None else None)
    bins = {level.bin_code: bin_ for bin_, level in levels}
    plan = fefo.choose((level for _bin, level in levels), quantity,
                       date.min if include_expired else day)
    parts: dict[tuple[str, str], tuple[Bin, date | None, int]] = {}
    for t in plan.takes:
        parts[(t.level.bin_code, t.level.batch or "")] = (
            bins[t.level.bin_code], t.level.expiry, t.quantity)
    if plan.short:
        rest_bin = bin or (bins[plan.takes[0].level.bin_code] if plan.takes else None)
        if rest_bin is None:
            rest_bin = await bin_for_sale(s, product)
        _bin, expiry, taken = parts.get((rest_bin.code, ""), (rest_bin, None, 0))
        parts[(rest_bin.code, "")] = (rest_bin, expiry, taken + plan.short)
    moves = []
    for (_code, batch), (bin_, expiry, taken) in parts.items():
        moves.append(await record_move(s, product=product, bin=bin_, delta=-taken,
                                       reason=reason, reference=reference, user_id=user_id,
                                       batch=batch or None, expiry=expiry))
    return moves


async def _product_and_bin(s: Session, product_id: str, bin_code: str) -> tuple[Product, Bin]:
    product = await s.get(Product, product_id)
    if product is None:
        raise StockError(_("that product no longer exists"))
    bin_ = await s.scalar(select(Bin).where(Bin.code == bin_code.strip().upper()))
    if bin_ is None:
        raise StockError(_("there is no bin %(code)s; pick one from the list")
                         % {"code": repr(bin_code)})
    return product, bin_


@dataclass(frozen=True)
class MoveResult:
    move: StockMove
    product: Product
    bin: Bin
    on_hand_in_bin: int
    on_hand_total: int


async def in_bin(s: Session, product_id: str, bin_id: str) -> int:
    """The product's stock in one bin, all batches together."""
    return int(await s.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
            StockLevel.product_id == product_id, StockLevel.bin_id == bin_id)) or 0)


async def _result(s: Session, move: StockMove, product: Product, bin_: Bin) -> MoveResult:
    on_hand_in_bin = await in_bin(s, product.id, bin_.id)
    total = await s.scalar(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
            StockLevel.product_id == product.id
        )
    )
    return MoveResult(move, product, bin_, on_hand_in_bin, int(total or 0))


async def receive(
    db: Database,
    *,
    product_id: str,
    bin_code: str,
    quantity: int,
    user_id: str | None,
    reference: str = "",
    batch: str | None = None,
    expiry: date | None = None,
) -> MoveResult:
    if quantity <= 0:
        raise StockError(_("received quantity must be more than zero"))
    async with db.write() as s:
        product, bin_ = await _product_and_bin(s, product_id, bin_code)
        move = await record_move(
            s,
            product=product,
            bin=bin_,
            delta=quantity,
            reason="receive",
            reference=reference or "goods in",
            user_id=user_id,
            batch=batch,
            expiry=expiry,
        )
        return await _result(s, move, product, bin_)


async def adjust(
    db: Database,
    *,
    product_id: str,
    bin_code: str,
    reason: str,
    quantity: int,
    user_id: str | None,
    note: str = "",
) -> MoveResult:
    """damaged/expired remove `quantity`; found adds it; count sets the bin to `quantity`."""
    if reason not in ADJUST_REASONS:
        raise StockError(_("reason must be one of %(reasons)s")
                         % {"reasons": ", ".join(ADJUST_REASONS)})
    if quantity < 0 or (quantity == 0 and reason != "count"):
        raise StockError(_("quantity must be more than zero"))
    async with db.write() as s:
        product, bin_ = await _product_and_bin(s, product_id, bin_code)
        counting = await s.scalar(select(CountLine.id).where(
            CountLine.product_id == product.id, CountLine.bin_id == bin_.id,
            CountLine.status.in_(("recount", "approval"))).limit(1))
        if counting is not None:
            # Its difference from the book at the count is waiting to be posted: a change
            # now would be posted twice (once here, once when the count is approved).
            raise StockError(_("%(name)s in bin %(code)s has a count waiting for a recount or "
                               "a manager's approval: finish or cancel that count first")
                             % {"name": product.name, "code": bin_.code})
        if reason == "count":
            delta = quantity - await in_bin(s, product.id, bin_.id)
            if delta == 0:
                raise StockError(_("the count matches the book figure; nothing to adjust"))
        else:
            delta = ADJUST_REASONS[reason] * quantity
        if delta < 0:
            # Out of the bin's batches, earliest expiry first (expired ones too: this is
            # what is physically missing or damaged), then its batch-less stock.
            moves = await take_fefo(s, product=product, quantity=-delta, reason=reason,
                                    reference=note or f"adjust: {reason}", user_id=user_id,
                                    bin=bin_, include_expired=True)
            return await _result(s, moves[-1], product, bin_)
        move = await record_move(
            s,
            product=product,
            bin=bin_,
            delta=delta,
            reason=reason,
            reference=note or f"adjust: {reason}",
            user_id=user_id,
        )
        return await _result(s, move, product, bin_)


# ---- reading -------------------------------------------------------------------


@dataclass(frozen=True)
class BinLevel:
    bin_code: str
    zone: str
    on_hand: int


async def levels_for_product(db: Database, product_id: str) -> list[BinLevel]:
    async with db.read() as s:
        rows = await s.execute(
            select(Bin.code, Bin.zone, StockLevel.on_hand)
            .join(StockLevel, StockLevel.bin_id == Bin.id)
            .where(StockLevel.product_id == product_id, StockLevel.on_hand != 0)
            .order_by(Bin.pick_seq)
        )
        return [BinLevel(*r) for r in rows.all()]


@dataclass(frozen=True)
class StockRow:
    product: Product
    on_hand: int

    @property
    def low(self) -> bool:
        return self.on_hand <= self.product.reorder_level


@dataclass(frozen=True)
class CountRequest:
    bin_code: str
    sku: str
    reason: str
    at: datetime


async def count_requests(db: Database, days: int = 7) -> list[CountRequest]:
    """Bins a picker could not find stock in (short picks) and that nobody has counted
    since: the manager's list of counts to do."""
    since = utcnow() - timedelta(days=days)
    async with db.read() as s:
        asked = await audit.entries(s, actions=("count_needed",), since=since)
        counted = list((await s.execute(
            select(Bin.code, Product.sku, func.max(StockMove.at))
            .join(Bin, Bin.id == StockMove.bin_id).join(Product, Product.id == StockMove.product_id)
            .where(StockMove.reason == "count", StockMove.at >= since)
            .group_by(Bin.code, Product.sku))).all())
        # A cycle count that matched the book posts nothing but counted the bin too.
        counted += (await s.execute(
            select(Bin.code, Product.sku, func.max(CountEntry.at))
            .join(CountLine, CountLine.id == CountEntry.line_id)
            .join(Bin, Bin.id == CountLine.bin_id).join(Product, Product.id == CountLine.product_id)
            .where(CountEntry.at >= since)
            .group_by(Bin.code, Product.sku))).all()
    last_count: dict[tuple[str, str], datetime] = {}
    for b, sku, at in counted:
        last_count[(b, sku)] = max(at, last_count.get((b, sku), at))
    out: dict[tuple[str, str], CountRequest] = {}
    for entry in asked:
        # detail: "bin A-01-2 SKU: reason"
        head, _sep, reason = entry.detail.partition(": ")
        parts = head.split()
        if len(parts) != 3 or parts[0] != "bin":
            continue
        key = (parts[1], parts[2])
        done_at = last_count.get(key)
        if done_at is not None and done_at >= entry.at:
            out.pop(key, None)
            continue
        out[key] = CountRequest(parts[1], parts[2], reason, entry.at)
    return sorted(out.values(), key=lambda c: c.at)


async def stock_list(
    db: Database,
    *,
    low_only: bool = False,
    query: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[StockRow]:
    total = func.coalesce(func.sum(StockLevel.on_hand), 0).label("on_hand")
    stmt = (
        select(Product, total)
        .outerjoin(StockLevel, StockLevel.product_id == Product.id)
        .where(Product.active)
        .group_by(Product.id)
        .order_by(Product.category, Product.name)
        .limit(limit)
        .offset(offset)
    )
    if query:
        stmt = stmt.where(Product.name.ilike(f"%{query}%") | (Product.sku == query.upper()))
    if low_only:
        stmt = stmt.having(total <= Product.reorder_level)
    async with db.read() as s:
        return [StockRow(p, int(q)) for p, q in (await s.execute(stmt)).all()]


async def total_on_hand(db: Database, product_id: str) -> int:
    async with db.read() as s:
        return int(
            await s.scalar(
                select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(
                    StockLevel.product_id == product_id
                )
            )
            or 0
        )


async def list_bins(db: Database) -> list[Bin]:
    async with db.read() as s:
        return list(await s.scalars(select(Bin).order_by(Bin.pick_seq, Bin.code)))


async def load_bins_csv(db: Database, text: str) -> int:
    """Create or update bins from `code,zone,aisle,shelf,pick_seq` rows."""
    reader = csv.DictReader(io.StringIO(text))
    rows: list[dict[str, Any]] = []
    for rec in reader:
        code = (rec.get("code") or "").strip().upper()
        if not code:
            raise StockError(_("line %(n)s: bin code is empty") % {"n": reader.line_num})
        try:
            seq = int(rec.get("pick_seq") or 0)
        except ValueError:
            raise StockError(_("line %(n)s: pick_seq must be a number")
                             % {"n": reader.line_num}) from None
        rows.append(
            {
                "code": code,
                "zone": (rec.get("zone") or "").strip(),
                "aisle": (rec.get("aisle") or "").strip(),
                "shelf": (rec.get("shelf") or "").strip(),
                "pick_seq": seq,
            }
        )
    async with db.write() as s:
        existing = {b.code: b for b in await s.scalars(select(Bin))}
        for row in rows:
            if row["code"] in existing:
                b = existing[row["code"]]
                b.zone, b.aisle, b.shelf, b.pick_seq = (
                    row["zone"],
                    row["aisle"],
                    row["shelf"],
                    row["pick_seq"],
                )
            else:
                s.add(Bin(id=uuid7(), **row))
    return len(rows)
