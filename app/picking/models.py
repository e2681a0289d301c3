"""Pick batches and their tasks (one task = one order line at one bin)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class PickBatch(Base):
    __tablename__ = "pick_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    picker_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    tasks: Mapped[list[PickTaskRow]] = relationship(lazy="selectin", order_by="PickTaskRow.seq")


class PickTaskRow(Base):
    __tablename__ = "pick_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    batch_id: Mapped[str] = mapped_column(ForeignKey("pick_batches.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    order_number: Mapped[str] = mapped_column(String(20))
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    bin_code: Mapped[str] = mapped_column(String(20))
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int] = mapped_column(Integer, default=0)
    bag: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open|done|short|cancelled
    short_reason: Mapped[str] = mapped_column(String(80), default="")
    substitute_sku: Mapped[str] = mapped_column(String(40), default="")
    wrong_scans: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
