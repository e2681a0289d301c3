"""Counter sales: shifts, carts (live and parked), sales, tenders, refunds."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7
from app.pos.pricing import DiscountKind, TenderKind


class Shift(Base):
    """A cashier's session on one counter, from opening float to the Z report."""

    __tablename__ = "shifts"
    __table_args__ = (
        # At most one open shift per counter (closed_at IS NULL rows are the open ones).
        Index(
            "ux_shifts_open_counter", "counter", unique=True, sqlite_where=text("closed_at IS NULL")
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    counter: Mapped[str] = mapped_column(String(10))
    opened_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    float_minor: Mapped[int] = mapped_column(Integer)
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expected_cash_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counted_cash_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    count_detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON by denomination


class CashMovement(Base):
    __tablename__ = "cash_movements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    shift_id: Mapped[str] = mapped_column(ForeignKey("shifts.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)  # + cash in, - cash out
    reason: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # The manager whose PIN allowed a cash out over the limits (issue #13 item 2).
    approver_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Cart(Base):
    """A sale being built. Kept in the database so a reload, a crash or a second
    tablet never loses it; `version` lets the Pay form notice a cart that changed."""

    __tablename__ = "carts"
    # A counter's active or parked carts in one seek (migration 0024).
    __table_args__ = (Index("ix_carts_counter_status_created", "counter", "status",
                            "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    counter: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|parked|paid|voided
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    customer_phone: Mapped[str] = mapped_column(String(15), default="")
    bill_discount_kind: Mapped[DiscountKind | None] = mapped_column(String(8), nullable=True)
    bill_discount_value: Mapped[int] = mapped_column(Integer, default=0)
    bill_discount_approver: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A registered buyer (B2B): the bill becomes a tax invoice to them (issue #18).
    buyer_gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    buyer_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    buyer_address: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Coupon codes the cashier entered (issue #21), space separated: read with the cart.
    coupons: Mapped[str] = mapped_column(String(250), default="", server_default="")

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CartLine.position",
    )
    tenders: Mapped[list[CartTender]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="CartTender.position",
    )


class CartLine(Base):
    __tablename__ = "cart_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)  # pieces / grams / ml
    label_price_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scanned_code: Mapped[str] = mapped_column(String(64), default="")
    discount_kind: Mapped[DiscountKind | None] = mapped_column(String(8), nullable=True)
    discount_value: Mapped[int] = mapped_column(Integer, default=0)
    discount_approver: Mapped[str | None] = mapped_column(String(36), nullable=True)

    cart: Mapped[Cart] = relationship(back_populates="lines")


class CartTender(Base):
    """A payment taken toward a cart before the sale completes (split payments)."""

    __tablename__ = "cart_tenders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[TenderKind] = mapped_column(String(8))  # payment checks it: check_tender_kind
    amount_minor: Mapped[int] = mapped_column(Integer)
    given_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str] = mapped_column(String(40), default="")
    # When it was taken (0030): the bill's offers are judged at its first payment's time.
    at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


class Sale(Base):
    __tablename__ = "sales"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # S1-000123
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"), unique=True)
    shift_id: Mapped[str] = mapped_column(ForeignKey("shifts.id"), index=True)
    counter: Mapped[str] = mapped_column(String(10))
    cashier_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    customer_phone: Mapped[str] = mapped_column(String(15), default="")
    gross_minor: Mapped[int] = mapped_column(Integer)
    discount_minor: Mapped[int] = mapped_column(Integer)
    rounding_minor: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(Integer)
    tax_minor: Mapped[int] = mapped_column(Integer)
    change_minor: Mapped[int] = mapped_column(Integer, default=0)
    receipt_token: Mapped[str] = mapped_column(String(40), unique=True)
    # GST document (issue #18, migration 0018): b2c | b2b (tax invoice to buyer_gstin) |
    # bos (bill of supply, composition scheme). place_of_supply: state code, '' = ours.
    doc_kind: Mapped[str] = mapped_column(String(4), default="b2c", server_default="b2c")
    buyer_gstin: Mapped[str] = mapped_column(String(15), default="", server_default="")
    buyer_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    buyer_address: Mapped[str] = mapped_column(String(200), default="", server_default="")
    place_of_supply: Mapped[str] = mapped_column(String(2), default="", server_default="")
    invoice_number: Mapped[str | None] = mapped_column(String(16), nullable=True, unique=True,
                                                       index=True)

    lines: Mapped[list[SaleLine]] = relationship(lazy="selectin", order_by="SaleLine.position")

    @property
    def bill_offers(self) -> list[tuple[str, int]]:
        """The bill's offers ("₹50 off on ₹500 or more") and what each took, summed over
        the lines it was spread on (receipts show them with the totals)."""
        seen: dict[str, tuple[str, int]] = {}
        for line in self.lines:
            for offer in line.offers:
                if offer.get("bill"):
                    name, off = seen.get(offer["id"], (offer["name"], 0))
                    seen[offer["id"]] = (name, off + int(offer.get("off", 0)))
        return list(seen.values())
    tenders: Mapped[list[SaleTender]] = relationship(
        lazy="selectin", order_by="SaleTender.position"
    )


class SaleLine(Base):
    """A frozen copy of what was sold: name, price and tax as they were at the time."""

    __tablename__ = "sale_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    # The product's local-language name when sold ("" = none; migration 0034, issue #22):
    # the screen receipt, the e-receipt and a reprint show what the paper showed.
    name_local: Mapped[str] = mapped_column(String(120), default="", server_default="")
    hsn: Mapped[str] = mapped_column(String(8), default="")
    unit: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    # The product's MRP when sold (None: none known), so a later change leaves the bill be.
    mrp_minor: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    gross_minor: Mapped[int] = mapped_column(Integer)
    discount_minor: Mapped[int] = mapped_column(Integer)
    net_minor: Mapped[int] = mapped_column(Integer)
    gst_rate_bp: Mapped[int] = mapped_column(Integer)
    tax_minor: Mapped[int] = mapped_column(Integer)
    cgst_minor: Mapped[int] = mapped_column(Integer)
    sgst_minor: Mapped[int] = mapped_column(Integer)
    igst_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # inter-state
    # The part of discount_minor that promotions took, and which (JSON [{"id", "name"}]):
    # receipts and refunds go by what was charged, whatever the promotion becomes.
    promo_discount_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    promotions: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def offers(self) -> list[dict]:
        """The promotions kept on this line ([] for none, or a row written wrong)."""
        try:
            found = json.loads(self.promotions) if self.promotions else []
        except ValueError:
            return []
        return [o for o in found if isinstance(o, dict) and "name" in o and "id" in o]

    @property
    def item_offers(self) -> list[str]:
        """The names of the item offers on this line, shown under it on receipts."""
        return [str(o["name"]) for o in self.offers if not o.get("bill")]
    bin_id: Mapped[str | None] = mapped_column(ForeignKey("bins.id"), nullable=True)


class SaleTender(Base):
    __tablename__ = "sale_tenders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(Integer)
    given_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference: Mapped[str] = mapped_column(String(40), default="")


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # S1-R00012
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    shift_id: Mapped[str] = mapped_column(ForeignKey("shifts.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # reports (migration 0020)
    tender_kind: Mapped[str] = mapped_column(String(8))
    total_minor: Mapped[int] = mapped_column(Integer)
    tax_minor: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(80), default="")
    # An exchange refund's credit note: SHA-256 of the code printed on the slip, the only
    # way to spend it (issue #13 item 3). The code itself is never stored.
    credit_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True,
                                                         index=True)
    # The GST credit note's serial when the refunded bill was a tax invoice (issue #18).
    credit_note_number: Mapped[str | None] = mapped_column(String(16), nullable=True,
                                                           unique=True, index=True)
    # Of total_minor, the value given back as loyalty points (issue #21, migration 0028):
    # the refund pays total_minor - points_minor by its tender.
    points_minor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    lines: Mapped[list[RefundLine]] = relationship(lazy="selectin")


class RefundLine(Base):
    __tablename__ = "refund_lines"
    __table_args__ = (UniqueConstraint("refund_id", "sale_line_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    refund_id: Mapped[str] = mapped_column(ForeignKey("refunds.id"), index=True)
    sale_line_id: Mapped[str] = mapped_column(ForeignKey("sale_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)
    tax_minor: Mapped[int] = mapped_column(Integer)
    restock: Mapped[str] = mapped_column(String(12))  # resaleable | damaged


class Void(Base):
    """A line or cart removed after scanning: the money that did not reach a sale."""

    __tablename__ = "voids"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    shift_id: Mapped[str] = mapped_column(ForeignKey("shifts.id"), index=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"))
    kind: Mapped[str] = mapped_column(String(8))  # line | cart
    amount_minor: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class TillRequest(Base):
    """A till request that must count once (a scan, a quick-key add): the id the tablet
    made for it, written in the transaction that did it. The tablet sends the same id
    again after a dropped connection; a repeat is answered without doing it twice.
    Rows older than a day are pruned (app/pos/till_requests.py)."""

    __tablename__ = "till_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
