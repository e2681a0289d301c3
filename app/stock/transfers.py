"""Stock transfers at a store (issue #17): raise a request, pick and dispatch what
leaves (the source), receive what arrives with its differences (the destination), and
apply the hub's steps (approved, incoming, cancelled). Each public function is one
transaction that writes the transfer, its ledger moves and its outbox event together.
The rules are in transfer_rules.py; the hub's side in app/hub/transfers.py."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.db import Database, Session, next_number
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.words import count_of
from app.stock import service
from app.stock import transfer_rules as rules
from app.stock.models import Bin, Transfer, TransferLine, TransferPart
from app.stock.transfer_rules import Line, TransferRuleError
from app.sync.outbox import emit

log = logging.getLogger("kirana.stock")


class TransferError(ValueError):
    """A refused step; the message is shown to the person as it is."""


class NotFound(TransferError):
    pass


class MoreThanExpected(TransferError):
    """More typed than asked (pick) or sent (receive): nothing is written until the
    person confirms (`more_ok`). The page shows the question with what they typed."""


@dataclass
class TransferView:
    transfer: Transfer
    lines: list[TransferLine] = field(default_factory=list)
    parts: list[TransferPart] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # sku -> product name

    def parts_of(self, sku: str) -> list[TransferPart]:
        return [p for p in self.parts if p.sku == sku]


def _by(user: Any) -> str:
    return str(getattr(user, "name", "") or "")[:80]


async def _get(s: Session, transfer_id: str) -> Transfer:
    transfer = await s.get(Transfer, transfer_id[:36])
    if transfer is None:
        raise NotFound(_("No such transfer here."))
    return transfer


async def _lines(s: Session, transfer_id: str) -> list[TransferLine]:
    return list(await s.scalars(select(TransferLine).where(
        TransferLine.transfer_id == transfer_id).order_by(TransferLine.sku)))


async def _parts(s: Session, transfer_id: str) -> list[TransferPart]:
    return list(await s.scalars(select(TransferPart).where(
        TransferPart.transfer_id == transfer_id).order_by(
            TransferPart.sku, TransferPart.expiry, TransferPart.batch)))


def _step(transfer: Transfer, target: str) -> None:
    try:
        rules.check(transfer.state, target)
    except TransferRuleError as exc:
        raise TransferError(_("%(number)s: %(reason)s")
                            % {"number": transfer.number, "reason": exc}) from None


# --- raising ---------------------------------------------------------------------------


async def request_transfer(db: Database, store_id: str, *, source: str, dest: str,
                           lines: list[Line], note: str = "", user: Any = None) -> Transfer:
    """This store asks for a transfer, as the source (offering stock) or as the
    destination (asking for it). HQ approves it at the hub."""
    try:
        checked = rules.check_request(source, dest, lines)
        source, dest = rules.check_store(source), rules.check_store(dest)
    except TransferRuleError as exc:
        raise TransferError(str(exc)) from None
    if store_id not in (source, dest):
        raise TransferError(_("this store (%(store)s) must be the one sending or the one "
                              "receiving") % {"store": store_id})
    if "\x00" in note:
        raise TransferError(_("the note has a character that cannot be kept"))
    note = note.strip()[:rules.MAX_NOTE]
    now = utcnow()
    async with db.write() as s:
        skus = [line.sku for line in checked]
        known = set(await s.scalars(select(Product.sku).where(Product.sku.in_(skus))))
        unknown = [sku for sku in skus if sku not in known]
        if unknown:
            raise TransferError(_("no product with SKU %(sku)s here") % {"sku": unknown[0]})
        number = rules.transfer_number(store_id, await next_number(s, "transfer"))
        transfer = Transfer(id=uuid7(), number=number, source=source, dest=dest,
                            state="requested", note=note, reason="", created_by=_by(user),
                            created_at=now, updated_at=now)
        s.add(transfer)
        await s.flush()
        for line in checked:
            s.add(TransferLine(transfer_id=transfer.id, sku=line.sku, quantity=line.quantity,
                               sent=0, difference=""))
        emit(s, "transfer.requested", {
            "transfer_id": transfer.id, "number": number, "source": source, "dest": dest,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in checked],
            "note": note, "by": _by(user), "at": now.isoformat()})
    return transfer


# --- the source: pick, dispatch, withdraw ---------------------------------------------------


async def pick(db: Database, store_id: str, transfer_id: str, picked: dict[str, int],
               user: Any = None, *, more_ok: bool = False) -> Transfer:
    """The source says what it picked of each line (0 to what is asked or more: a
    case may hold more than asked, confirmed with `more_ok`, else MoreThanExpected).
    Nothing leaves the shelf's books yet."""
    async with db.write() as s:
        transfer = await _get(s, transfer_id)
        if transfer.source != store_id:
            raise TransferError(_("%(number)s is not sent from this store")
                                % {"number": transfer.number})
        _step(transfer, "picked")
        lines = await _lines(s, transfer.id)
        for line in lines:
            try:
                line.picked = rules.check_quantity(picked.get(line.sku, 0), line.sku,
                                                   zero_ok=True)
            except TransferRuleError as exc:
                raise TransferError(str(exc)) from None
        if not any(line.picked for line in lines):
            raise TransferError(_("nothing was picked: pick at least one item, or cancel "
                                  "the transfer"))
        over = rules.more_than_expected({line.sku: line.quantity for line in lines},
                                        {line.sku: line.picked or 0 for line in lines})
        if over and not more_ok:
            raise MoreThanExpected(rules.more_question(over, "asked"))
        now = utcnow()
        transfer.state, transfer.updated_at = "picked", now
        emit(s, "transfer.picked", {
            "transfer_id": transfer.id, "number": transfer.number,
            "lines": [{"sku": line.sku, "picked": line.picked} for line in lines],
            "by": _by(user), "at": now.isoformat()})
    return transfer


async def dispatch(db: Database, store_id: str, transfer_id: str, user: Any = None,
                   today: date | None = None) -> TransferView:
    """The picked goods leave: each line is taken out batch by batch, earliest expiry
    first (stock.service.take_fefo, reason transfer, the transfer's number as the
    reference), and the batches that left go to the hub for the destination."""
    async with db.write() as s:
        transfer = await _get(s, transfer_id)
        if transfer.source != store_id:
            raise TransferError(_("%(number)s is not sent from this store")
                                % {"number": transfer.number})
        _step(transfer, "dispatched")
        lines = await _lines(s, transfer.id)
        products = {p.sku: p for p in await s.scalars(select(Product).where(
            Product.sku.in_([line.sku for line in lines])))}
        sent_lines = []
        parts: list[TransferPart] = []
        for line in lines:
            if not line.picked:
                continue
            product = products.get(line.sku)
            if product is None:
                raise TransferError(_("no product with SKU %(sku)s here") % {"sku": line.sku})
            moves = await service.take_fefo(
                s, product=product, quantity=line.picked, reason="transfer",
                reference=transfer.number, user_id=getattr(user, "id", None) or None, today=today)
            by_batch: dict[str, tuple[date | None, int]] = {}
            for move in moves:
                key = move.batch or ""
                expiry, qty = by_batch.get(key, (move.expiry, 0))
                by_batch[key] = (expiry or move.expiry, qty - move.delta)
            line_parts = [TransferPart(transfer_id=transfer.id, sku=line.sku, batch=batch,
                                       expiry=expiry, quantity=qty, received=0)
                          for batch, (expiry, qty) in sorted(
                              by_batch.items(), key=lambda kv: (kv[1][0] or date.max, kv[0]))]
            parts += line_parts
            line.sent = line.picked
            sent_lines.append({"sku": line.sku, "sent": line.sent,
                               "parts": [_part_data(p) for p in line_parts]})
        s.add_all(parts)
        now = utcnow()
        transfer.state, transfer.updated_at, transfer.dispatched_at = "dispatched", now, now
        emit(s, "transfer.dispatched", {
            "transfer_id": transfer.id, "number": transfer.number, "source": transfer.source,
            "dest": transfer.dest, "lines": sent_lines, "by": _by(user), "at": now.isoformat()})
        view = TransferView(transfer, lines, parts)
    return view


def _part_data(part: TransferPart) -> dict[str, Any]:
    return {"batch": part.batch or None,
            "expiry": part.expiry.isoformat() if part.expiry else None,
            "quantity": part.quantity}


async def cancel(db: Database, store_id: str, transfer_id: str, reason: str,
                 user: Any = None) -> Transfer:
    """Either store calls the transfer off before anything left (`transfer.withdrawn`)."""
    reason = reason.replace("\x00", "").strip()[:rules.MAX_NOTE] or "cancelled by the store"
    async with db.write() as s:
        transfer = await _get(s, transfer_id)
        if store_id not in (transfer.source, transfer.dest):
            raise TransferError(_("%(number)s is not this store's") % {"number": transfer.number})
        _step(transfer, "cancelled")
        now = utcnow()
        transfer.state, transfer.reason, transfer.updated_at = "cancelled", reason, now
        emit(s, "transfer.withdrawn", {"transfer_id": transfer.id, "number": transfer.number,
                                       "reason": reason, "by": _by(user),
                                       "at": now.isoformat()})
    return transfer


# --- the destination: receive -----------------------------------------------------------


async def receive(db: Database, store_id: str, transfer_id: str, received: dict[str, int],
                  differences: dict[str, str] | None = None, *, bin_code: str = "",
                  user: Any = None, more_ok: bool = False) -> TransferView:
    """What arrived goes on the shelf, in the batches that left the source (a shortage
    falls on the last batches: transfer_rules.spread_received), into `bin_code` or each
    product's fullest bin; lines where what arrived differs from what left keep the
    reason given (short, damaged, excess, wrong item). More than was sent of a line is
    booked only when confirmed (`more_ok`), else MoreThanExpected."""
    differences = differences or {}
    async with db.write() as s:
        transfer = await _get(s, transfer_id)
        if transfer.dest != store_id:
            raise TransferError(_("%(number)s is not coming to this store")
                                % {"number": transfer.number})
        _step(transfer, "received")
        lines = await _lines(s, transfer.id)
        parts = await _parts(s, transfer.id)
        by_sku: dict[str, list[TransferPart]] = defaultdict(list)
        for part in parts:
            by_sku[part.sku].append(part)
        bin_ = None
        if bin_code.strip():
            bin_ = await s.scalar(select(Bin).where(Bin.code == bin_code.strip().upper()[:20]))
            if bin_ is None:
                raise TransferError(_("there is no bin %(code)s; pick one from the list")
                                    % {"code": repr(bin_code.strip()[:20])})
        products = {p.sku: p for p in await s.scalars(select(Product).where(
            Product.sku.in_([line.sku for line in lines])))}
        over = rules.more_than_expected(
            {line.sku: line.sent for line in lines},
            {sku: got for sku, got in received.items()
             if isinstance(got, int) and not isinstance(got, bool)})
        if over and not more_ok:
            raise MoreThanExpected(rules.more_question(over, "sent"))
        out = []
        for line in lines:
            try:
                got = rules.check_quantity(received.get(line.sku, 0), line.sku, zero_ok=True)
            except TransferRuleError as exc:
                raise TransferError(str(exc)) from None
            line_parts = by_sku.get(line.sku, [])
            if got and not line_parts:
                raise TransferError(_("%(sku)s: nothing of it was sent; leave it at 0")
                                    % {"sku": line.sku})
            why = differences.get(line.sku, "").strip()
            if got != line.sent:
                if why not in rules.DIFFERENCE_REASONS:
                    why = "short" if got < line.sent else "excess"
            else:
                why = ""
            line.received, line.difference = got, why
            if got:
                product = products.get(line.sku)
                if product is None:
                    raise TransferError(_("%(sku)s is not in this store's catalogue yet; wait "
                                          "for the hub's catalogue, then receive")
                                        % {"sku": line.sku})
                target = bin_ or await service.bin_for_sale(s, product)
                for part, qty in zip(line_parts, rules.spread_received(
                        [p.quantity for p in line_parts], got), strict=True):
                    part.received = qty
                    if qty:
                        await service.record_move(
                            s, product=product, bin=target, delta=qty, reason="transfer",
                            reference=transfer.number, user_id=getattr(user, "id", None) or None,
                            batch=part.batch or None, expiry=part.expiry)
            out.append({"sku": line.sku, "sent": line.sent, "received": got,
                        "difference": why})
        now = utcnow()
        transfer.state, transfer.updated_at, transfer.received_at = "received", now, now
        emit(s, "transfer.received", {"transfer_id": transfer.id, "number": transfer.number,
                                      "lines": out, "by": _by(user), "at": now.isoformat()})
        view = TransferView(transfer, lines, parts)
    return view


# --- reading ---------------------------------------------------------------------------------


async def list_transfers(db: Database, store_id: str, limit: int = 100
                         ) -> tuple[list[Transfer], list[Transfer]]:
    """(going out, coming in), open ones first, newest first."""
    async with db.read() as s:
        rows = list(await s.scalars(select(Transfer).where(
            (Transfer.source == store_id) | (Transfer.dest == store_id))
            .order_by(Transfer.created_at.desc()).limit(limit * 2)))
    done = ("received", "cancelled")
    rows.sort(key=lambda t: t.state in done)
    return ([t for t in rows if t.source == store_id][:limit],
            [t for t in rows if t.dest == store_id][:limit])


async def get_transfer(db: Database, transfer_id: str) -> TransferView:
    async with db.read() as s:
        transfer = await _get(s, transfer_id)
        lines = await _lines(s, transfer.id)
        names = dict((await s.execute(select(Product.sku, Product.name).where(
            Product.sku.in_([line.sku for line in lines])))).all())
        return TransferView(transfer, lines, await _parts(s, transfer.id), names)


# --- the hub's steps, applied in the sync transaction (app/sync/store_apply.py) -------------


class BadTransferEvent(ValueError):
    """A hub transfer event this store cannot read."""


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise BadTransferEvent(f"{key!r} missing or not text of at most "
                               f"{count_of(limit, 'character')}")
    return value


def _lines_of(data: dict, key: str) -> list[dict]:
    lines = data.get("lines")
    if not isinstance(lines, list) or not 0 < len(lines) <= rules.MAX_LINES:
        raise BadTransferEvent(f"'lines' must be a list of 1 to {rules.MAX_LINES}")
    out = []
    seen: set[str] = set()
    for line in lines:
        if not isinstance(line, dict):
            raise BadTransferEvent("a line must be an object")
        sku = _text(line, "sku", 40).upper()
        if sku in seen:
            raise BadTransferEvent(f"{sku} is listed twice")
        seen.add(sku)
        try:
            qty = rules.check_quantity(line.get(key), sku, zero_ok=key != "quantity")
        except TransferRuleError as exc:
            raise BadTransferEvent(str(exc)) from None
        out.append({**line, "sku": sku, key: qty})
    return out


async def _copy(s: Session, store_id: str, data: dict, kind: str) -> Transfer | None:
    """This store's copy of the transfer the hub speaks of (made from the event when
    the store has none: the other end of a transfer, or one HQ raised), or None when
    the event is not about this store."""
    transfer_id = _text(data, "transfer_id", 36)
    source, dest = _text(data, "source", 8).upper(), _text(data, "dest", 8).upper()
    if store_id not in (source, dest):
        log.warning("hub %s for transfer %s between %s and %s: not this store's, skipped",
                    kind, transfer_id, source, dest)
        return None
    transfer = await s.get(Transfer, transfer_id)
    if transfer is not None:
        if (transfer.source, transfer.dest) != (source, dest):
            log.warning("hub %s for transfer %s names other stores: skipped", kind,
                        transfer_id)
            return None
        return transfer
    number = _text(data, "number", 20)
    now = utcnow()
    transfer = Transfer(id=transfer_id, number=number, source=source, dest=dest,
                        state="requested", note=str(data.get("note") or "")[:rules.MAX_NOTE],
                        reason="", created_by=str(data.get("by") or "")[:80],
                        created_at=now, updated_at=now)
    s.add(transfer)
    await s.flush()
    for line in _lines_of(data, "quantity"):
        s.add(TransferLine(transfer_id=transfer.id, sku=line["sku"], quantity=line["quantity"],
                           sent=0, difference=""))
    await s.flush()
    return transfer


def _move_to(transfer: Transfer, reported: str) -> bool:
    new = rules.after_report(transfer.state, reported)
    if new is None:
        return False
    transfer.state, transfer.updated_at = new, utcnow()
    return True


async def apply_approved(s: Session, store_id: str, data: dict) -> None:
    transfer = await _copy(s, store_id, data, "transfer.approved")
    if transfer is not None:
        _move_to(transfer, "approved")


async def apply_incoming(s: Session, store_id: str, data: dict) -> None:
    """The source dispatched: this store (the destination) learns what is on its way,
    batch by batch. A cancel that reached it first is overridden: the goods left."""
    transfer = await _copy(s, store_id, data, "transfer.incoming")
    if transfer is None:
        return
    if transfer.dest != store_id:
        log.warning("hub transfer.incoming for %s sent to its source: skipped",
                    transfer.number)
        return
    if not _move_to(transfer, "dispatched"):
        return  # a repeat, or already received
    lines = {line.sku: line for line in await _lines(s, transfer.id)}
    for item in _lines_of(data, "sent"):
        line = lines.get(item["sku"])
        if line is None:
            line = TransferLine(transfer_id=transfer.id, sku=item["sku"], quantity=0, sent=0,
                                difference="")
            s.add(line)
        line.sent = item["sent"]
        for part in _parts_of(item):
            s.add(TransferPart(transfer_id=transfer.id, sku=item["sku"], **part, received=0))
    transfer.dispatched_at = _at(data)


def _parts_of(item: dict) -> list[dict]:
    parts = item.get("parts")
    if not isinstance(parts, list) or len(parts) > 1000:
        raise BadTransferEvent("'parts' must be a list")
    out: dict[str, dict] = {}
    for part in parts:
        if not isinstance(part, dict):
            raise BadTransferEvent("a part must be an object")
        batch = part.get("batch") or ""
        if not isinstance(batch, str) or len(batch) > 20:
            raise BadTransferEvent("a batch is text of at most 20 characters")
        expiry = None
        if part.get("expiry"):
            try:
                expiry = date.fromisoformat(str(part["expiry"])[:10])
            except ValueError:
                raise BadTransferEvent("an expiry must be a date like 2026-12-31") from None
        try:
            qty = rules.check_quantity(part.get("quantity"), item["sku"])
        except TransferRuleError as exc:
            raise BadTransferEvent(str(exc)) from None
        if batch in out:
            out[batch]["quantity"] += qty
        else:
            out[batch] = {"batch": batch, "expiry": expiry, "quantity": qty}
    return list(out.values())


def _at(data: dict) -> datetime:
    try:
        at = datetime.fromisoformat(str(data.get("at") or ""))
    except ValueError:
        return utcnow()
    return at if at.tzinfo else utcnow()


async def apply_cancelled(s: Session, store_id: str, data: dict) -> None:
    transfer_id = _text(data, "transfer_id", 36)
    transfer = await s.get(Transfer, transfer_id)
    if transfer is None:
        # A request refused before this store had a copy: the requester has one; a
        # cancel for anything else is not this store's to know.
        log.info("hub cancelled transfer %s: not known here", transfer_id)
        return
    if store_id not in (transfer.source, transfer.dest):
        return
    if _move_to(transfer, "cancelled"):
        transfer.reason = str(data.get("reason") or "cancelled by HQ")[:rules.MAX_NOTE]
    else:
        log.info("hub cancelled transfer %s: it is %s here, kept", transfer.number,
                 transfer.state)
