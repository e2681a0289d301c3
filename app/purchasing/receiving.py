"""Receiving goods (GRN, issue #17): one goods received note per delivery, against a
purchase order or without one. Each public function is one transaction; the rules are
in receiving_rules.py.

When stock enters: at the manager's sign-off, not at each scan. Scanning only writes
the receipt's lines; the sign-off writes, in one transaction, every ledger move
(``record_move`` reason ``receive``, reference the GRN number, batch and expiry), the
signed summary, the moving-average cost and the order's new state. So:

* a mis-scan undone before the sign-off never touches the ledger (no receive + reverse
  pair to explain), and a delivery refused at the door leaves no trace in stock;
* the differences and the cost are accepted by a manager before the goods count as
  the store's, which is what the PIN means;
* one ledger move per product, bin and batch instead of one per scan (fewer events to
  sync to the hub);
* two phones receiving the same order share its one open receipt (a unique index), and
  a sign-off happens once: a second or replayed one finds the receipt closed.

Damaged goods never enter sellable stock: they are recorded on the receipt (with the
reason, for the supplier's credit note) and get no ledger move, since the store never
owned them as stock; a receive + damaged pair would count a supplier's breakage as
the store's shrinkage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, func, select

from app.catalog.barcodes import MeasureRule
from app.catalog.models import Barcode, Product
from app.core import audit
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.models import User
from app.core.prepared import Prepared
from app.core.words import count_of
from app.purchasing import states
from app.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptItem,
    GoodsReceiptLine,
    ProductCost,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierProduct,
)
from app.purchasing.receiving_rules import (
    KIND_LABELS,
    AverageCost,
    Difference,
    LineCheck,
    Received,
    ReceivingError,
    ScannedCode,
    check_line,
    differences,
    grn_label,
    missing_reasons,
    moving_average,
    read_scan,
    scan_quantity,
    value_of,
    warning_text,
)
from app.purchasing.rules import base_quantity
from app.stock import service as stock
from app.stock.models import Bin, StockLevel

REQUEST_ID = re.compile(r"[0-9a-fA-F-]{16,36}")


class NotFound(ReceivingError):
    pass


class NeedsConfirm(ReceivingError):
    """The line is possible but unusual: ``warnings`` say why; adding it again with
    those ``kinds`` confirmed goes through."""

    def __init__(self, kinds: list[str], warnings: list[str]) -> None:
        super().__init__(" ".join(warnings))
        self.kinds = kinds
        self.warnings = warnings


class AlreadyClosed(ReceivingError):
    pass


# --- views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    id: str
    product_id: str
    sku: str
    name: str
    unit: str  # the product's unit: piece, kg, litre
    scan_unit: str  # case or piece
    count: int
    pack_size: int
    quantity: int
    damaged: bool
    batch: str
    expiry: date | None
    bin_code: str


@dataclass
class SummaryRow:
    product_id: str
    sku: str
    name: str
    unit: str
    diff: Difference
    pack_size: int
    case_cost_minor: int | None
    reason: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.diff.kinds

    @property
    def kind_text(self) -> str:
        return ", ".join(_(KIND_LABELS[k]) for k in self.diff.kinds)


@dataclass
class ReceiptView:
    grn: GoodsReceipt
    po: PurchaseOrder | None
    supplier: Supplier | None
    items: list[ItemRow]
    summary: list[SummaryRow]
    signer: str = ""
    unscanned: int = 0  # order lines left out of a scanned-only summary

    @property
    def label(self) -> str:
        return grn_label(self.grn.number)

    @property
    def po_label(self) -> str:
        return f"PO-{self.po.number:06d}" if self.po else ""

    @property
    def open(self) -> bool:
        return self.grn.status == "open"

    @property
    def differences(self) -> list[SummaryRow]:
        return [r for r in self.summary if r.kinds]


@dataclass(frozen=True)
class ReceiptRow:
    id: str
    label: str
    po_label: str
    supplier: str
    status: str
    lines: int
    created_at: datetime


@dataclass(frozen=True)
class AwaitingOrder:
    id: str
    label: str
    supplier: str
    status: str
    expected_on: date | None
    open_grn: str | None


class BinChoice(NamedTuple):
    """A bin of the put-away list. A named tuple, not a dataclass: a scan lists every
    bin of the store and the page keeps its drawn list by them (hashing 80 of these is
    a tenth of what 80 frozen dataclasses cost)."""

    code: str
    zone: str


@dataclass(frozen=True)
class ScanStep:
    """A scanned product, ready for the add form."""

    product: ScannedProduct
    scan: ScannedCode
    unit: str  # case or piece
    count: int
    pack_size: int | None
    batch: str
    expiry: date | None
    bin_code: str
    bins: tuple[BinChoice, ...]
    ordered: int | None
    received: int
    dropped: str = ""  # GS1 batch/expiry not kept (the product does not track expiry)
    request_id: str = field(default_factory=uuid7)


@dataclass(frozen=True)
class ItemInput:
    request_id: str
    product_id: str
    unit: str
    count: int
    bin_code: str
    batch: str
    expiry: date | None
    damaged: bool
    code: str = ""


@dataclass(frozen=True)
class AddResult:
    item_id: str
    name: str
    quantity: int
    unit: str
    bin_code: str
    repeated: bool  # the same form came twice: added once


# --- reading -------------------------------------------------------------------------


async def _receipt(s: Session, grn_id: str) -> GoodsReceipt:
    grn = await s.get(GoodsReceipt, grn_id[:36])
    if grn is None:
        raise NotFound(_("No such goods receipt."))
    return grn


async def _po_lines(s: Session, po_id: str | None, product_id: str | None = None,
                    ) -> dict[str, PurchaseOrderLine]:
    """The order's lines (only ``product_id``'s when given: a scan reads one row)."""
    if po_id is None:
        return {}
    stmt = select(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po_id)
    if product_id is not None:
        stmt = stmt.where(PurchaseOrderLine.product_id == product_id)
    return {ln.product_id: ln for ln in await s.scalars(stmt)}


async def _supplier_items(s: Session, supplier_id: str | None, product_id: str | None = None,
                          ) -> dict[str, SupplierProduct]:
    """What the supplier sells us (only ``product_id`` when given: one indexed read)."""
    if supplier_id is None:
        return {}
    stmt = select(SupplierProduct).where(SupplierProduct.supplier_id == supplier_id)
    if product_id is not None:
        stmt = stmt.where(SupplierProduct.product_id == product_id)
    return {i.product_id: i for i in await s.scalars(stmt)}


async def _items(s: Session, grn_id: str) -> list[ItemRow]:
    rows = await s.execute(
        select(GoodsReceiptItem, Product.sku, Product.name, Product.unit, Bin.code)
        .join(Product, Product.id == GoodsReceiptItem.product_id)
        .outerjoin(Bin, Bin.id == GoodsReceiptItem.bin_id)
        .where(GoodsReceiptItem.grn_id == grn_id)
        .order_by(GoodsReceiptItem.at.desc(), GoodsReceiptItem.id.desc()))
    return [ItemRow(i.id, i.product_id, sku, name, unit, i.unit, i.count, i.pack_size,
                    i.quantity, i.damaged, i.batch, i.expiry, code or "")
            for i, sku, name, unit, code in rows.all()]


def _cost_of(pid: str, lines: dict[str, PurchaseOrderLine],
             offered: dict[str, SupplierProduct]) -> tuple[int, int | None]:
    """(pack size, cost of a case) the receipt values a product at by default."""
    if pid in lines:
        return lines[pid].pack_size, lines[pid].case_cost_minor
    if pid in offered:
        return offered[pid].pack_size, offered[pid].case_cost_minor
    return 1, None


async def _summary(s: Session, grn: GoodsReceipt, items: list[ItemRow],
                   only: set[str] | None = None) -> list[SummaryRow]:
    if grn.status == "closed":  # the signed summary as it was signed
        rows = await s.execute(
            select(GoodsReceiptLine, Product.sku, Product.name, Product.unit)
            .join(Product, Product.id == GoodsReceiptLine.product_id)
            .where(GoodsReceiptLine.grn_id == grn.id).order_by(Product.name))
        return [SummaryRow(ln.product_id, sku, name, unit,
                           Difference(ln.product_id, ln.expected, ln.good, ln.damaged,
                                      tuple(k for k in ln.kinds.split(",") if k)),
                           ln.pack_size, ln.case_cost_minor, ln.reason)
                for ln, sku, name, unit in rows.all()]
    if only is None:
        lines = await _po_lines(s, grn.po_id)
    else:
        lines = {ln.product_id: ln for ln in await s.scalars(select(PurchaseOrderLine).where(
            PurchaseOrderLine.po_id == grn.po_id,
            PurchaseOrderLine.product_id.in_(sorted(only))))} if grn.po_id and only else {}
    good: dict[str, int] = defaultdict(int)
    damaged: dict[str, int] = defaultdict(int)
    for it in items:
        (damaged if it.damaged else good)[it.product_id] += it.quantity
    ids = sorted(set(lines) | set(good) | set(damaged))
    # The supplier's prices of these products only (a supplier may sell us thousands).
    offered: dict[str, SupplierProduct] = {}
    if grn.supplier_id and set(ids) - set(lines):
        offered = {i.product_id: i for i in await s.scalars(select(SupplierProduct).where(
            SupplierProduct.supplier_id == grn.supplier_id,
            SupplierProduct.product_id.in_(sorted(set(ids) - set(lines)))))}
    products = {p.id: p for p in await s.scalars(select(Product).where(Product.id.in_(ids)))}
    received = [Received(pid, _expected(lines.get(pid)), good[pid], damaged[pid]) for pid in ids]
    out = []
    for diff in differences(received, has_order=grn.po_id is not None):
        p = products[diff.product_id]
        pack, cost = _cost_of(p.id, lines, offered)
        out.append(SummaryRow(p.id, p.sku, p.name, p.unit, diff, pack, cost))
    return sorted(out, key=lambda r: r.name)


def _expected(line: PurchaseOrderLine | None) -> int | None:
    """What the order still expects of a product (base units), None if not on it."""
    if line is None:
        return None
    return max(0, base_quantity(line.quantity, line.unit, line.pack_size) - line.received)


async def get_receipt(db: Database, grn_id: str, *, scanned_only: bool = False) -> ReceiptView:
    """The receipt with its summary; ``scanned_only``: while it is open, only the
    products scanned so far, and how many of the order's are not (the scanning screen
    after each line: an order may have thousands of lines; the sign-off shows all)."""
    async with db.read() as s:
        grn = await _receipt(s, grn_id)
        po = await s.get(PurchaseOrder, grn.po_id) if grn.po_id else None
        supplier = await s.get(Supplier, grn.supplier_id) if grn.supplier_id else None
        items = await _items(s, grn.id)
        only = {it.product_id for it in items} if scanned_only and grn.status == "open" else None
        summary = await _summary(s, grn, items, only)
        unscanned = 0
        if only is not None and grn.po_id:
            unscanned = int(await s.scalar(select(func.count()).where(
                PurchaseOrderLine.po_id == grn.po_id,
                PurchaseOrderLine.product_id.not_in(sorted(only)))) or 0)
        signer = ""
        if grn.signed_by:
            user = await s.get(User, grn.signed_by)
            signer = user.name if user else ""
        return ReceiptView(grn, po, supplier, items, summary, signer, unscanned)


async def list_receipts(db: Database, limit: int = 50) -> list[ReceiptRow]:
    async with db.read() as s:
        n = (select(func.count()).where(GoodsReceiptItem.grn_id == GoodsReceipt.id)
             .scalar_subquery())
        rows = await s.execute(
            select(GoodsReceipt.id, GoodsReceipt.number, PurchaseOrder.number, Supplier.name,
                   GoodsReceipt.status, n, GoodsReceipt.created_at)
            .outerjoin(PurchaseOrder, PurchaseOrder.id == GoodsReceipt.po_id)
            .outerjoin(Supplier, Supplier.id == GoodsReceipt.supplier_id)
            .order_by(GoodsReceipt.number.desc()).limit(limit))
        return [ReceiptRow(i, grn_label(num), f"PO-{po:06d}" if po else "", sup or "", st,
                           int(c), at) for i, num, po, sup, st, c, at in rows.all()]


async def awaiting_orders(db: Database) -> list[AwaitingOrder]:
    """Purchase orders whose goods may come in (sent or partly received)."""
    async with db.read() as s:
        rows = await s.execute(
            select(PurchaseOrder.id, PurchaseOrder.number, Supplier.name, PurchaseOrder.status,
                   PurchaseOrder.expected_on, GoodsReceipt.id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .outerjoin(GoodsReceipt, (GoodsReceipt.po_id == PurchaseOrder.id)
                       & (GoodsReceipt.status == "open"))
            .where(PurchaseOrder.status.in_(sorted(states.ON_ORDER)))
            .order_by(PurchaseOrder.number))
        return [AwaitingOrder(i, f"PO-{n:06d}", sup, st, exp, grn)
                for i, n, sup, st, exp, grn in rows.all()]


# --- starting ------------------------------------------------------------------------


async def start(db: Database, *, po_id: str | None, supplier_id: str | None,
                supplier_ref: str, user_id: str | None) -> str:
    """Open a receipt (or join the order's open one: two phones share it)."""
    async with db.write() as s:
        po = None
        if po_id:
            po = await s.get(PurchaseOrder, po_id[:36])
            if po is None:
                raise NotFound(_("No such purchase order."))
            if po.status not in states.ON_ORDER:
                label = f"PO-{po.number:06d}"
                if po.status == "draft":
                    raise ReceivingError(_("%(order)s is a draft: mark it as sent before "
                                           "receiving against it.") % {"order": label})
                raise ReceivingError(_("%(order)s is %(state)s; nothing more can be received "
                                       "against it. Receive without an order instead.")
                                     % {"order": label, "state": states.state_word(po.status)})
            joined = await s.scalar(select(GoodsReceipt.id).where(
                GoodsReceipt.po_id == po.id, GoodsReceipt.status == "open"))
            if joined is not None:
                return joined
            supplier_id = po.supplier_id
        elif supplier_id and await s.get(Supplier, supplier_id[:36]) is None:
            raise NotFound(_("No such supplier."))
        number = await s.scalar(select(func.max(GoodsReceipt.number))) or 0
        grn = GoodsReceipt(id=uuid7(), number=number + 1, po_id=po.id if po else None,
                           supplier_id=supplier_id or None, status="open",
                           supplier_ref=supplier_ref, created_by=user_id, created_at=utcnow())
        s.add(grn)
        return grn.id


# --- scanning ------------------------------------------------------------------------


async def _received_before(s: Session, grn: GoodsReceipt, product_id: str,
                           line: PurchaseOrderLine | None) -> int:
    """What the order already had of the product: earlier receipts (the line's
    received) and this receipt's lines, good and damaged."""
    here = await s.scalar(select(func.coalesce(func.sum(GoodsReceiptItem.quantity), 0)).where(
        GoodsReceiptItem.grn_id == grn.id, GoodsReceiptItem.product_id == product_id))
    return int(here or 0) + (line.received if line else 0)


def _pack_size(pid: str, lines: dict[str, PurchaseOrderLine],
               offered: dict[str, SupplierProduct]) -> int | None:
    if pid in lines:
        return lines[pid].pack_size
    if pid in offered:
        return offered[pid].pack_size
    return None


@dataclass(frozen=True)
class ScannedProduct:
    """What the add form shows of the scanned product (a plain row, not an ORM object)."""

    id: str
    sku: str
    name: str
    unit: str
    tracks_expiry: bool


# A scan is a read of plain rows through prepared statements (core/prepared.py, as at
# the till): the ORM's per-query and per-object cost was most of a scan's time.
_GRN = cast(Table, GoodsReceipt.__table__)
_PRODUCTS = cast(Table, Product.__table__)
_BARCODES = cast(Table, Barcode.__table__)
_LINES = cast(Table, PurchaseOrderLine.__table__)
_OFFERS = cast(Table, SupplierProduct.__table__)
_ITEMS = cast(Table, GoodsReceiptItem.__table__)
_BINS = cast(Table, Bin.__table__)
_LEVELS = cast(Table, StockLevel.__table__)
_PRODUCT_COLUMNS = (_PRODUCTS.c.id, _PRODUCTS.c.sku, _PRODUCTS.c.name, _PRODUCTS.c.unit,
                    _PRODUCTS.c.tracks_expiry)
_SCAN_GRN = Prepared(select(_GRN.c.number, _GRN.c.status, _GRN.c.po_id, _GRN.c.supplier_id)
                     .where(_GRN.c.id == bindparam("grn_id")))
_PRODUCT_BY_CODE = Prepared(select(*_PRODUCT_COLUMNS)
                            .join(_BARCODES, _BARCODES.c.product_id == _PRODUCTS.c.id)
                            .where(_BARCODES.c.code == bindparam("code")))
_PRODUCT_BY_SKU = Prepared(select(*_PRODUCT_COLUMNS).where(_PRODUCTS.c.sku == bindparam("sku")))
_PRODUCT_BY_ID = Prepared(select(*_PRODUCT_COLUMNS).where(_PRODUCTS.c.id == bindparam("id")))
# The order's line for the product, the supplier's pack size, and what this receipt has
# of it so far, in one statement (each is 0 or 1 indexed row).
_SCAN_LINE = Prepared(select(
    select(_LINES.c.quantity).where(_LINES.c.po_id == bindparam("po_id"),
                                    _LINES.c.product_id == bindparam("product_id"))
    .scalar_subquery(),
    select(_LINES.c.unit).where(_LINES.c.po_id == bindparam("po_id"),
                                _LINES.c.product_id == bindparam("product_id"))
    .scalar_subquery(),
    select(_LINES.c.pack_size).where(_LINES.c.po_id == bindparam("po_id"),
                                     _LINES.c.product_id == bindparam("product_id"))
    .scalar_subquery(),
    select(_LINES.c.received).where(_LINES.c.po_id == bindparam("po_id"),
                                    _LINES.c.product_id == bindparam("product_id"))
    .scalar_subquery(),
    select(_OFFERS.c.pack_size).where(_OFFERS.c.supplier_id == bindparam("supplier_id"),
                                      _OFFERS.c.product_id == bindparam("product_id"))
    .scalar_subquery(),
    select(func.coalesce(func.sum(_ITEMS.c.quantity), 0))
    .where(_ITEMS.c.grn_id == bindparam("grn_id"),
           _ITEMS.c.product_id == bindparam("product_id")).scalar_subquery(),
    # The put-away bin: the product's fullest bin (as stock.bin_for_sale chooses).
    select(_BINS.c.code).join(_LEVELS, _LEVELS.c.bin_id == _BINS.c.id)
    .where(_LEVELS.c.product_id == bindparam("product_id")).group_by(_BINS.c.id)
    .order_by(func.sum(_LEVELS.c.on_hand).desc(), _BINS.c.pick_seq).limit(1)
    .scalar_subquery(),
))
_ALL_BINS = Prepared(select(_BINS.c.code, _BINS.c.zone).order_by(_BINS.c.pick_seq,
                                                                 _BINS.c.code))


async def _store_bins(s: Session) -> tuple[BinChoice, ...]:
    """Every bin, in walking order, made into BinChoices once for as long as the bins
    stay the same (the rows are tuples: they key the cache as they are)."""
    return _bin_choices(tuple(await _ALL_BINS.all(s)))


@lru_cache(maxsize=4)
def _bin_choices(rows: tuple[tuple[str, str], ...]) -> tuple[BinChoice, ...]:
    return tuple(BinChoice(code, zone) for code, zone in rows)


@dataclass(frozen=True)
class _ScanGrn:
    id: str
    number: int
    po_id: str | None
    supplier_id: str | None


async def scan(db: Database, grn_id: str, raw: str, *, today: date,
               rules: Sequence[MeasureRule] = ()) -> ScanStep:
    """What a scan found, for the add form: nothing is written."""
    scanned = read_scan(raw, today, rules)
    async with db.read() as s:
        grn = await _open(s, grn_id)
        row = None
        for code in scanned.codes:
            row = await _PRODUCT_BY_CODE.first(s, {"code": code})
            if row is not None:
                break
        if row is None and scanned.sku:
            row = await _PRODUCT_BY_SKU.first(s, {"sku": scanned.sku[:40]})
        if row is None:
            raise ReceivingError(_("No product has barcode %(code)s. Search the product "
                                   "list, or add the barcode to the product first.")
                                 % {"code": scanned.codes[0]})
        return await _step(s, grn, ScannedProduct(*row), scanned)


async def step_for(db: Database, grn_id: str, product_id: str, unit: str) -> ScanStep:
    """The add form again for a product already scanned (to show a refusal on it)."""
    async with db.read() as s:
        grn = await _open(s, grn_id)
        row = await _PRODUCT_BY_ID.first(s, {"id": product_id[:36]})
        if row is None:
            raise ReceivingError(_("That product no longer exists: scan it again."))
        scanned = ScannedCode(raw="", codes=(), case=unit == "case")
        return await _step(s, grn, ScannedProduct(*row), scanned)


async def _open(s: Session, grn_id: str) -> _ScanGrn:
    row = await _SCAN_GRN.first(s, {"grn_id": grn_id[:36]})
    if row is None:
        raise NotFound(_("No such goods receipt."))
    number, status, po_id, supplier_id = row
    if status != "open":
        raise AlreadyClosed(_("%(receipt)s is signed off; start a new receipt.")
                            % {"receipt": grn_label(number)})
    return _ScanGrn(grn_id[:36], number, po_id, supplier_id)


async def _step(s: Session, grn: _ScanGrn, product: ScannedProduct,
                scanned: ScannedCode) -> ScanStep:
    row = await _SCAN_LINE.first(s, {"po_id": grn.po_id, "supplier_id": grn.supplier_id,
                                     "grn_id": grn.id, "product_id": product.id})
    assert row is not None  # a SELECT without FROM: always one row
    qty, unit, line_pack, received, offered_pack, here, fullest = row
    on_order = grn.po_id is not None and qty is not None
    pack = line_pack if on_order else offered_pack  # None: the pack size is not known
    count = scanned.count or 1
    if not scanned.case and product.unit != "piece" and scanned.weight_g:
        count = scanned.weight_g
    if scanned.case:
        try:  # a case whose pack size is unknown: refused at the scan
            scan_quantity("case", 1, pack)
        except ReceivingError as exc:
            raise ReceivingError(f"{product.name}: {exc}") from None
    batch, expiry, dropped = scanned.batch or "", scanned.expiry, ""
    if not product.tracks_expiry and (batch or expiry):
        dropped = _("The code's batch and expiry are not kept: this product does not "
                    "track expiry.")
        batch, expiry = "", None
    bins = await _store_bins(s)
    # Its fullest bin, else the store's first bin; '' in a store with no bins yet.
    home = fullest or (bins[0].code if bins else "")
    return ScanStep(
        product=product, scan=scanned, unit="case" if scanned.case else "piece",
        count=min(count, 9_999), pack_size=pack, batch=batch, expiry=expiry,
        bin_code=home, bins=bins,
        ordered=base_quantity(qty, unit, line_pack) if on_order else None,
        received=int(here or 0) + (int(received) if on_order else 0), dropped=dropped)


async def add_item(db: Database, grn_id: str, item: ItemInput, *, today: date,
                   user_id: str | None, confirmed: frozenset[str] = frozenset()) -> AddResult:
    """Add one line to an open receipt. The same form (its request id) twice adds it once;
    an unusual line (more than ordered + a case, not on the order, expired) raises
    NeedsConfirm unless those warnings are confirmed."""
    if not REQUEST_ID.fullmatch(item.request_id or ""):
        raise ReceivingError(_("This form is out of date: scan the product again."))
    async with db.write() as s:
        seen = await s.scalar(select(GoodsReceiptItem).where(
            GoodsReceiptItem.request_id == item.request_id))
        if seen is not None:
            if seen.grn_id != grn_id:
                raise ReceivingError(_("This form belongs to another receipt: scan again."))
            return await _added(s, seen, repeated=True)
        grn = await _receipt(s, grn_id)
        label = grn_label(grn.number)
        if grn.status != "open":
            raise AlreadyClosed(_("%(receipt)s is signed off; nothing more can be added to "
                                  "it. Start a new receipt for what is left.")
                                % {"receipt": label})
        product = await s.get(Product, item.product_id[:36])
        if product is None:
            raise ReceivingError(_("That product no longer exists: scan it again."))
        lines = await _po_lines(s, grn.po_id, product.id)
        offered = await _supplier_items(s, grn.supplier_id, product.id)
        pack = _pack_size(product.id, lines, offered)
        quantity = scan_quantity(item.unit, item.count, pack)
        line = lines.get(product.id)
        before = await _received_before(s, grn, product.id, line)
        ordered = base_quantity(line.quantity, line.unit, line.pack_size) if line else None
        try:
            warnings = check_line(LineCheck(
                quantity=quantity, pack_size=pack or 1, tracks_expiry=product.tracks_expiry,
                batch=item.batch, expiry=item.expiry, has_order=grn.po_id is not None,
                ordered=ordered, before=before), today)
        except ReceivingError as exc:
            raise ReceivingError(f"{product.name}: {exc}") from None
        todo = [w for w in warnings if w not in confirmed]
        if todo:
            po = await s.get(PurchaseOrder, grn.po_id) if grn.po_id else None
            po_label = f"PO-{po.number:06d}" if po else ""
            raise NeedsConfirm(warnings, [warning_text(
                w, name=product.name, ordered=ordered, total=before + quantity,
                expiry=item.expiry, po=po_label) for w in warnings])
        if item.batch:
            other = await s.scalar(select(GoodsReceiptItem.expiry).where(
                GoodsReceiptItem.grn_id == grn.id, GoodsReceiptItem.product_id == product.id,
                GoodsReceiptItem.batch == item.batch, GoodsReceiptItem.expiry != item.expiry))
            if other is not None:
                raise ReceivingError(_("%(name)s: batch %(batch)s was scanned with expiry "
                                       "%(date)s on this receipt; check the label")
                                     % {"name": product.name, "batch": item.batch,
                                        "date": other.isoformat()})
        bin_id = None
        if not item.damaged:
            if item.bin_code:
                bin_ = await s.scalar(select(Bin).where(Bin.code == item.bin_code[:20].upper()))
                if bin_ is None:
                    raise ReceivingError(_("There is no bin %(bin)s; pick one from the list.")
                                         % {"bin": repr(item.bin_code[:20])})
            else:
                bin_ = await stock.bin_for_sale(s, product)
            bin_id = bin_.id
        row = GoodsReceiptItem(
            id=uuid7(), grn_id=grn.id, product_id=product.id, unit=item.unit, count=item.count,
            pack_size=pack if item.unit == "case" and pack else 1, quantity=quantity,
            damaged=item.damaged, batch=item.batch, expiry=item.expiry, bin_id=bin_id,
            code=item.code[:200], request_id=item.request_id, user_id=user_id, at=utcnow())
        s.add(row)
        await s.flush()
        return await _added(s, row, repeated=False)


async def _added(s: Session, row: GoodsReceiptItem, *, repeated: bool) -> AddResult:
    product = await s.get(Product, row.product_id)
    bin_ = await s.get(Bin, row.bin_id) if row.bin_id else None
    assert product is not None
    return AddResult(row.id, product.name, row.quantity, product.unit,
                     bin_.code if bin_ else "", repeated)


async def remove_item(db: Database, grn_id: str, item_id: str) -> None:
    """Take a mis-scanned line off an open receipt (nothing entered stock yet)."""
    async with db.write() as s:
        grn = await _receipt(s, grn_id)
        if grn.status != "open":
            raise AlreadyClosed(_("%(receipt)s is signed off; its lines stay.")
                                % {"receipt": grn_label(grn.number)})
        row = await s.get(GoodsReceiptItem, item_id[:36])
        if row is not None and row.grn_id == grn.id:
            await s.delete(row)


async def cancel(db: Database, grn_id: str, user_id: str | None) -> None:
    """Give up an open receipt (the wrong order was chosen, the order was cancelled, the
    delivery went back): nothing entered stock; its lines stay, for the record."""
    async with db.write() as s:
        grn = await _receipt(s, grn_id)
        if grn.status != "open":
            raise AlreadyClosed((_("%(receipt)s is already cancelled.")
                                 if grn.status == "cancelled" else
                                 _("%(receipt)s is already signed off."))
                                % {"receipt": grn_label(grn.number)})
        grn.status, grn.closed_at, grn.closed_by = "cancelled", utcnow(), user_id
        audit.record(s, "grn.cancelled", grn_label(grn.number), user=user_id)


# --- signing off ---------------------------------------------------------------------


@dataclass(frozen=True)
class SignOff:
    reasons: dict[str, str]  # product id -> reason for its difference
    costs: dict[str, int | None]  # product id -> cost of a case (None: not given)
    close_po: bool = False  # nothing more will come: the order becomes received


async def sign_off(db: Database, grn_id: str, form: SignOff, *, signer_id: str,
                   user_id: str | None) -> str:
    """Close the receipt with a manager's sign-off (the PIN was checked by the caller):
    stock in, summary kept, average cost, order state, audit; all in one transaction.
    Returns the GRN number's label."""
    async with db.write() as s:
        grn = await _receipt(s, grn_id)
        label = grn_label(grn.number)
        if grn.status != "open":
            raise AlreadyClosed((_("%(receipt)s was already cancelled; nothing was changed.")
                                 if grn.status == "cancelled" else
                                 _("%(receipt)s was already signed off; nothing was changed."))
                                % {"receipt": label})
        items = await _items(s, grn.id)
        if not items:
            raise ReceivingError(_("Nothing has been received on %(receipt)s yet: scan the "
                                   "goods first.") % {"receipt": label})
        summary = await _summary(s, grn, items)
        missing = missing_reasons([r.diff for r in summary], form.reasons)
        if missing:
            names = ", ".join(r.name for r in summary if r.product_id in missing)
            raise ReceivingError(_("Give a reason for each difference: %(names)s.")
                                 % {"names": names})
        products = {p.id: p for p in await s.scalars(
            select(Product).where(Product.id.in_([r.product_id for r in summary])))}
        on_hand = dict((await s.execute(
            select(StockLevel.product_id, func.sum(StockLevel.on_hand))
            .where(StockLevel.product_id.in_(list(products)))
            .group_by(StockLevel.product_id))).all())
        # Stock in: one move per product, bin and batch.
        groups: dict[tuple[str, str, str, date | None], int] = defaultdict(int)
        for it in items:
            if not it.damaged:
                groups[(it.product_id, it.bin_code, it.batch, it.expiry)] += it.quantity
        bins = {b.code: b for b in await s.scalars(
            select(Bin).where(Bin.code.in_(sorted({k[1] for k in groups}))))}
        for (pid, code, batch, expiry), qty in sorted(
                groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
            await stock.record_move(s, product=products[pid], bin=bins[code], delta=qty,
                                    reason="receive", reference=label, user_id=signer_id,
                                    batch=batch or None, expiry=expiry)
        now = utcnow()
        lines = await _po_lines(s, grn.po_id)
        for row in summary:
            cost = form.costs.get(row.product_id, row.case_cost_minor)
            s.add(GoodsReceiptLine(
                grn_id=grn.id, product_id=row.product_id, expected=row.diff.expected,
                good=row.diff.good, damaged=row.diff.damaged, kinds=",".join(row.kinds),
                reason=form.reasons.get(row.product_id, "").strip()[:120] if row.kinds else "",
                pack_size=row.pack_size, case_cost_minor=cost))
            if row.diff.good and cost is not None:
                await _average(s, row.product_id, int(on_hand.get(row.product_id) or 0),
                               row.diff.good, value_of(row.diff.good, cost, row.pack_size), now)
            if row.product_id in lines:
                lines[row.product_id].received += row.diff.good
        if grn.po_id:
            await _move_order(s, grn.po_id, lines, form.close_po, signer_id)
        grn.status, grn.closed_at = "closed", now
        grn.closed_by, grn.signed_by = user_id, signer_id
        audit.record(s, "grn.signed", f"{label} {count_of(len(items), 'line')}", user=user_id,
                     approver=signer_id)
        return label


async def _average(s: Session, product_id: str, on_hand: int, received: int, value: int,
                   now: datetime) -> None:
    row = await s.get(ProductCost, product_id)
    old = AverageCost(row.quantity, row.value_minor) if row else None
    new = moving_average(old, on_hand, received, value)
    if row is None:
        row = ProductCost(product_id=product_id)
        s.add(row)
    row.quantity, row.value_minor = new.quantity, new.value_minor
    row.avg_cost_minor, row.updated_at = new.per_unit_minor, now


async def _move_order(s: Session, po_id: str, lines: dict[str, PurchaseOrderLine],
                      close: bool, signer_id: str) -> None:
    po = await s.get(PurchaseOrder, po_id)
    assert po is not None
    complete = all(ln.received >= base_quantity(ln.quantity, ln.unit, ln.pack_size)
                   for ln in lines.values())
    any_in = any(ln.received > 0 for ln in lines.values())
    target = "received" if complete or close else ("partly_received" if any_in else po.status)
    if target != po.status:
        try:
            states.check(po.status, target)
        except states.IllegalTransition as exc:  # cancelled while the goods were scanned
            raise ReceivingError(_("%(order)s: %(problem)s; nothing was changed.")
                                 % {"order": f"PO-{po.number:06d}", "problem": exc}) from None
        po.status, po.updated_at = target, utcnow()
        audit.record(s, f"po.{target}", f"PO-{po.number:06d}", user=signer_id)


async def product_cost(db: Database, product_id: str) -> ProductCost | None:
    async with db.read() as s:
        return await s.get(ProductCost, product_id)
