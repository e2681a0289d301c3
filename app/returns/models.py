"""An online order's return at the store: expected from the hub, received and graded at
the returns desk, finished (refund decided, stock moved) in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7

# expected -> receiving (first unit graded) -> awaiting_approval (a manager must
# approve) -> completed | rejected
STATES = ("expected", "receiving", "awaiting_approval", "completed", "rejected")
OPEN_STATES = ("expected", "receiving", "awaiting_approval")


class OnlineReturn(Base):
    __tablename__ = "online_returns"
    __table_args__ = (Index("ix_online_returns_state", "state", "requested_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the hub's return_id
    number: Mapped[str] = mapped_column(String(20))                # RET-000012
    kind: Mapped[str] = mapped_column(String(8))                   # customer | rto
    mode: Mapped[str] = mapped_column(String(8))                   # pickup | walk_in | rto
    hub_order_id: Mapped[str] = mapped_column(String(36), default="")
    order_number: Mapped[str] = mapped_column(String(20), default="", index=True)
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    channel_return_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    exchange: Mapped[bool] = mapped_column(Boolean, default=False)
    order_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_by: Mapped[str] = mapped_column(String(80), default="")
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    refund_total_minor: Mapped[int] = mapped_column(Integer, default=0)

    lines: Mapped[list[OnlineReturnLine]] = relationship(
        lazy="selectin", order_by="OnlineReturnLine.position", cascade="all, delete-orphan")


class OnlineReturnLine(Base):
    __tablename__ = "online_return_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    return_id: Mapped[str] = mapped_column(ForeignKey("online_returns.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    expected: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(Integer, default=0)
    refundable_minor: Mapped[int] = mapped_column(Integer, default=0)
    resellable: Mapped[int] = mapped_column(Integer, default=0)
    damaged: Mapped[int] = mapped_column(Integer, default=0)
    customer_damaged: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    wrong_item: Mapped[int] = mapped_column(Integer, default=0)
    refund_minor: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def received(self) -> int:
        return (self.resellable + self.damaged + self.customer_damaged + self.expired
                + self.wrong_item)

    def graded(self) -> dict[str, int]:
        return {"resellable": self.resellable, "damaged": self.damaged,
                "customer_damaged": self.customer_damaged, "expired": self.expired,
                "wrong_item": self.wrong_item}


class OnlineReturnPhoto(Base):
    """A photo of a graded unit, stored as a file under the store's data dir."""

    __tablename__ = "online_return_photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    return_id: Mapped[str] = mapped_column(ForeignKey("online_returns.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    grade: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(String(200))   # relative to the data dir
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class OnlineReturnStep(Base):
    """The return's steps for the order's timeline (requested, each grade, finished)."""

    __tablename__ = "online_return_steps"
    # A grade's form carries a request id: a retried or double-sent grade finds its step
    # and counts nothing twice.
    __table_args__ = (UniqueConstraint("return_id", "request_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    return_id: Mapped[str] = mapped_column(ForeignKey("online_returns.id"), index=True)
    what: Mapped[str] = mapped_column(String(300))
    by: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    request_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
