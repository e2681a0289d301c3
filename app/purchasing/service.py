"""Purchasing use cases: suppliers (form and CSV), purchase orders and the suggested order.
Each public function is one transaction; the rules are the pure modules beside it
(rules.py, states.py, suggest.py, csv_io.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from app.catalog.csv_io import RowError
from app.catalog.models import Product
from app.config import StoreConfig
from app.core import audit
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import _, ngettext
from app.core.ids import uuid7
from app.core.words import count_of
from app.printing import service as printing
from app.purchasing import csv_io, states
from app.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from app.purchasing.rules import SupplierFields, WantedLine, base_quantity, line_cost
from app.purchasing.suggest import HISTORY_DAYS, ProductHistory, Suggestion, suggest
from app.stock import sales_days

# Sales are minus the sum of these ledger deltas: till sales and online orders leave,
# refunds come back (kept per day by app/stock/sales_days.py).
SOLD = sales_days.SALE_REASONS



class PurchasingError(ValueError):
    """A refused step; the message is shown to the manager as it is."""


class NotFound(PurchasingError):
    pass


class ImportRejected(PurchasingError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(ngettext("%(num)d bad row(s); nothing was written",
                                  "%(num)d bad row(s); nothing was written", len(errors))
                         % {"num": len(errors)})
        self.errors = errors


def po_label(number: int) -> str:
    return f"PO-{number:06d}"


# --- suppliers -----------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierRow:
    id: str
    name: str
    gstin: str
    phone: str
    lead_time_days: int
    products: int
    open_orders: int


@dataclass(frozen=True)
class SupplierItem:
    product_id: str
    sku: str
    name: str
    case_cost_minor: int
    pack_size: int


@dataclass
class SupplierView:
    supplier: Supplier
    items: list[SupplierItem] = field(default_factory=list)


async def list_suppliers(db: Database) -> list[SupplierRow]:
    async with db.read() as s:
        suppliers = list(await s.scalars(select(Supplier).order_by(Supplier.name)))
        counts = dict((await s.execute(select(SupplierProduct.supplier_id, func.count())
                                       .group_by(SupplierProduct.supplier_id))).all())
        open_ = dict((await s.execute(
            select(PurchaseOrder.supplier_id, func.count())
            .where(PurchaseOrder.status.in_(["draft", *states.ON_ORDER]))
            .group_by(PurchaseOrder.supplier_id))).all())
    return [SupplierRow(x.id, x.name, x.gstin, x.phone, x.lead_time_days,
                        int(counts.get(x.id, 0)), int(open_.get(x.id, 0))) for x in suppliers]


async def _supplier(s: Session, supplier_id: str) -> Supplier:
    supplier = await s.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound(_("No such supplier; it may have been removed."))
    return supplier


async def _items(s: Session, supplier_id: str) -> list[SupplierItem]:
    rows = await s.execute(
        select(Product.id, Product.sku, Product.name, SupplierProduct.case_cost_minor,
               SupplierProduct.pack_size)
        .join(SupplierProduct, SupplierProduct.product_id == Product.id)
        .where(SupplierProduct.supplier_id == supplier_id).order_by(Product.name))
    return [SupplierItem(*r) for r in rows.all()]


async def get_supplier(db: Database, supplier_id: str) -> SupplierView:
    async with db.read() as s:
        supplier = await _supplier(s, supplier_id)
        return SupplierView(supplier, await _items(s, supplier_id))


async def _name_taken(s: Session, name: str, except_id: str | None) -> bool:
    other = await s.scalar(select(Supplier.id).where(func.lower(Supplier.name) == name.lower()))
    return other is not None and other != except_id


async def save_supplier(db: Database, fields: SupplierFields,
                        supplier_id: str | None = None) -> str:
    """Create (no id) or change a supplier; a name already used by another is refused."""
    async with db.write() as s:
        if await _name_taken(s, fields.name, supplier_id):
            raise PurchasingError(_("There is already a supplier called %(name)s.")
                                  % {"name": fields.name})
        if supplier_id is None:
            supplier = Supplier(id=uuid7())
            s.add(supplier)
        else:
            supplier = await _supplier(s, supplier_id)
        supplier.name, supplier.gstin, supplier.phone = fields.name, fields.gstin, fields.phone
        supplier.lead_time_days = fields.lead_time_days
        supplier.updated_at = utcnow()
        return supplier.id


async def _product_by_sku(s: Session, sku: str) -> Product:
    product = await s.scalar(select(Product).where(Product.sku == sku.strip().upper()))
    if product is None:
        raise PurchasingError(_("No product has SKU %(sku)s.") % {"sku": sku.strip().upper()[:40]})
    return product


async def set_item(db: Database, supplier_id: str, sku: str, case_cost_minor: int,
                   pack_size: int) -> None:
    """Add a product the supplier sells us, or change its case cost and pack size."""
    async with db.write() as s:
        await _supplier(s, supplier_id)
        product = await _product_by_sku(s, sku)
        item = await s.get(SupplierProduct, (supplier_id, product.id))
        if item is None:
            s.add(SupplierProduct(supplier_id=supplier_id, product_id=product.id,
                                  case_cost_minor=case_cost_minor, pack_size=pack_size))
        else:
            item.case_cost_minor, item.pack_size = case_cost_minor, pack_size


async def remove_item(db: Database, supplier_id: str, product_id: str) -> None:
    async with db.write() as s:
        await s.execute(delete(SupplierProduct).where(
            SupplierProduct.supplier_id == supplier_id,
            SupplierProduct.product_id == product_id))


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    items: int


async def import_suppliers(db: Database, parsed: csv_io.ParsedSuppliers) -> ImportReport:
    """All or nothing: any bad row (in the file, or a SKU the catalogue does not have)
    rejects the file. A supplier in the file gets exactly the file's product list."""
    errors = list(parsed.errors)
    created = updated = items = 0
    async with db.write() as s:
        skus = {i.sku for b in parsed.suppliers for i in b.items}
        ids = dict((await s.execute(select(Product.sku, Product.id)
                                    .where(Product.sku.in_(sorted(skus))))).all()) if skus else {}
        errors += [RowError(i.line, _("no product has SKU %(sku)s") % {"sku": i.sku})
                   for b in parsed.suppliers for i in b.items if i.sku not in ids]
        if errors:
            raise ImportRejected(sorted(errors, key=lambda e: e.line))
        existing = {x.name.lower(): x for x in await s.scalars(select(Supplier))}
        now = utcnow()
        for block in parsed.suppliers:
            f = block.fields
            supplier = existing.get(f.name.lower())
            if supplier is None:
                supplier = Supplier(id=uuid7(), name=f.name)
                s.add(supplier)
                created += 1
            else:
                updated += 1
                await s.execute(delete(SupplierProduct)
                                .where(SupplierProduct.supplier_id == supplier.id))
            supplier.name, supplier.gstin, supplier.phone = f.name, f.gstin, f.phone
            supplier.lead_time_days, supplier.updated_at = f.lead_time_days, now
            await s.flush()
            s.add_all(SupplierProduct(supplier_id=supplier.id, product_id=ids[i.sku],
                                      case_cost_minor=i.case_cost_minor, pack_size=i.pack_size)
                      for i in block.items)
            items += len(block.items)
    return ImportReport(created, updated, items)


async def export_suppliers(db: Database) -> str:
    async with db.read() as s:
        suppliers = list(await s.scalars(select(Supplier).order_by(Supplier.name)))
        data = [{"name": x.name, "gstin": x.gstin, "phone": x.phone,
                 "lead_time_days": x.lead_time_days,
                 "items": [vars(i) for i in await _items(s, x.id)]} for x in suppliers]
    out = io.StringIO()
    csv_io.write_suppliers(data, out)
    return out.getvalue()


# --- purchase orders -------------------------------------------------------------------


@dataclass(frozen=True)
class LineView:
    product_id: str
    sku: str
    name: str
    quantity: int
    unit: str
    pack_size: int
    case_cost_minor: int

    @property
    def pieces(self) -> int:
        return base_quantity(self.quantity, self.unit, self.pack_size)

    @property
    def line_cost_minor(self) -> int:
        return line_cost(self.quantity, self.unit, self.pack_size, self.case_cost_minor)


@dataclass
class OrderView:
    po: PurchaseOrder
    supplier: Supplier
    lines: list[LineView]

    @property
    def label(self) -> str:
        return po_label(self.po.number)

    @property
    def total_minor(self) -> int:
        return sum(ln.line_cost_minor for ln in self.lines)

    @property
    def editable(self) -> bool:
        return states.editable(self.po.status)

    @property
    def next_steps(self) -> list[str]:
        return sorted(states.TRANSITIONS[self.po.status])


@dataclass(frozen=True)
class OrderRow:
    id: str
    label: str
    supplier: str
    status: str
    expected_on: date | None
    lines: int


async def _write_lines(s: Session, po: PurchaseOrder, wanted: list[WantedLine]) -> int:
    offered = {i.product_id: i for i in await _items(s, po.supplier_id)}
    await s.execute(delete(PurchaseOrderLine).where(PurchaseOrderLine.po_id == po.id))
    seen: set[str] = set()
    n = 0
    for w in wanted:
        if w.quantity == 0:
            continue
        item = offered.get(w.product_id)
        if item is None:
            raise PurchasingError(_("A line is for a product this supplier does not sell us; "
                                    "add it to the supplier first."))
        if w.product_id in seen:
            raise PurchasingError(_("%(name)s is on the order twice.") % {"name": item.name})
        seen.add(w.product_id)
        s.add(PurchaseOrderLine(id=uuid7(), po_id=po.id, product_id=w.product_id,
                                quantity=w.quantity, unit=w.unit, pack_size=item.pack_size,
                                case_cost_minor=item.case_cost_minor, received=0))
        n += 1
    if n == 0:
        raise PurchasingError(_("Nothing to order: every quantity is 0."))
    return n


async def create_order(db: Database, supplier_id: str, wanted: list[WantedLine],
                       expected_on: date | None, user_id: str | None) -> str:
    """A draft purchase order (from the suggestion or typed by hand); its number is the
    next one (writers are serialised, so numbers have no gaps)."""
    async with db.write() as s:
        supplier = await _supplier(s, supplier_id)
        number = await s.scalar(select(func.max(PurchaseOrder.number))) or 0
        now = utcnow()
        po = PurchaseOrder(id=uuid7(), number=number + 1, supplier_id=supplier.id,
                           status="draft", expected_on=expected_on, created_by=user_id,
                           created_at=now, updated_at=now)
        s.add(po)
        await s.flush()
        await _write_lines(s, po, wanted)
        return po.id


async def _order(s: Session, po_id: str) -> PurchaseOrder:
    po = await s.get(PurchaseOrder, po_id)
    if po is None:
        raise NotFound(_("No such purchase order."))
    return po


async def edit_order(db: Database, po_id: str, wanted: list[WantedLine],
                     expected_on: date | None) -> None:
    """Replace a draft's lines and expected date; a sent order cannot change."""
    async with db.write() as s:
        po = await _order(s, po_id)
        if not states.editable(po.status):
            raise PurchasingError(_("%(order)s is %(state)s; only a draft can change.")
                                  % {"order": po_label(po.number),
                                     "state": states.state_word(po.status)})
        await _write_lines(s, po, wanted)
        po.expected_on, po.updated_at = expected_on, utcnow()


async def move_order(db: Database, po_id: str, target: str,
                     user_id: str | None = None) -> None:
    """Send or cancel (and later: received) through the state machine; who did it goes
    to the audit log (action ``po.<state>``)."""
    async with db.write() as s:
        po = await _order(s, po_id)
        try:
            states.check(po.status, target)
        except states.IllegalTransition as exc:
            raise PurchasingError(str(exc)) from None
        po.status, po.updated_at = target, utcnow()
        audit.record(s, f"po.{target}", po_label(po.number), user=user_id)


async def _line_views(s: Session, po_id: str) -> list[LineView]:
    rows = await s.execute(
        select(Product.id, Product.sku, Product.name, PurchaseOrderLine.quantity,
               PurchaseOrderLine.unit, PurchaseOrderLine.pack_size,
               PurchaseOrderLine.case_cost_minor)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .where(PurchaseOrderLine.po_id == po_id).order_by(Product.name))
    return [LineView(*r) for r in rows.all()]


async def get_order(db: Database, po_id: str) -> OrderView:
    async with db.read() as s:
        po = await _order(s, po_id)
        supplier = await _supplier(s, po.supplier_id)
        return OrderView(po, supplier, await _line_views(s, po_id))


async def list_orders(db: Database, limit: int = 100) -> list[OrderRow]:
    async with db.read() as s:
        n_lines = (select(func.count()).where(PurchaseOrderLine.po_id == PurchaseOrder.id)
                   .scalar_subquery())
        rows = await s.execute(
            select(PurchaseOrder.id, PurchaseOrder.number, Supplier.name, PurchaseOrder.status,
                   PurchaseOrder.expected_on, n_lines)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .order_by(PurchaseOrder.number.desc()).limit(limit))
        return [OrderRow(i, po_label(n), name, st, exp, int(c))
                for i, n, name, st, exp, c in rows.all()]


async def print_order(db: Database, cfg: StoreConfig, po_id: str, user_id: str | None
                      ) -> int:
    """Queue the order on every printer that prints purchase orders (the pick-list
    printer in the shipped settings) and say how many jobs that made. Refused when no
    printer prints them, with the setting to change."""
    async with db.write() as s:
        po = await _order(s, po_id)
        supplier = await _supplier(s, po.supplier_id)
        view = OrderView(po, supplier, await _line_views(s, po.id))
        jobs = printing.print_document(s, cfg, "purchase_order", ref=f"po {view.label}",
                                       title=f"{view.label} {supplier.name}", order=view)
        if not jobs:
            raise PurchasingError(_("No printer prints purchase orders: add purchase_order "
                                    "to a printer's documents in the store's settings, or "
                                    "use Print in the browser."))
        audit.record(s, "po_printed", f"{view.label} to {count_of(len(jobs), 'printer')}",
                     user=user_id)
        return len(jobs)


async def order_csv(db: Database, po_id: str) -> tuple[str, str]:
    """(file name, CSV text) of a purchase order for the supplier."""
    view = await get_order(db, po_id)
    out = io.StringIO()
    csv_io.write_purchase_order(
        [{**vars(ln), "pieces": ln.pieces, "line_cost_minor": ln.line_cost_minor}
         for ln in view.lines], out)
    return f"{view.label}.csv", out.getvalue()


# --- suggested order -------------------------------------------------------------------


@dataclass
class SuggestedOrder:
    supplier: Supplier
    today: date
    cover_days: int
    rows: list[Suggestion]

    @property
    def expected_on(self) -> date:
        """When an order sent today should arrive: the form's first guess."""
        return self.today + timedelta(days=self.supplier.lead_time_days)


# The supplier's products with everything the suggested order reads of each, in one
# statement of plain rows on the transaction's sqlite3 connection (2,000 products in
# the bench): stock on hand (all bins and batches), on order (what sent and partly
# received orders still bring, grouped once over their lines rather than looked up per
# product) and the 28 days' sales from the daily rollup, packed (sales_days.packed_sql).
_SUGGEST_ITEMS = (
    "SELECT p.id, p.sku, p.name, sp.pack_size, "
    "(SELECT coalesce(sum(l.on_hand), 0) FROM stock_levels AS l WHERE l.product_id = p.id), "
    "coalesce(due.units, 0), " + sales_days.packed_sql("p.id") + " "
    "FROM supplier_products AS sp JOIN products AS p ON p.id = sp.product_id "
    "LEFT JOIN (SELECT ol.product_id AS product_id, "
    "sum(max(0, CASE WHEN ol.unit = 'case' THEN ol.quantity * ol.pack_size "
    "ELSE ol.quantity END - ol.received)) AS units "
    "FROM purchase_orders AS po JOIN purchase_order_lines AS ol ON ol.po_id = po.id "
    "WHERE po.status IN ({on_order}) GROUP BY ol.product_id) AS due "
    "ON due.product_id = p.id "
    "WHERE sp.supplier_id = :supplier_id ORDER BY p.name")


async def suggested_order(db: Database, supplier_id: str, *, cover_days: int,
                          tz: ZoneInfo, now: datetime | None = None) -> SuggestedOrder:
    """Read the supplier's products' sales (last 28 days, by the store's local date, from
    the daily rollup app/stock/sales_days.py), stock on hand and on order, and ask
    suggest.py what to order."""
    now = now or utcnow()
    today = now.astimezone(tz).date()
    first = today - timedelta(days=HISTORY_DAYS)
    await sales_days.ensure(db, tz, first, today)
    index = {(first + timedelta(days=i)).isoformat(): i for i in range(HISTORY_DAYS)}
    on_order = ", ".join(f"'{status}'" for status in sorted(states.ON_ORDER))
    async with db.read() as s:
        supplier = await _supplier(s, supplier_id)
        items = sales_days.raw_of(s).execute(
            _SUGGEST_ITEMS.format(on_order=on_order),
            {"supplier_id": supplier_id, "first": first.isoformat(),
             "end": today.isoformat()}).fetchall()
    none = (0,) * HISTORY_DAYS
    unpack = sales_days.unpack
    histories = [ProductHistory(pid, sku, name, pack, int(hand), int(due),
                                tuple(unpack(sold, index, HISTORY_DAYS)) if sold else none)
                 for pid, sku, name, pack, hand, due, sold in items]
    rows = suggest(histories, today=today, lead_time_days=supplier.lead_time_days,
                   cover_days=cover_days)
    return SuggestedOrder(supplier, today, cover_days, rows)

