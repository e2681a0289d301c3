"""The expiry page (issue #17): batches past their date or expiring in the next days,
by bin, and the manager's two answers to each -- write it off as expired (a ledger move
with reason ``expired`` out of that very batch) or mark it down (a price label the
till's scale rule reads, printed in the same transaction as its audit row).

Both answers carry a key drawn with the page, so a double tap or a retry does the
thing once; a second tab's key finds nothing left to write off and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from app.catalog.models import Barcode, Product
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.db import Database, Session
from app.core.i18n import _
from app.core.models import AuditLog
from app.core.money import MoneyError, format_amount, parse_amount
from app.core.words import count_of
from app.stock.expiry_rules import (
    ExpiryError,
    days_left,
    label_item_code,
    markdown_barcode,
    parse_labels,
    price_rule,
)
from app.stock.models import Bin, StockLevel, StockMove
from app.stock.service import record_move

__all__ = ["ExpiringBatch", "ExpiryError", "ExpiryList", "MarkDown", "MarkdownLabel",
           "WriteOff", "expiring", "mark_down", "write_off"]

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
_ID = re.compile(r"[0-9a-fA-F-]{1,36}")
_BATCH_MAX = 20


@dataclass(frozen=True)
class ExpiringBatch:
    """One batch of one product in one bin, with its date."""

    product_id: str
    sku: str
    name: str
    unit: str
    price_minor: int
    bin_id: str
    bin_code: str
    batch: str
    expiry: date
    on_hand: int
    days_left: int
    can_mark_down: bool  # a piece product with an in-store price-label code

    @property
    def expired(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True)
class ExpiryList:
    today: date
    days: int
    expired: list[ExpiringBatch]  # past their date: on top, oldest first
    by_bin: list[tuple[str, list[ExpiringBatch]]]  # the rest, bin by bin on the pick path

    @property
    def empty(self) -> bool:
        return not self.expired and not self.by_bin


async def expiring(db: Database, cfg: StoreConfig, *, days: int, today: date) -> ExpiryList:
    """Batches with stock whose expiry is before ``today`` + ``days`` (inclusive)."""
    rule = price_rule(cfg.measure_rules)
    async with db.read() as s:
        rows = (await s.execute(
            select(StockLevel.product_id, Product.sku, Product.name, Product.unit,
                   Product.price_minor, Bin.id, Bin.code, StockLevel.batch, StockLevel.expiry,
                   StockLevel.on_hand)
            .join(Product, Product.id == StockLevel.product_id)
            .join(Bin, Bin.id == StockLevel.bin_id)
            .where(StockLevel.expiry.is_not(None), StockLevel.on_hand > 0,
                   StockLevel.batch != "", StockLevel.expiry <= today + timedelta(days=days))
            .order_by(StockLevel.expiry, Bin.pick_seq, Bin.code, Product.name))).all()
        labelled: set[str] = set()
        if rule is not None and rows:
            codes = (await s.execute(
                select(Barcode.product_id, Barcode.code)
                .where(Barcode.product_id.in_({r[0] for r in rows}),
                       Barcode.code.startswith(rule.prefix)))).all()
            labelled = {pid for pid, code in codes if label_item_code(rule, [code]) is not None}
    expired: list[ExpiringBatch] = []
    per_bin: dict[str, list[ExpiringBatch]] = {}
    for pid, sku, name, unit, price, bin_id, bin_code, batch, expiry, on_hand in rows:
        assert expiry is not None  # the query asks for dated levels only
        item = ExpiringBatch(pid, sku, name, unit, price, bin_id, bin_code, batch, expiry,
                             on_hand, days_left(expiry, today),
                             unit == "piece" and pid in labelled)
        if item.expired:
            expired.append(item)
        else:
            per_bin.setdefault(bin_code, []).append(item)
    # Bins in the order their first batch expires (the most urgent bin first).
    return ExpiryList(today, days, expired, list(per_bin.items()))


def _checked(product_id: str, bin_id: str, batch: str, key: str) -> None:
    """Form values refused before any query: wrong shape, too long, NUL bytes."""
    if not _ID.fullmatch(product_id) or not _ID.fullmatch(bin_id):
        raise ExpiryError(_("that batch is not on the list any more; reload the page"))
    if not batch or len(batch) > _BATCH_MAX or "\x00" in batch:
        raise ExpiryError(_("that batch is not on the list any more; reload the page"))
    if not _KEY.fullmatch(key):
        raise ExpiryError(_("the page is out of date; reload it and tap again"))


async def _batch(s: Session, product_id: str, bin_id: str, batch: str,
                 ) -> tuple[Product, Bin, StockLevel]:
    level = await s.get(StockLevel, (product_id, bin_id, batch), populate_existing=True)
    product = await s.get(Product, product_id)
    bin_ = await s.get(Bin, bin_id)
    if level is None or product is None or bin_ is None:
        raise ExpiryError(_("that batch is not in this bin any more; reload the page"))
    return product, bin_, level


@dataclass(frozen=True)
class WriteOff:
    name: str
    unit: str
    bin_code: str
    batch: str
    quantity: int
    already: bool  # the same tap came again: nothing more was written off


async def write_off(db: Database, *, product_id: str, bin_id: str, batch: str, key: str,
                    user: StaffUser) -> WriteOff:
    """Everything left of this batch in this bin leaves the books as expired: one
    ledger move (reason ``expired``, that batch and its date), audit-logged. The same
    ``key`` again returns the first write-off and changes nothing."""
    _checked(product_id, bin_id, batch, key)
    reference = f"expiry {key}"
    async with db.write() as s:
        product, bin_, level = await _batch(s, product_id, bin_id, batch)
        done = await s.scalar(select(StockMove).where(
            StockMove.reason == "expired", StockMove.reference == reference))
        if done is not None:
            return WriteOff(product.name, product.unit, bin_.code, batch, -done.delta,
                            already=True)
        if level.on_hand <= 0:
            raise ExpiryError(_("nothing left of %(name)s batch %(batch)s in bin %(code)s: it "
                                "was written off or sold already")
                              % {"name": product.name, "batch": batch, "code": bin_.code})
        quantity = level.on_hand
        await record_move(s, product=product, bin=bin_, delta=-quantity, reason="expired",
                          reference=reference, user_id=user.id, batch=batch,
                          expiry=level.expiry)
        audit.record(s, "expiry_write_off",
                     f"{product.sku} bin {bin_.code} batch {batch} expiry "
                     f"{level.expiry.isoformat() if level.expiry else '-'}: {quantity} written off",
                     user=user)
        return WriteOff(product.name, product.unit, bin_.code, batch, quantity, already=False)


@dataclass(frozen=True)
class MarkdownLabel:
    """What a mark-down label shows; ``barcode`` is the EAN-13 the till reads."""

    name: str
    sku: str
    batch: str
    expiry: date | None
    was_minor: int
    now_minor: int
    barcode: str
    copies: int


@dataclass(frozen=True)
class MarkDown:
    label: MarkdownLabel | None  # None when ``already``
    jobs: int
    already: bool


async def mark_down(db: Database, cfg: StoreConfig, *, product_id: str, bin_id: str,
                    batch: str, price: str, labels: str, key: str, user: StaffUser,
                    print_labels: Callable[[Session, MarkdownLabel], int]) -> MarkDown:
    """Print ``labels`` price labels for this batch at the lower ``price`` (rupees as
    typed): ``print_labels`` queues them in this transaction and says how many jobs; an
    audit row names the old and new price. The same ``key`` again prints nothing."""
    _checked(product_id, bin_id, batch, key)
    try:
        new_minor = parse_amount(price)
    except MoneyError as exc:
        raise ExpiryError(str(exc)) from None
    rule = price_rule(cfg.measure_rules)
    if rule is None:
        raise ExpiryError(_("the store has no price-label barcode rule (kind price, prefix "
                            "22) in its settings"))
    async with db.write() as s:
        product, bin_, level = await _batch(s, product_id, bin_id, batch)
        if await s.scalar(select(AuditLog.id).where(
                AuditLog.action == "expiry_mark_down",
                AuditLog.detail.endswith(f"key {key}")).limit(1)) is not None:
            return MarkDown(None, 0, already=True)
        if product.unit != "piece":
            raise ExpiryError(_("%(name)s is sold by %(unit)s: weigh it and print the reduced "
                                "price at the scale") % {"name": product.name, "unit": product.unit})
        if level.on_hand <= 0:
            raise ExpiryError(_("nothing left of %(name)s batch %(batch)s in bin %(code)s")
                              % {"name": product.name, "batch": batch, "code": bin_.code})
        codes = await s.scalars(select(Barcode.code).where(Barcode.product_id == product.id))
        item_code = label_item_code(rule, codes)
        if item_code is None:
            raise ExpiryError(_("%(name)s has no price-label code starting %(prefix)s in the "
                                "catalogue; ask head office to add one")
                              % {"name": product.name, "prefix": rule.prefix})
        copies = parse_labels(labels, level.on_hand)
        label = MarkdownLabel(product.name, product.sku, batch, level.expiry,
                              product.price_minor,
                              new_minor, markdown_barcode(rule, item_code, product.price_minor,
                                                          new_minor), copies)
        jobs = print_labels(s, label)
        if not jobs:
            raise ExpiryError(_("no printer prints price labels: add price_label to a label "
                                "printer's documents in the store's settings"))
        audit.record(s, "expiry_mark_down",
                     f"{product.sku} bin {bin_.code} batch {batch}: "
                     f"{format_amount(product.price_minor)} -> {format_amount(new_minor)}, "
                     f"{count_of(copies, 'label')}, key {key}", user=user)
        return MarkDown(label, jobs, already=False)
