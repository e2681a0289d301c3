"""Suppliers, what each sells us, and purchase orders with their lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    gstin: Mapped[str] = mapped_column(String(15), default="")
    phone: Mapped[str] = mapped_column(String(24), default="")
    lead_time_days: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SupplierProduct(Base):
    """A product a supplier sells us: the price of one case and what a case holds."""

    __tablename__ = "supplier_products"
    __table_args__ = (CheckConstraint("pack_size > 0", name="pack_positive"),)

    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True,
                                            index=True)
    case_cost_minor: Mapped[int] = mapped_column(Integer)  # paise for one case
    pack_size: Mapped[int] = mapped_column(Integer, default=1)  # base units in one case


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[int] = mapped_column(Integer, unique=True)  # shown as PO-000001
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    expected_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PurchaseOrderLine(Base):
    """Quantity in cases or pieces; pack size and case cost are copied from the supplier
    when the line is written, so a later price change does not rewrite a sent order."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("po_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    po_id: Mapped[str] = mapped_column(ForeignKey("purchase_orders.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8), default="case")  # case or piece
    pack_size: Mapped[int] = mapped_column(Integer)
    case_cost_minor: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)  # base units (receiving: later)


# --- receiving (GRN, issue #17): app/purchasing/receiving.py ---------------------------


class GoodsReceipt(Base):
    """A goods received note: what came in from one delivery, against a purchase order
    or without one (supplier optional). Open while staff scan; a manager's PIN closes it,
    and only then does the stock enter (receiving.py says why). One open receipt per
    order at a time: two phones receiving the same order share it."""

    __tablename__ = "goods_receipts"
    __table_args__ = (
        Index("ix_goods_receipts_open_po", "po_id", unique=True,
              sqlite_where=text("status = 'open'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[int] = mapped_column(Integer, unique=True)  # shown as GRN-000001
    po_id: Mapped[str | None] = mapped_column(ForeignKey("purchase_orders.id"), nullable=True)
    supplier_id: Mapped[str | None] = mapped_column(ForeignKey("suppliers.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open, closed
    supplier_ref: Mapped[str] = mapped_column(String(40), default="")  # the supplier's bill no.
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class GoodsReceiptItem(Base):
    """One scanned line: ``quantity`` base units of a product (``count`` cases or pieces
    of ``pack_size``), good (into ``bin_id``) or damaged (never into stock). The
    ``request_id`` of the form that added it makes a double tap or a replay add it once."""

    __tablename__ = "goods_receipt_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    grn_id: Mapped[str] = mapped_column(ForeignKey("goods_receipts.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    unit: Mapped[str] = mapped_column(String(8), default="piece")  # case or piece
    count: Mapped[int] = mapped_column(Integer)
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    quantity: Mapped[int] = mapped_column(Integer)  # base units
    damaged: Mapped[bool] = mapped_column(Boolean, default=False)
    batch: Mapped[str] = mapped_column(String(20), default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    bin_id: Mapped[str | None] = mapped_column(ForeignKey("bins.id"), nullable=True)
    code: Mapped[str] = mapped_column(String(200), default="")  # as scanned
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class GoodsReceiptLine(Base):
    """The signed summary, one row per product, written when the receipt closes:
    expected (None: not on the order, or no order), good, damaged, the differences
    and the reason given, and the cost of a case the receipt was valued at."""

    __tablename__ = "goods_receipt_lines"

    grn_id: Mapped[str] = mapped_column(ForeignKey("goods_receipts.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    expected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    good: Mapped[int] = mapped_column(Integer, default=0)
    damaged: Mapped[int] = mapped_column(Integer, default=0)
    kinds: Mapped[str] = mapped_column(String(60), default="")  # short,excess,damaged,wrong_item
    reason: Mapped[str] = mapped_column(String(120), default="")
    pack_size: Mapped[int] = mapped_column(Integer, default=1)
    case_cost_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ProductCost(Base):
    """A product's moving-average cost (store-local; stock valuation reads it): the cost
    of ``quantity`` base units is ``value_minor`` paise, exact; ``avg_cost_minor`` is
    paise per base unit, rounded half up."""

    __tablename__ = "product_costs"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    avg_cost_minor: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    value_minor: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
