"""Bins, the append-only stock ledger and the level table kept equal to its sum."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7

REASONS = ("receive", "sale", "refund", "damaged", "expired", "found", "count", "transfer", "pick",
           "order")


class Bin(Base):
    __tablename__ = "bins"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    zone: Mapped[str] = mapped_column(String(20), default="")
    aisle: Mapped[str] = mapped_column(String(10), default="")
    shelf: Mapped[str] = mapped_column(String(10), default="")
    pick_seq: Mapped[int] = mapped_column(Integer, default=0, index=True)


class StockMove(Base):
    """One signed delta. Rows are never updated or deleted: deltas commute, so
    replicas converge by summing them."""

    __tablename__ = "stock_ledger"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="nonzero"),
        Index("ix_stock_ledger_product_bin", "product_id", "bin_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"))
    delta: Mapped[int] = mapped_column(Integer)  # base units: pieces, grams, ml
    reason: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(80), default="")
    batch: Mapped[str | None] = mapped_column(String(20), nullable=True)
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class StockLevel(Base):
    """The ledger's sum per product, bin and batch (``''``: stock without a batch).
    ``expiry`` is the batch's date as received (the latest one given for the batch)."""

    __tablename__ = "stock_levels"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"), primary_key=True)
    batch: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
