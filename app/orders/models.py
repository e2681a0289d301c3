"""Orders from sales channels and the hub, their lines, transitions and stock reservations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("channel", "external_id"),
                      Index("ix_orders_state_promised", "state", "promised_by"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # D2-000123
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    # "hub": assigned over the sync link; "api": posted by an API key; "demo": the demo feed.
    source: Mapped[str] = mapped_column(String(8), default="api", server_default="api")
    state: Mapped[str] = mapped_column(String(12))
    customer_name: Mapped[str] = mapped_column(String(80))
    customer_phone: Mapped[str] = mapped_column(String(15))
    address: Mapped[str] = mapped_column(String(300))
    pincode: Mapped[str] = mapped_column(String(6))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    promised_by: Mapped[datetime] = mapped_column(UTCDateTime())
    payment: Mapped[str] = mapped_column(String(8))  # prepaid | cod
    cod_amount_minor: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(String(300), default="")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    handover_code: Mapped[str] = mapped_column(String(8))
    courier: Mapped[str] = mapped_column(String(40), default="")  # chosen by the hub
    bag_count: Mapped[int] = mapped_column(Integer, default=0)
    bags_handed: Mapped[str] = mapped_column(String(200), default="")  # "1,2": bags scanned
    # Secret made at packing; each bag label's code is derived from it (never printed).
    bag_key: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    lines: Mapped[list[OrderLine]] = relationship(lazy="selectin", order_by="OrderLine.position",
                                                  cascade="all, delete-orphan")
    transitions: Mapped[list[OrderTransition]] = relationship(
        lazy="selectin", order_by="OrderTransition.at", cascade="all, delete-orphan")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)  # pieces / grams / ml
    price_minor: Mapped[int] = mapped_column(Integer)  # the channel's price for the line
    picked_quantity: Mapped[int] = mapped_column(Integer, default=0)
    packed_quantity: Mapped[int] = mapped_column(Integer, default=0)


class OrderTransition(Base):
    """Who moved the order, when, from what to what, and why: the order's timeline."""

    __tablename__ = "order_transitions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(12), default="")
    to_state: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(80))  # a user's name, an API key's name, "auto"
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockReservation(Base):
    """Stock promised to an accepted order line: available = on hand - reserved."""

    __tablename__ = "stock_reservations"

    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)


class ReservedChannel(Base):
    """A channel name the hub uses (its `hub.channels` event): its orders come only over
    the sync link, so no API key at the store may post under it (issue #13 item 1)."""

    __tablename__ = "reserved_channels"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
