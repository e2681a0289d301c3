"""Returns of online orders at the store (issue #19). Each use case is one transaction:

- `apply_requested`: the hub's `return.requested` (inside the sync apply transaction)
  becomes an expected return; a repeat of the same return_id changes nothing.
- `find_open`: the desk scans a bag label, an order code or the return number.
- `grade`: a quantity of a line graded in base units (one piece, or grams/millilitres of a
  weighed line: typed, the whole line, or a scale label's weight), as resellable,
  damaged, customer_damaged, expired or wrong_item, with an optional photo.
- `finish`: refund decided (core/return_rules.decide), stock moved on the ledger, the
  outbox's `stock.moved` and `return.completed` and the audit row, all at once; a
  second desk finishing the same return gets AlreadyFinished and nothing moves twice.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from app.catalog.barcodes import BarcodeError, MeasureRule, parse_scan
from app.catalog.models import Product
from app.catalog.service import UnknownProduct, find_scanned
from app.catalog.units import QuantityError, format_quantity, parse_quantity
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import N_, _
from app.core.money import format_amount
from app.core.return_rules import (
    GRADES,
    LINE_CAP_MINOR,
    WRITE_OFF_REASON,
    Decision,
    GradedLine,
    ReturnRuleError,
    decide,
)
from app.orders import service as orders
from app.orders.models import Order
from app.picking.bags import NotABagCode, order_number, parse_bag_code
from app.returns.models import (
    OPEN_STATES,
    OnlineReturn,
    OnlineReturnLine,
    OnlineReturnPhoto,
    OnlineReturnStep,
)
from app.stock.service import bin_for_sale, record_move
from app.sync.outbox import emit

log = logging.getLogger("kirana.returns")

MAX_LINES = 200
MAX_QUANTITY = 1_000_000  # base units on one line (a kilogram is 1000)
GRADE_WORDS = {"resellable": N_("back on the shelf"), "damaged": N_("damaged (arrived so)"),
               "customer_damaged": N_("damaged by the customer"), "expired": N_("expired"),
               "wrong_item": N_("wrong item")}


class ReturnError(ValueError):
    """A refusal with a message for the desk; nothing was changed."""


class BadReturnEvent(ValueError):
    """A `return.requested` no hub should send (the frame fails with 4400)."""


class NotFound(ReturnError):
    pass


class AlreadyFinished(ReturnError):
    """Another desk (or a double tap) finished this return first."""


class AlreadyGraded(ReturnError):
    """This very grade (its request id) was counted before: nothing counted again."""

    def __init__(self, sku: str) -> None:
        super().__init__(f"{sku}: that grade was counted already.")
        self.sku = sku


# ---- return.requested from the hub -----------------------------------------------------


def _text(data: dict, key: str, most: int, *, least: int = 0, empty_ok: bool = True) -> str:
    value = data.get(key)
    if value is None and empty_ok and least == 0:
        return ""
    if not isinstance(value, str) or not least <= len(value) <= most or "\x00" in value:
        raise BadReturnEvent(f"{key!r} missing, not text, NUL or longer than {most}")
    return value


def _int(data: dict, key: str, least: int, most: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise BadReturnEvent(f"{key!r} missing or not a whole number from {least} to {most}")
    return value


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int
    unit_price_minor: int
    refundable_minor: int


@dataclass(frozen=True)
class Requested:
    return_id: str
    number: str
    kind: str
    mode: str
    hub_order_id: str
    order_number: str
    channel: str
    external_id: str
    channel_return_id: str | None
    reason: str
    exchange: bool
    at: datetime
    lines: tuple[RequestedLine, ...]


def parse_requested(data: Any) -> Requested:
    """The event's data checked against the contract (docs/sync-protocol.md); anything
    else raises BadReturnEvent."""
    if not isinstance(data, dict):
        raise BadReturnEvent("data is not an object")
    kind = _text(data, "kind", 8)
    mode = _text(data, "mode", 8)
    if kind not in ("customer", "rto") or mode not in ("pickup", "walk_in", "rto"):
        raise BadReturnEvent("'kind' or 'mode' is not one the protocol knows")
    exchange = data.get("exchange", False)
    if not isinstance(exchange, bool):
        raise BadReturnEvent("'exchange' is not true or false")
    try:
        at = datetime.fromisoformat(_text(data, "at", 40, least=10))
    except ValueError:
        raise BadReturnEvent("'at' is not a time") from None
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list) or not 0 < len(raw_lines) <= MAX_LINES:
        raise BadReturnEvent(f"'lines' must be a list of 1 to {MAX_LINES} lines")
    lines = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise BadReturnEvent("a line is not an object")
        quantity = _int(raw, "quantity", 1, MAX_QUANTITY)
        lines.append(RequestedLine(
            sku=_text(raw, "sku", 40, least=1).upper(), quantity=quantity,
            unit_price_minor=_int(raw, "unit_price_minor", 0, LINE_CAP_MINOR),
            refundable_minor=_int(raw, "refundable_minor", 0, LINE_CAP_MINOR)))
    if len({line.sku for line in lines}) != len(lines):
        raise BadReturnEvent("a SKU is on two lines")
    channel_return_id = data.get("channel_return_id")
    return Requested(
        return_id=_text(data, "return_id", 36, least=1),
        number=_text(data, "number", 20, least=1),
        kind=kind, mode=mode,
        hub_order_id=_text(data, "hub_order_id", 36),
        order_number=_text(data, "order_number", 20),
        channel=_text(data, "channel", 40, least=1),
        external_id=_text(data, "external_id", 80, least=1),
        channel_return_id=(None if channel_return_id is None
                           else _text(data, "channel_return_id", 80, least=1)),
        reason=_text(data, "reason", 200), exchange=exchange, at=at, lines=tuple(lines))


async def apply_requested(s: Session, cfg: StoreConfig, data: Any) -> OnlineReturn | None:
    """A return the hub sent this store: expected at the desk from now on. The same
    return_id again (a resend) changes nothing; None then."""
    req = parse_requested(data)
    if await s.get(OnlineReturn, req.return_id) is not None:
        log.info("return %s is here already: the repeat changes nothing", req.number)
        return None
    order = await s.scalar(select(Order).where(Order.channel == req.channel,
                                               Order.external_id == req.external_id))
    if order is None:
        # The hub may send a return to the nearest dark store rather than the one that
        # packed the order: it is expected here all the same (docs/returns.md).
        log.info("return %s: order %s/%s was not packed here", req.number, req.channel,
                 req.external_id)
    skus = [line.sku for line in req.lines]
    products = dict((await s.execute(
        select(Product.sku, Product.id).where(Product.sku.in_(skus)))).all())
    now = utcnow()
    ret = OnlineReturn(
        id=req.return_id, number=req.number, kind=req.kind, mode=req.mode,
        hub_order_id=req.hub_order_id,
        order_number=req.order_number or (order.number if order else ""),
        channel=req.channel, external_id=req.external_id,
        channel_return_id=req.channel_return_id, reason=req.reason, exchange=req.exchange,
        order_id=order.id if order else None, state="expected", requested_at=now,
        finished_by="", refund_total_minor=0)
    ret.lines = [OnlineReturnLine(position=i, sku=line.sku, product_id=products.get(line.sku),
                                  expected=line.quantity,
                                  unit_price_minor=line.unit_price_minor,
                                  refundable_minor=line.refundable_minor,
                                  resellable=0, damaged=0, customer_damaged=0, expired=0,
                                  wrong_item=0, refund_minor=0)
                 for i, line in enumerate(req.lines)]
    s.add(ret)
    for sku in skus:
        if sku not in products:
            log.warning("return %s: SKU %s is not in this store's catalogue", req.number, sku)
    what = ("RTO: the bags are coming back" if req.kind == "rto"
            else f"Return requested ({req.mode.replace('_', ' ')})")
    s.add(OnlineReturnStep(return_id=ret.id, what=f"{what}: {req.reason}"[:300], by="hub",
                           at=now))
    return ret


# ---- reads for the desk ------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnView:
    ret: OnlineReturn
    lines: list[OnlineReturnLine]
    names: dict[str, str]
    steps: list[OnlineReturnStep]
    photos: int
    units: dict[str, str] = field(default_factory=dict)  # sku -> piece | kg | litre

    @property
    def open(self) -> bool:
        return self.ret.state in OPEN_STATES


async def expected_returns(db: Database, limit: int = 100) -> list[OnlineReturn]:
    async with db.read() as s:
        return list(await s.scalars(
            select(OnlineReturn).where(OnlineReturn.state.in_(OPEN_STATES))
            .order_by(OnlineReturn.requested_at).limit(limit)))


async def recent_finished(db: Database, limit: int = 20) -> list[OnlineReturn]:
    async with db.read() as s:
        return list(await s.scalars(
            select(OnlineReturn).where(OnlineReturn.state.not_in(OPEN_STATES))
            .order_by(OnlineReturn.finished_at.desc()).limit(limit)))


async def _load(s: Session, return_id: str) -> OnlineReturn:
    ret = await s.get(OnlineReturn, return_id[:36])
    if ret is None:
        raise NotFound(_("No such return."))
    return ret


async def view(db: Database, return_id: str) -> ReturnView:
    async with db.read() as s:
        ret = await _load(s, return_id)
        skus = [line.sku for line in ret.lines]
        rows = (await s.execute(select(Product.sku, Product.name, Product.unit)
                                .where(Product.sku.in_(skus)))).all()
        names = {sku: name for sku, name, _unit in rows}
        steps = list(await s.scalars(select(OnlineReturnStep).where(
            OnlineReturnStep.return_id == ret.id).order_by(OnlineReturnStep.at)))
        photos = len(list(await s.scalars(select(OnlineReturnPhoto.id).where(
            OnlineReturnPhoto.return_id == ret.id))))
        return ReturnView(ret, list(ret.lines), names, steps, photos,
                          {sku: unit for sku, _name, unit in rows})


async def steps_for_order(db: Database, order_id: str) -> list[tuple[OnlineReturn,
                                                                     OnlineReturnStep]]:
    """The returns' steps of one order, for its timeline."""
    async with db.read() as s:
        rows = await s.execute(
            select(OnlineReturn, OnlineReturnStep)
            .join(OnlineReturnStep, OnlineReturnStep.return_id == OnlineReturn.id)
            .where(OnlineReturn.order_id == order_id).order_by(OnlineReturnStep.at))
        return [(r, st) for r, st in rows.all()]


@orders.on_timeline
async def order_timeline(db: Database, order_id: str) -> list[tuple[Any, str, str]]:
    """The order's return steps for its page at the store (orders.more_timeline)."""
    return [(step.at, f"{ret.number}: {step.what}", step.by)
            for ret, step in await steps_for_order(db, order_id)]


async def find_open(db: Database, cfg: StoreConfig, code: str) -> OnlineReturn:
    """The open return a scanned bag label, order code (D2-4711, 4711, the channel's
    order id) or return number (RET-000012) names."""
    text = code.strip()[:120]
    if not text or "\x00" in text:
        raise ReturnError(_("Scan the bag label or type the order code."))
    keys = {text, text.upper()}
    with contextlib.suppress(NotABagCode):
        keys.add(parse_bag_code(text).number)
    number = order_number(cfg.store.id, text)
    if number:
        keys.add(number)
    async with db.read() as s:
        local = list(await s.scalars(select(Order.id).where(Order.number.in_(keys))))
        found = await s.scalar(
            select(OnlineReturn).where(
                OnlineReturn.state.in_(OPEN_STATES),
                or_(OnlineReturn.number.in_(keys), OnlineReturn.order_number.in_(keys),
                    OnlineReturn.external_id.in_(keys), OnlineReturn.order_id.in_(local)))
            .order_by(OnlineReturn.requested_at).limit(1))
    if found is None:
        raise NotFound(_("No return is expected for %(code)s. Check the code, or ask the "
                         "manager: the hub may not have sent it yet.") % {"code": text})
    return found


@dataclass(frozen=True)
class Scanned:
    """A scanned item's line, its product's unit, and the weight (base units) a scale
    label carried (None for a plain barcode)."""
    line: OnlineReturnLine
    unit: str
    weight: int | None = None


async def scan_item(db: Database, return_id: str, code: str,
                    rules: tuple[MeasureRule, ...] = ()) -> OnlineReturnLine:
    """The line of the return a scanned item belongs to (nothing is written). A code
    that is not on the return is refused with a clear message."""
    return (await scan_for_grading(db, return_id, code, rules)).line


async def scan_for_grading(db: Database, return_id: str, code: str,
                           rules: tuple[MeasureRule, ...] = ()) -> Scanned:
    """`scan_item` with the product's unit and a scale label's weight (variable-measure
    EAN-13 by the store's barcode rules, as the till reads them): the desk grades that
    weight. A label heavier than what is left to grade on the line is refused."""
    code = code.strip()[:64]
    if not code or "\x00" in code:
        raise ReturnError(_("Scan the item's barcode."))
    async with db.read() as s:
        ret = await _load(s, return_id)
        if ret.state not in OPEN_STATES:
            raise AlreadyFinished(_("%(number)s is finished already.") % {"number": ret.number})
        unit, weight = "piece", None
        try:
            found = await find_scanned(s, parse_scan(code, rules))
            sku, unit = found.product.sku, found.product.unit
            if unit != "piece" and found.scan.weight_g:
                weight = found.scan.weight_g
        except (BarcodeError, UnknownProduct):
            sku = code.upper()
        for line in ret.lines:
            if line.sku == sku:
                left = line.expected - line.received
                if left <= 0:
                    raise ReturnError(_("All %(quantity)s of %(sku)s are graded already. "
                                        "Nothing changed.")
                                      % {"quantity": format_quantity(line.expected, unit),
                                         "sku": line.sku})
                if weight is not None and weight > left:
                    raise ReturnError(
                        _("The label says %(weight)s, but only %(left)s of %(sku)s is left "
                          "to grade. Nothing changed: weigh it again or type the weight.")
                        % {"weight": format_quantity(weight, unit),
                           "left": format_quantity(left, unit), "sku": line.sku})
                return Scanned(line, unit, weight)
    raise ReturnError(_("%(code)s is not in return %(number)s. Nothing changed: put it "
                        "aside and show the manager.") % {"code": code, "number": ret.number})


async def suggested_bin(db: Database, product_id: str | None) -> str:
    """Where a resellable unit goes: the put-away rule (the product's fullest bin)."""
    if not product_id:
        return ""
    async with db.read() as s:
        product = await s.get(Product, product_id)
        return (await bin_for_sale(s, product)).code if product else ""


# ---- grading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    path: str          # relative to the data dir
    size: int
    content_type: str


MAX_TYPED = 40  # characters of a typed quantity read at all
# A unit written after the number: (suffix, in base units?) -- grams and millilitres
# are whole base units; kg and litres go through parse_quantity like "0.500".
_SUFFIXES = {"kg": (("kg", False), ("g", True)),
             "litre": (("litre", False), ("ml", True), ("l", False))}
_BASE_WORD = {"kg": N_("grams"), "litre": N_("millilitres")}


def read_quantity(text: str, unit: str) -> int:
    """A quantity typed at the desk, in base units: pieces as a whole number; a weighed
    (kg) or measured (litre) line as "0.500" (kg/L, the till's way) or with its unit
    written: "500 g", "0.5 kg", "750 ml", "1 L". The number goes through the catalogue's
    own parse_quantity, so the desk reads quantities as every other screen does."""
    raw = str(text)[:MAX_TYPED]
    cleaned = raw.strip().lower().replace(" ", "")
    try:
        if "\x00" in raw or not cleaned:
            raise QuantityError(_("type how much came back"))
        if unit == "piece":
            return parse_quantity(cleaned, "piece")
        for suffix, base in _SUFFIXES.get(unit, ()):  # longest first: "kg" before "g"
            if cleaned.endswith(suffix):
                number = cleaned.removesuffix(suffix)
                if base and "." in number:
                    raise QuantityError(_("%(unit)s must be a whole number")
                                        % {"unit": _(_BASE_WORD[unit])})
                return parse_quantity(number, "piece" if base else unit)
        return parse_quantity(cleaned, unit)
    except QuantityError as exc:
        hint = (_("a whole number of pieces") if unit == "piece"
                else _("like 0.500 (kg) or 500 g") if unit == "kg"
                else _("like 0.750 (L) or 750 ml"))
        why = str(exc)
        raise ReturnError(_("%(why)s. Type %(hint)s. Nothing changed.")
                          % {"why": f"{why[:1].upper()}{why[1:]}", "hint": hint}) from None


async def grade(db: Database, return_id: str, sku: str, grade_: str, user: StaffUser,
                photo: Photo | None = None, request_id: str = "", *,
                quantity: int | str = 1, whole: bool = False) -> OnlineReturnLine:
    """`quantity` base units of `sku` graded (one piece; grams or millilitres of a
    weighed line), or as typed at the desk (text read by `read_quantity` in the line's
    unit: "0.500" or "500 g"; empty means one piece, and is refused for a weighed line),
    or with `whole` all that is left ungraded on the line. Refused (nothing changes)
    when the quantity is not a whole number from 1 to what is left ungraded on the line,
    the return is finished, or the SKU is not on it. The same `request_id` again (a
    retried or double-sent form) changes nothing and answers the line."""
    if grade_ not in GRADES:
        raise ReturnError(_("Choose how the item came back."))
    if not isinstance(quantity, str) and (isinstance(quantity, bool)
                                          or not isinstance(quantity, int) or quantity < 1):
        raise ReturnError(_("The quantity must be a whole number above zero. Nothing "
                            "changed."))
    request_id = request_id.strip()[:36]
    async with db.write() as s:
        ret = await _load(s, return_id)
        if request_id and await s.scalar(select(OnlineReturnStep.id).where(
                OnlineReturnStep.return_id == ret.id,
                OnlineReturnStep.request_id == request_id)) is not None:
            raise AlreadyGraded(sku.upper()[:40])
        if ret.state not in OPEN_STATES:
            raise AlreadyFinished(_("%(number)s is finished already. Nothing changed.")
                                  % {"number": ret.number})
        line = next((li for li in ret.lines if li.sku == sku.upper()[:40]), None)
        if line is None:
            raise ReturnError(_("%(sku)s is not in return %(number)s. Nothing changed.")
                              % {"sku": sku[:40], "number": ret.number})
        product = await s.get(Product, line.product_id) if line.product_id else None
        unit = product.unit if product is not None else "piece"
        left = line.expected - line.received
        if left <= 0:
            raise ReturnError(_("All %(quantity)s of %(sku)s are graded already.")
                              % {"quantity": format_quantity(line.expected, unit),
                                 "sku": line.sku})
        if whole:
            quantity = left
        elif isinstance(quantity, str):
            if quantity.strip() or unit == "piece":
                quantity = read_quantity(quantity, unit) if quantity.strip() else 1
            else:
                raise ReturnError(_("Type the weight of %(sku)s that came back (like 0.500 "
                                    "or 500 g), press Whole line, or scan its scale label. "
                                    "Nothing changed.") % {"sku": line.sku})
        if quantity > left:
            raise ReturnError(_("Only %(left)s of %(sku)s is left to grade, not "
                                "%(quantity)s. Nothing changed.")
                              % {"left": format_quantity(left, unit), "sku": line.sku,
                                 "quantity": format_quantity(quantity, unit)})
        if grade_ == "resellable" and line.product_id is None:
            raise ReturnError(_("%(sku)s is not in this store's catalogue, so it cannot go "
                                "back on a shelf: grade it damaged or wrong item.")
                              % {"sku": line.sku})
        setattr(line, grade_, getattr(line, grade_) + quantity)
        now = utcnow()
        if ret.state == "expected":
            ret.received_at = now
        ret.state = "receiving"
        s.add(OnlineReturnStep(return_id=ret.id, by=user.name, at=now,
                               what=f"{format_quantity(quantity, unit)} × {line.sku}: "
                                    f"{GRADE_WORDS[grade_]}",
                               request_id=request_id or None))
        if photo is not None:
            s.add(OnlineReturnPhoto(return_id=ret.id, sku=line.sku, grade=grade_,
                                    path=photo.path, size=photo.size,
                                    content_type=photo.content_type, by=user.name, at=now))
        return line


async def undo_grades(db: Database, return_id: str, sku: str, user: StaffUser) -> None:
    """Start a line's grading again (a unit graded wrongly): its counts go back to zero."""
    async with db.write() as s:
        ret = await _load(s, return_id)
        if ret.state not in OPEN_STATES:
            raise AlreadyFinished(_("%(number)s is finished already. Nothing changed.")
                                  % {"number": ret.number})
        for line in ret.lines:
            if line.sku == sku.upper()[:40]:
                for g in GRADES:
                    setattr(line, g, 0)
                ret.state = "receiving"
                s.add(OnlineReturnStep(return_id=ret.id, what=f"{line.sku}: graded again",
                                       by=user.name, at=utcnow()))


# ---- finishing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    state: str              # completed | rejected | awaiting_approval
    refund_total_minor: int
    why: str = ""           # why a manager is needed (awaiting_approval)


def _graded(ret: OnlineReturn) -> list[GradedLine]:
    return [GradedLine(line.sku, line.expected, line.refundable_minor, line.graded())
            for line in ret.lines]


def preview(ret: OnlineReturn, cfg: StoreConfig) -> Decision:
    """The decision the return would get now (for the desk to show before Finish)."""
    return decide(_graded(ret), cfg.returns.approval_above_rupees * 100)


async def finish(db: Database, cfg: StoreConfig, return_id: str, user: StaffUser, *,
                 approver: StaffUser | None = None, reject: bool = False) -> Finished:
    """Finish a return in one transaction. Without the approval the rule asks for, the
    return waits for a manager (state awaiting_approval) and nothing else changes."""
    async with db.write() as s:
        ret = await _load(s, return_id)
        if ret.state not in OPEN_STATES:
            raise AlreadyFinished(
                _("%(number)s was finished already by %(by)s. Nothing changed.")
                % {"number": ret.number, "by": ret.finished_by or _("another desk")})
        graded = _graded(ret)
        if not reject and not any(line.received for line in graded):
            raise ReturnError(_("Nothing is graded yet: scan each item and grade it first."))
        try:
            decision = decide(graded, cfg.returns.approval_above_rupees * 100)
        except ReturnRuleError as exc:
            raise ReturnError(str(exc)) from None
        if (decision.needs_approval or reject) and approver is None:
            if ret.state != "awaiting_approval" and not reject:
                ret.state = "awaiting_approval"
                s.add(OnlineReturnStep(return_id=ret.id, by=user.name, at=utcnow(),
                                       what=f"Waiting for a manager: {decision.why}"))
            return Finished("awaiting_approval", decision.total_minor, decision.why
                            or N_("a manager rejects a return"))
        state = "rejected" if reject else "completed"
        now = utcnow()
        # The guard against a second desk: only the transaction that moves the return out
        # of an open state goes on (the write lock serialises them; this makes it explicit).
        won = await s.execute(
            update(OnlineReturn).where(OnlineReturn.id == ret.id,
                                       OnlineReturn.state.in_(OPEN_STATES))
            .values(state=state, finished_at=now, finished_by=user.name,
                    approved_by=approver.name if approver else None,
                    refund_total_minor=0 if reject else decision.total_minor)
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            raise AlreadyFinished(_("%(number)s was finished already. Nothing changed.")
                                  % {"number": ret.number})
        refunds = (0,) * len(graded) if reject else decision.refunds
        for line, refund in zip(ret.lines, refunds, strict=True):
            line.refund_minor = refund
        if not reject:
            await _move_stock(s, ret, user)
        emit(s, "return.completed", completed_event(ret, refunds, state, now, user, approver))
        total = sum(refunds)
        what = ("Rejected by " + (approver.name if approver else user.name) if reject
                else f"Finished: refund {format_amount(total)}"
                + (f", approved by {approver.name}" if approver else ", automatic"))
        s.add(OnlineReturnStep(return_id=ret.id, what=what, by=user.name, at=now))
        audit.record(s, "return_" + state, f"{ret.number} order {ret.order_number} refund "
                     f"{total} paise", user=user.id or None,
                     approver=approver.id if approver else None, at=now)
        return Finished(state, total)


async def _move_stock(s: Session, ret: OnlineReturn, user: StaffUser) -> None:
    """Resellable units onto the bin the put-away rule names (reason `return`); damaged
    and expired units come in with reason `return` and leave at once as their own
    write-off moves, so on-hand is right and the loss shows on the ledger. Wrong items
    are not the store's stock: no move."""
    reference = f"{ret.number} order {ret.order_number or ret.external_id}"
    for line in ret.lines:
        if line.product_id is None:
            continue
        product = await s.get(Product, line.product_id)
        if product is None:
            continue
        written_off = {reason: 0 for reason in WRITE_OFF_REASON.values()}
        for grade_, reason in WRITE_OFF_REASON.items():
            written_off[reason] += getattr(line, grade_)
        back = line.resellable + sum(written_off.values())
        if back == 0:
            continue
        bin_ = await bin_for_sale(s, product)
        uid = user.id or None
        await record_move(s, product=product, bin=bin_, delta=back, reason="return",
                          reference=reference, user_id=uid)
        for reason, count in written_off.items():
            if count:
                await record_move(s, product=product, bin=bin_, delta=-count, reason=reason,
                                  reference=reference, user_id=uid)


def completed_event(ret: OnlineReturn, refunds: tuple[int, ...], state: str, at: datetime,
                    user: StaffUser, approver: StaffUser | None) -> dict[str, Any]:
    """The data of `return.completed` (docs/sync-protocol.md)."""
    return {
        "return_id": ret.id, "number": ret.number, "at": at.isoformat(), "by": user.name,
        "decision": "rejected" if state == "rejected" else "refund",
        "approved_by": approver.name if approver else None,
        "lines": [{"sku": line.sku, "expected": line.expected, "received": line.received,
                   "resellable": line.resellable,
                   "damaged": line.damaged + line.customer_damaged,
                   "expired": line.expired, "wrong_item": line.wrong_item,
                   "refund_minor": refund}
                  for line, refund in zip(ret.lines, refunds, strict=True)],
        "refund_total_minor": sum(refunds),
    }
