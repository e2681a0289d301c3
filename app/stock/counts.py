"""Cycle counts (issue #17): tasks, blind counting on a phone, recounts, approvals.

A manager makes a **task** (one bin, a zone, one product, the short-pick "counts to
do" list, or the products the ABC schedule says are due). Its bins are counted in
**rounds**: in round 1 a counter claims the task on one phone, scans each bin's label,
then scans every item in it (each scan +1; loose goods and large counts are typed) and
sends the bin. The counter never sees the book figure.

When a bin is sent, each of its lines (a product in that bin, all batches together)
takes the **book figure at that moment** (``expected``: a sale or a delivery while the
rest of the zone is counted moves the book, not the difference) and
``count_rules.decide`` says what happens:

* accept: the difference ``counted - expected`` posts at once as ledger moves with
  reason ``count`` (more: one move into the bin's batch-less stock; fewer: out of the
  bin's batches, earliest expiry first, expired ones too, via ``take_fefo``);
* recount: the line is counted again in the next round, by someone else where possible;
* approve: the line waits for a manager, who approves (it posts) or rejects it.

Refused with a message, changing nothing (``CountError``): a bin with a pick in
progress (open pick tasks, or picked items that have not left the store: the book
still holds them but the shelf does not), a second phone on a claimed task, a bin sent
twice, a scan of something this count does not ask for, a quantity that is no quantity.
A scan carries the phone's request id, so a scan sent again after a lost answer counts
once.

Pick tasks are the dark store's (app/picking, a layer above this one): they are read
through lightweight table constructs by name, not imported.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, select, update

from app.catalog.barcodes import BarcodeError, MeasureRule, parse_scan
from app.catalog.models import Product
from app.catalog.service import UnknownProduct, find_scanned
from app.catalog.units import MAX_BASE_QTY, QuantityError, parse_quantity
from app.config import StockSection
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session, next_number
from app.core.i18n import N_, _, ngettext
from app.core.ids import uuid7
from app.core.models import User
from app.core.words import count_of
from app.stock import count_rules
from app.stock.count_guards import CountError, check_bin_settled
from app.stock.count_schedule import cost_of, due_products
from app.stock.models import (
    Bin,
    CountBin,
    CountEntry,
    CountLine,
    CountScan,
    CountTask,
    StockLevel,
)
from app.stock.service import count_requests, in_bin, record_move, take_fefo

KINDS = {"bin": N_("Bin"), "zone": N_("Zone"), "product": N_("Product"),
         "requests": N_("Counts to do"), "due": N_("Due (ABC)")}
OPEN_SCOPE = ("bin", "zone")  # any product found in the bin is counted in round 1
UNFINISHED = ("open", "counting", "review")
WAITING = ("todo", "recount", "approval")
STATUS_WORDS = {"open": N_("waiting for a counter"), "counting": N_("being counted"),
                "review": N_("waiting for a manager"), "done": N_("done"),
                "cancelled": N_("cancelled")}
# What _clean calls the text it checks (in its messages).
CLEANED = (N_("bin, zone or product code"), N_("bin label"), N_("code"), N_("quantity"))
MAX_DUE_TASK = 200  # products in one "due" task
SCOPE_CHARS = 40
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class ProductRef:
    """What a refusal says about a product (plain values: the transaction is gone)."""

    sku: str
    name: str
    unit: str


class NeedQuantity(CountError):
    """A scanned item whose quantity must be typed (loose goods): the phone shows the
    quantity field for it."""

    def __init__(self, message: str, product: ProductRef) -> None:
        super().__init__(message)
        self.product = product


def policy_of(stock: StockSection) -> count_rules.CountPolicy:
    """The variance policy from the store's config (``[stock]``)."""
    return count_rules.CountPolicy(
        recount_bp=stock.count_recount_percent * 100, recount_units=stock.count_recount_units,
        approval_minor=stock.count_approval_above_rupees * 100)


def say_scope(kind: str, scope: str) -> str:
    """A task's scope as a screen shows it: kept in English (the audit's words), the
    words of the ``requests`` and ``due`` kinds said in the language in force."""
    if kind == "requests" and scope == "short picks":
        return _("short picks")
    due = re.fullmatch(r"(\d+) products? due", scope) if kind == "due" else None
    if due:
        n = int(due[1])
        return ngettext("%(num)d product due", "%(num)d products due", n) % {"num": n}
    return scope


def _clean(text: str, what: str, limit: int) -> str:
    text = str(text).strip()
    if "\x00" in text:
        raise CountError(_("The %(what)s has a character that cannot be typed; scan it "
                           "again.") % {"what": _(what)})
    if len(text) > limit:
        raise CountError(ngettext("That %(what)s is too long (%(num)d character); scan it "
                                  "again.", "That %(what)s is too long (%(num)d characters); "
                                  "scan it again.", len(text))
                         % {"what": _(what), "num": len(text)})
    return text


# ---- tasks -------------------------------------------------------------------------


async def _unfinished_bins(s: Session) -> dict[str, str]:
    """Bin id -> number of the unfinished task that holds it."""
    rows = (await s.execute(
        select(CountBin.bin_id, CountTask.number)
        .join(CountTask, CountTask.id == CountBin.task_id)
        .where(CountTask.status.in_(UNFINISHED)))).all()
    return {bin_id: number for bin_id, number in rows}


async def _stocked(s: Session, *, bin_ids: Sequence[str] | None = None,
                   product_ids: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(product id, bin id) pairs whose book figure is not zero."""
    stmt = (select(StockLevel.product_id, StockLevel.bin_id)
            .group_by(StockLevel.product_id, StockLevel.bin_id)
            .having(func.sum(StockLevel.on_hand) != 0))
    if bin_ids is not None:
        stmt = stmt.where(StockLevel.bin_id.in_(bin_ids))
    if product_ids is not None:
        stmt = stmt.where(StockLevel.product_id.in_(product_ids))
    return [(p, b) for p, b in (await s.execute(stmt)).all()]


async def create_task(db: Database, *, kind: str, target: str, user: StaffUser,
                      limit: int = 20, tz: ZoneInfo | None = None) -> CountTask:
    """A new task, waiting for a counter. ``target``: the bin code, zone or SKU (unused
    for requests and due). A bin already in an unfinished task is refused (bin, zone,
    product) or left out (requests, due): two tasks posting one shelf's difference
    would post it twice."""
    if kind not in KINDS:
        raise CountError(_("Choose what to count: a bin, a zone, a product, the counts to do "
                           "or the products due."))
    target = _clean(target, "bin, zone or product code", SCOPE_CHARS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DUE_TASK:
        raise CountError(_("Count 1 to %(most)s products at a time.") % {"most": MAX_DUE_TASK})
    requests = await count_requests(db) if kind == "requests" else []
    due = await due_products(db, tz=tz) if kind == "due" else []
    async with db.write() as s:
        busy = await _unfinished_bins(s)
        pairs: list[tuple[str, str]] = []
        bins: list[str] = []
        scope = target
        if kind == "bin":
            if not target:
                raise CountError(_("Type or scan the bin's code."))
            bin_ = await s.scalar(select(Bin).where(Bin.code == target.upper()))
            if bin_ is None:
                raise CountError(_("There is no bin %(code)s.") % {"code": target.upper()})
            bins, scope = [bin_.id], bin_.code
            pairs = await _stocked(s, bin_ids=bins)
        elif kind == "zone":
            if not target:
                raise CountError(_("Choose a zone."))
            found = list(await s.scalars(
                select(Bin).where(func.upper(Bin.zone) == target.upper())
                .order_by(Bin.pick_seq, Bin.code)))
            if not found:
                raise CountError(_("No bin is in zone %(zone)s.") % {"zone": target})
            bins, scope = [b.id for b in found], found[0].zone
            pairs = await _stocked(s, bin_ids=bins)
        elif kind == "product":
            if not target:
                raise CountError(_("Type the product's SKU."))
            product = await s.scalar(select(Product).where(Product.sku == target.upper()))
            if product is None:
                raise CountError(_("No product has SKU %(sku)s.") % {"sku": target.upper()})
            pairs = await _stocked(s, product_ids=[product.id])
            if not pairs:
                raise CountError(_("The book has no %(name)s in any bin: count the bin where "
                                   "it should be instead.") % {"name": product.name})
            bins, scope = sorted({b for _p, b in pairs}), product.sku
        elif kind == "requests":
            codes = {r.bin_code for r in requests}
            skus = {r.sku for r in requests}
            by_code = {b.code: b.id for b in await s.scalars(select(Bin).where(Bin.code.in_(codes)))}
            by_sku = {p.sku: p.id for p in await s.scalars(
                select(Product).where(Product.sku.in_(skus)))}
            pairs = [(by_sku[r.sku], by_code[r.bin_code]) for r in requests
                     if r.sku in by_sku and r.bin_code in by_code
                     and by_code[r.bin_code] not in busy]
            bins, scope = sorted({b for _p, b in pairs}), "short picks"
        else:  # due
            wanted = [d.product_id for d in due][:limit]
            pairs = [(p, b) for p, b in await _stocked(s, product_ids=wanted) if b not in busy]
            bins, scope = sorted({b for _p, b in pairs}), f"{count_of(len(wanted), 'product')} due"
        if kind in ("bin", "zone", "product"):
            taken = sorted({busy[b] for b in bins if b in busy})
            if taken:
                raise CountError((_("That bin is already in count %(numbers)s: finish or "
                                    "cancel it first.") if len(bins) == 1 else
                                  _("Some of those bins are already in count %(numbers)s: "
                                    "finish or cancel it first."))
                                 % {"numbers": ", ".join(taken)})
        elif not pairs:
            raise CountError(_("Nothing to count: every bin on the list is already in a "
                               "count, or the list is empty.") if kind == "requests" else
                             _("Nothing to count: no product that is due has stock on the "
                               "book outside a count in progress."))
        now = utcnow()
        task = CountTask(id=uuid7(), number=f"CC-{await next_number(s, 'count_task'):06d}",
                         kind=kind, scope=scope[:80], status="open", round=1,
                         created_by=user.id, created_at=now, counter_key="")
        s.add(task)
        await s.flush()  # no relationships: the task row goes first
        for bin_id in bins:
            s.add(CountBin(task_id=task.id, bin_id=bin_id, round=1))
        for product_id, bin_id in dict.fromkeys(pairs):
            s.add(CountLine(id=uuid7(), task_id=task.id, product_id=product_id, bin_id=bin_id,
                            status="todo", variance=0, value_minor=0, reason=""))
        audit.record(s, "count.created", f"{task.number} {KINDS[kind]} {scope}"[:200], user=user)
        return task


async def _task(s: Session, task_id: str) -> CountTask:
    task = await s.get(CountTask, task_id) if len(task_id) <= 36 else None
    if task is None:
        raise CountError(_("That count no longer exists."))
    return task


async def cancel_task(db: Database, task_id: str, manager: StaffUser) -> CountTask:
    """Stop a task: lines not yet counted are dropped; lines waiting for approval stay
    on the manager's list (the task waits for them)."""
    async with db.write() as s:
        task = await _task(s, task_id)
        if task.status not in ("open", "counting"):
            raise CountError(_("Count %(number)s is %(status)s; it cannot be cancelled now.")
                             % {"number": task.number, "status": _(STATUS_WORDS[task.status])})
        await s.execute(update(CountLine).where(CountLine.task_id == task.id,
                                                CountLine.status.in_(("todo", "recount")))
                        .values(status="dropped"))
        await s.execute(delete(CountScan).where(CountScan.task_id == task.id))
        waiting = await s.scalar(select(func.count()).select_from(CountLine).where(
            CountLine.task_id == task.id, CountLine.status == "approval"))
        task.status = "review" if waiting else "cancelled"
        task.counter_id, task.counter_key = None, ""
        if not waiting:
            task.done_at = utcnow()
        audit.record(s, "count.cancelled", task.number, user=manager)
        return task


async def release_task(db: Database, task_id: str, manager: StaffUser) -> CountTask:
    """Free a task from its counter (a phone gone flat, a counter gone home): what they
    scanned in bins not yet sent is thrown away, so the next counter starts blind."""
    async with db.write() as s:
        task = await _task(s, task_id)
        if task.status != "counting":
            raise CountError(_("Count %(number)s is %(status)s, not being counted.")
                             % {"number": task.number, "status": _(STATUS_WORDS[task.status])})
        await s.execute(delete(CountScan).where(CountScan.task_id == task.id))
        task.status, task.counter_id, task.counter_key = "open", None, ""
        audit.record(s, "count.released", task.number, user=manager)
        return task


# ---- counting on the phone -----------------------------------------------------------


def new_phone_key() -> str:
    return secrets.token_hex(16)


async def _counted_before(s: Session, task: CountTask, user_id: str) -> bool:
    return bool(await s.scalar(select(exists().where(
        CountEntry.user_id == user_id, CountEntry.line_id == CountLine.id,
        CountLine.task_id == task.id))))


async def claim(db: Database, task_id: str, user: StaffUser, phone: str, *,
                alone: bool = False, take_over: bool = False) -> CountTask:
    """Start (or go on) counting a task on this phone. One phone per task: another
    person's claim is refused (a manager can free it); the same person on another phone
    (signed in again, a new phone) moves the count there only with ``take_over``, and
    the first phone can send nothing more. A recount is for someone who did not count
    the task before, unless ``alone`` says nobody else is there."""
    if not _REQUEST_ID.match(phone):
        raise CountError(_("This phone has no counting key; open the counts page again."))
    async with db.write() as s:
        task = await _task(s, task_id)
        if task.status == "counting":
            if task.counter_key == phone and task.counter_id == user.id:
                return task
            if task.counter_id == user.id:
                if not take_over:
                    raise CountError(_("You are counting %(number)s on another phone. Tap "
                                       "\"Count on this phone\" to go on here; the other "
                                       "phone stops.") % {"number": task.number},
                                     offer="here")
                task.counter_key = phone
                audit.record(s, "count.moved", f"{task.number} to another phone", user=user)
                return task
            who = await _user_name(s, task.counter_id)
            raise CountError(_("%(name)s is counting %(number)s on another phone. Only one "
                               "phone counts a task; a manager can free it.")
                             % {"name": who, "number": task.number})
        if task.status != "open":
            raise CountError(_("Count %(number)s is %(status)s.")
                             % {"number": task.number, "status": _(STATUS_WORDS[task.status])})
        if task.round > 1 and not alone and await _counted_before(s, task, user.id):
            raise CountError(_("You counted these bins last time: someone else should count "
                               "them again. If nobody else is here, tap \"Nobody else is "
                               "here\"."), offer="alone")
        task.status, task.counter_id, task.counter_key = "counting", user.id, phone
        task.claimed_at = utcnow()
        if task.round > 1 and alone:
            audit.record(s, "count.alone", f"{task.number} round {task.round}", user=user)
        return task


async def _user_name(s: Session, user_id: str | None) -> str:
    user = await s.get(User, user_id) if user_id else None
    return user.name if user is not None else _("Someone")


async def _held(s: Session, task_id: str, user: StaffUser, phone: str) -> CountTask:
    task = await _task(s, task_id)
    if task.status != "counting":
        raise CountError(_("Count %(number)s is %(status)s: open it from the counts list.")
                         % {"number": task.number, "status": _(STATUS_WORDS[task.status])})
    if task.counter_id != user.id or task.counter_key != phone:
        raise CountError(_("Count %(number)s is being counted on another phone.")
                         % {"number": task.number})
    return task


async def _pending_bin(s: Session, task: CountTask, bin_id: str) -> Bin:
    bin_ = await s.get(Bin, bin_id) if len(bin_id) <= 36 else None
    if bin_ is None:
        raise CountError(_("Scan the bin's label again."))
    row = await s.get(CountBin, (task.id, bin_.id, task.round))
    if row is None:
        raise CountError(_("Bin %(code)s is not part of count %(number)s.")
                         % {"code": bin_.code, "number": task.number})
    if row.done_at is not None:
        raise CountError(_("Bin %(code)s is already counted and sent. Nothing changed.")
                         % {"code": bin_.code})
    return bin_


@dataclass(frozen=True)
class Tally:
    product: Product
    quantity: int


@dataclass
class BinView:
    """What the counting phone shows for one bin: what this phone counted so far (never
    the book figure) and, when the count is for certain products only, their names."""

    task: CountTask
    bin: Bin
    tally: list[Tally]
    only: list[Product] = field(default_factory=list)
    note: str = ""


async def _bin_view(s: Session, task: CountTask, bin_: Bin, note: str = "") -> BinView:
    rows = (await s.execute(
        select(Product, func.sum(CountScan.quantity), func.max(CountScan.at))
        .join(CountScan, CountScan.product_id == Product.id)
        .where(CountScan.task_id == task.id, CountScan.bin_id == bin_.id,
               CountScan.round == task.round)
        .group_by(Product.id).order_by(func.max(CountScan.at).desc()))).all()
    only: list[Product] = []
    if not _open_scope(task):
        only = list(await s.scalars(
            select(Product).join(CountLine, CountLine.product_id == Product.id)
            .where(CountLine.task_id == task.id, CountLine.bin_id == bin_.id,
                   CountLine.status == "todo").order_by(Product.name)))
    return BinView(task, bin_, [Tally(p, int(q)) for p, q, _at in rows], only, note)


def _open_scope(task: CountTask) -> bool:
    return task.kind in OPEN_SCOPE and task.round == 1


async def open_bin(db: Database, task_id: str, user: StaffUser, phone: str,
                   code: str) -> BinView:
    """The counter scanned a bin label: it must be one of this round's bins not yet sent,
    with no pick in progress."""
    code = _clean(code, "bin label", 20).upper()
    if not code:
        raise CountError(_("Scan the bin's label."))
    async with db.read() as s:
        task = await _held(s, task_id, user, phone)
        bin_ = await s.scalar(select(Bin).where(Bin.code == code))
        if bin_ is None:
            raise CountError(_("%(code)s is not a bin label. Scan the label on the shelf.")
                             % {"code": code})
        await _pending_bin(s, task, bin_.id)
        await check_bin_settled(s, bin_)
        return await _bin_view(s, task, bin_)


async def bin_view(db: Database, task_id: str, user: StaffUser, phone: str,
                   bin_id: str) -> BinView:
    async with db.read() as s:
        task = await _held(s, task_id, user, phone)
        return await _bin_view(s, task, await _pending_bin(s, task, bin_id))


async def add_scan(db: Database, task_id: str, bin_id: str, user: StaffUser, phone: str, *,
                   code: str, quantity: str | None = None, request_id: str = "",
                   rules: Sequence[MeasureRule] = ()) -> BinView:
    """One scan (+1 piece, or the weight a scale label carries) or, with ``quantity``,
    a typed quantity of the scanned (or typed SKU's) product into the bin's count on this
    phone. A ``request_id`` seen before changes nothing (the phone sent it again after a
    lost answer). ``quantity`` None: a scan; a text: typed, and it must be a quantity."""
    code = _clean(code, "code", 64)
    typed = None if quantity is None else _clean(quantity, "quantity", 20)
    if request_id and not _REQUEST_ID.match(request_id):
        raise CountError(_("That scan came with a broken request id; scan it again."))
    async with db.write() as s:
        task = await _held(s, task_id, user, phone)
        bin_ = await _pending_bin(s, task, bin_id)
        if request_id and await s.get(CountScan, request_id) is not None:
            return await _bin_view(s, task, bin_, note=_("That scan was already counted."))
        await check_bin_settled(s, bin_)
        if not code:
            raise CountError(_("Scan an item, or type its SKU and how many."))
        try:
            found = await find_scanned(s, parse_scan(code, rules))
        except (BarcodeError, UnknownProduct) as exc:
            if await s.scalar(select(exists().where(Bin.code == code.upper()))):
                raise CountError(_("That is the label of bin %(code)s: send bin %(bin)s "
                                   "first, then scan the next bin.")
                                 % {"code": code.upper(), "bin": bin_.code}) from None
            raise CountError(_("%(reason)s Nothing was added.") % {"reason": exc}) from None
        product, scan = found.product, found.scan
        if typed is not None:
            try:
                qty = parse_quantity(typed, product.unit)
            except QuantityError as exc:
                raise CountError(_("%(name)s: %(reason)s. Nothing was added.")
                                 % {"name": product.name, "reason": exc}) from None
        elif product.unit == "piece":
            qty = scan.quantity or 1
        elif scan.weight_g:
            qty = scan.weight_g
        else:
            raise NeedQuantity(_("%(name)s is sold by %(unit)s: type how much is in the bin.")
                               % {"name": product.name, "unit": product.unit},
                               ProductRef(product.sku, product.name, product.unit))
        if not _open_scope(task):
            asked = await s.scalar(select(exists().where(
                CountLine.task_id == task.id, CountLine.bin_id == bin_.id,
                CountLine.product_id == product.id, CountLine.status == "todo")))
            if not asked:
                raise CountError(_("%(name)s is not asked for in this count of bin %(code)s: "
                                   "count only the products listed.")
                                 % {"name": product.name, "code": bin_.code})
        so_far = int(await s.scalar(
            select(func.coalesce(func.sum(CountScan.quantity), 0)).where(
                CountScan.task_id == task.id, CountScan.bin_id == bin_.id,
                CountScan.round == task.round, CountScan.product_id == product.id)) or 0)
        if so_far + qty > MAX_BASE_QTY:
            raise CountError(_("%(name)s: that is more than any bin holds; check the "
                               "quantity. Nothing was added.") % {"name": product.name})
        s.add(CountScan(id=request_id or uuid7().replace("-", ""), task_id=task.id,
                        bin_id=bin_.id, round=task.round, product_id=product.id, quantity=qty,
                        user_id=user.id, at=utcnow()))
        await s.flush()
        return await _bin_view(s, task, bin_)


async def undo_last(db: Database, task_id: str, bin_id: str, user: StaffUser,
                    phone: str) -> BinView:
    """Take back this bin's latest scan (a double scan, the wrong item)."""
    async with db.write() as s:
        task = await _held(s, task_id, user, phone)
        bin_ = await _pending_bin(s, task, bin_id)
        last = await s.scalar(select(CountScan).where(
            CountScan.task_id == task.id, CountScan.bin_id == bin_.id,
            CountScan.round == task.round).order_by(CountScan.at.desc(), CountScan.id.desc())
            .limit(1))
        if last is None:
            raise CountError(_("Nothing scanned in this bin yet."))
        await s.delete(last)
        await s.flush()
        return await _bin_view(s, task, bin_, note=_("Last scan taken back."))


@dataclass(frozen=True)
class BinSent:
    task: CountTask
    bin: Bin
    lines: int
    round_over: bool


async def finish_bin(db: Database, task_id: str, bin_id: str, user: StaffUser,
                     phone: str, policy: count_rules.CountPolicy = count_rules.DEFAULT_COUNT_POLICY,
                     ) -> BinSent:
    """Send a bin's count: every line of the bin takes the book figure now and is
    decided; an accepted difference posts now. A bin sent twice is refused."""
    async with db.write() as s:
        task = await _held(s, task_id, user, phone)
        bin_ = await _pending_bin(s, task, bin_id)
        await check_bin_settled(s, bin_)
        tally = {p: int(q) for p, q in (await s.execute(
            select(CountScan.product_id, func.sum(CountScan.quantity))
            .where(CountScan.task_id == task.id, CountScan.bin_id == bin_.id,
                   CountScan.round == task.round)
            .group_by(CountScan.product_id))).all()}
        lines = {line.product_id: line for line in await s.scalars(select(CountLine).where(
            CountLine.task_id == task.id, CountLine.bin_id == bin_.id,
            CountLine.status == "todo"))}
        if _open_scope(task):
            for product_id in tally.keys() - lines.keys():
                line = CountLine(id=uuid7(), task_id=task.id, product_id=product_id,
                                 bin_id=bin_.id, status="todo", variance=0, value_minor=0,
                                 reason="")
                s.add(line)
                lines[product_id] = line
        await s.flush()
        now = utcnow()
        for product_id, line in lines.items():
            product = await s.get(Product, product_id)
            assert product is not None
            counted = tally.get(product_id, 0)
            expected = await in_bin(s, product_id, bin_.id)
            earlier = list(await s.scalars(select(CountEntry.counted).where(
                CountEntry.line_id == line.id).order_by(CountEntry.round)))
            price, per = cost_of(product)
            decision = count_rules.decide(expected, [*earlier, counted], price, policy, per)
            s.add(CountEntry(id=uuid7(), line_id=line.id, round=task.round, counted=counted,
                             expected=expected, user_id=user.id, at=now))
            line.expected, line.counted = expected, counted
            line.variance, line.value_minor = decision.variance, decision.value_minor
            line.reason = decision.reason[:120]
            if decision.action == "accept":
                line.status = "matched" if decision.variance == 0 else "posted"
                line.decided_at = now
                if decision.variance:
                    await _post(s, task, line, product, bin_, user.id)
            elif decision.action == "recount":
                line.status = "recount"
            else:
                line.status = "approval"
        row = await s.get(CountBin, (task.id, bin_.id, task.round))
        assert row is not None
        row.done_at, row.done_by = now, user.id  # its scans stay: a late resend is seen
        round_over = await _after_bin(s, task)
        return BinSent(task, bin_, len(lines), round_over)


async def _after_bin(s: Session, task: CountTask) -> bool:
    """Move the task on once the round's last bin is sent: recount lines start the next
    round (free for another counter); else it waits for the manager or is done."""
    left = await s.scalar(select(func.count()).select_from(CountBin).where(
        CountBin.task_id == task.id, CountBin.round == task.round, CountBin.done_at.is_(None)))
    if left:
        return False
    again = list(await s.scalars(select(CountLine).where(
        CountLine.task_id == task.id, CountLine.status == "recount")))
    task.counter_id, task.counter_key = None, ""
    if again:
        task.round += 1
        task.status = "open"
        for bin_id in sorted({line.bin_id for line in again}):
            s.add(CountBin(task_id=task.id, bin_id=bin_id, round=task.round))
        for line in again:
            line.status = "todo"
    else:
        await _settle(s, task)
    return True


async def _settle(s: Session, task: CountTask) -> None:
    waiting = await s.scalar(select(func.count()).select_from(CountLine).where(
        CountLine.task_id == task.id, CountLine.status.in_(WAITING)))
    if waiting:
        task.status = "review"
    else:
        task.status, task.done_at = "done", utcnow()


async def _post(s: Session, task: CountTask, line: CountLine, product: Product, bin_: Bin,
                user_id: str | None) -> None:
    """The difference counted minus the book figure at the count, as ledger moves."""
    delta = line.variance
    reference = f"count {task.number}"
    if delta > 0:
        await record_move(s, product=product, bin=bin_, delta=delta, reason="count",
                          reference=reference, user_id=user_id)
    elif delta < 0:
        await take_fefo(s, product=product, quantity=-delta, reason="count", reference=reference,
                        user_id=user_id, bin=bin_, include_expired=True)


async def decide_line(db: Database, line_id: str, manager: StaffUser, *,
                      approve: bool) -> CountLine:
    """A manager approves (the difference posts) or rejects (the book stays) a line."""
    async with db.write() as s:
        line = await s.get(CountLine, line_id) if len(line_id) <= 36 else None
        if line is None:
            raise CountError(_("That count line no longer exists."))
        task = await _task(s, line.task_id)
        if line.status != "approval":
            raise CountError(_("That difference was already decided. Nothing changed."))
        product = await s.get(Product, line.product_id)
        bin_ = await s.get(Bin, line.bin_id)
        assert product is not None and bin_ is not None
        # Approving one's own difference needs someone else's count agreeing with it
        # (a recount by another person), or nobody else able to approve.
        counters = set(await s.scalars(select(CountEntry.user_id).where(
            CountEntry.line_id == line.id)))
        if approve and counters == {manager.id}:
            others = await s.scalar(select(func.count(User.id)).where(
                User.role.in_(("manager", "admin")), User.active.is_(True),
                User.id != manager.id))
            if others:
                # A difference big enough to need approval is not approved by the
                # person who counted it when someone else can look.
                raise CountError(_("Only you counted this: another manager approves it (or "
                                   "reject it and have someone count again). Nothing changed."))
            audit.record(s, "count.self_approved", f"{task.number} {product.sku}: the only "
                         "manager", user=manager)
        now = utcnow()
        line.decided_by, line.decided_at = manager.id, now
        if approve:
            line.status = "posted"
            await _post(s, task, line, product, bin_, manager.id)
        else:
            line.status = "rejected"
        audit.record(s, "count.approved" if approve else "count.rejected",
                     f"{task.number} bin {bin_.code} {product.sku}: {line.variance:+d}",
                     user=manager, approver=manager)
        if task.status == "review":
            await _settle(s, task)
        return line


# ---- reading -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    task: CountTask
    bins_left: int
    bins: int
    lines: int
    waiting: int  # lines waiting for a manager
    counter: str


async def list_tasks(db: Database, *, finished: bool = False, limit: int = 50) -> list[TaskRow]:
    async with db.read() as s:
        states = ("done", "cancelled") if finished else UNFINISHED
        tasks = list(await s.scalars(select(CountTask).where(CountTask.status.in_(states))
                                     .order_by(CountTask.created_at.desc()).limit(limit)))
        out = []
        for task in tasks:
            total = int(await s.scalar(select(func.count()).select_from(CountBin).where(
                CountBin.task_id == task.id, CountBin.round == task.round)) or 0)
            left = int(await s.scalar(select(func.count()).select_from(CountBin).where(
                CountBin.task_id == task.id, CountBin.round == task.round,
                CountBin.done_at.is_(None))) or 0)
            lines = int(await s.scalar(select(func.count()).select_from(CountLine).where(
                CountLine.task_id == task.id)) or 0)
            waiting = int(await s.scalar(select(func.count()).select_from(CountLine).where(
                CountLine.task_id == task.id, CountLine.status == "approval")) or 0)
            counter = await _user_name(s, task.counter_id) if task.counter_id else ""
            out.append(TaskRow(task, left, total, lines, waiting, counter))
        return out


@dataclass(frozen=True)
class LineRow:
    line: CountLine
    product: Product
    bin: Bin
    counts: list[int]  # every count of the line, oldest first


@dataclass(frozen=True)
class TaskDetail:
    task: CountTask
    lines: list[LineRow]
    bins_left: list[Bin]
    counter: str


async def _line_rows(s: Session, where: Sequence[Any]) -> list[LineRow]:
    rows = (await s.execute(
        select(CountLine, Product, Bin)
        .join(Product, Product.id == CountLine.product_id).join(Bin, Bin.id == CountLine.bin_id)
        .where(*where).order_by(Bin.pick_seq, Bin.code, Product.name))).all()
    ids = [line.id for line, _p, _b in rows]
    counts: dict[str, list[int]] = {}
    for line_id, counted in (await s.execute(
            select(CountEntry.line_id, CountEntry.counted).where(CountEntry.line_id.in_(ids))
            .order_by(CountEntry.round))).all():
        counts.setdefault(line_id, []).append(counted)
    return [LineRow(line, p, b, counts.get(line.id, [])) for line, p, b in rows]


async def task_detail(db: Database, task_id: str) -> TaskDetail:
    """A task for the manager: every line with its book figure and counts."""
    async with db.read() as s:
        task = await _task(s, task_id)
        lines = await _line_rows(s, [CountLine.task_id == task.id])
        left = list(await s.scalars(
            select(Bin).join(CountBin, CountBin.bin_id == Bin.id)
            .where(CountBin.task_id == task.id, CountBin.round == task.round,
                   CountBin.done_at.is_(None)).order_by(Bin.pick_seq, Bin.code)))
        return TaskDetail(task, lines, left, await _user_name(s, task.counter_id)
                          if task.counter_id else "")


@dataclass(frozen=True)
class PhoneTask:
    """A task on the counting phone: the bins still to count and, where the count is for
    certain products only, their names per bin. Never a book figure."""

    task: CountTask
    bins_left: list[Bin]
    only: dict[str, list[str]]  # bin id -> product names (closed scope)


async def phone_task(db: Database, task_id: str, user: StaffUser, phone: str) -> PhoneTask:
    async with db.read() as s:
        task = await _held(s, task_id, user, phone)
        left = list(await s.scalars(
            select(Bin).join(CountBin, CountBin.bin_id == Bin.id)
            .where(CountBin.task_id == task.id, CountBin.round == task.round,
                   CountBin.done_at.is_(None)).order_by(Bin.pick_seq, Bin.code)))
        only: dict[str, list[str]] = {}
        if not _open_scope(task):
            for bin_id, name in (await s.execute(
                    select(CountLine.bin_id, Product.name)
                    .join(Product, Product.id == CountLine.product_id)
                    .where(CountLine.task_id == task.id, CountLine.status == "todo")
                    .order_by(Product.name))).all():
                only.setdefault(bin_id, []).append(name)
        return PhoneTask(task, left, only)


async def approvals(db: Database) -> list[LineRow]:
    """Lines waiting for a manager, oldest task first."""
    async with db.read() as s:
        rows = await _line_rows(s, [CountLine.status == "approval"])
        return sorted(rows, key=lambda r: r.line.task_id)


async def zones(db: Database) -> list[str]:
    async with db.read() as s:
        return [z for z in await s.scalars(
            select(Bin.zone).where(Bin.zone != "").distinct().order_by(Bin.zone))]
