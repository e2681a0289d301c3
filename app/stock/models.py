"""Bins, the append-only stock ledger and the level table kept equal to its sum."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7

REASONS = ("receive", "sale", "refund", "damaged", "expired", "found", "count", "transfer", "pick",
           "order", "return")


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
        # By product and bin, then reason and time: a product's last sale and first
        # delivery are one seek per bin (stock reports, migration 0021, issue #18).
        Index("ix_stock_ledger_product_bin_reason_at", "product_id", "bin_id", "reason", "at"),
        # By time, covering what the suggested order sums (reason, product, delta): the
        # sales of 28 days are read from the index alone (migration 0017, issue #17).
        Index("ix_stock_ledger_at_sold", "at", "reason", "product_id", "delta"),
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
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockLevel(Base):
    """The ledger's sum per product, bin and batch (``''``: stock without a batch).
    ``expiry`` is the batch's date as received (the latest one given for the batch)."""

    __tablename__ = "stock_levels"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"), primary_key=True)
    batch: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)


# --- transfers between stores through the hub (issue #17) ---------------------------


class Transfer(Base):
    """A transfer this store sends or receives: its copy of the hub's (app/stock/
    transfers.py). The number is made where the transfer was raised (S1-T00012 by a
    store, HQ-T00003 by the hub)."""

    __tablename__ = "transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(8))  # store id the stock leaves
    dest: Mapped[str] = mapped_column(String(8))  # store id the stock enters
    # requested | approved | picked | dispatched | received | cancelled (transfer_rules)
    state: Mapped[str] = mapped_column(String(12), index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")  # a cancel's reason
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TransferLine(Base):
    """One SKU of a transfer: asked, picked, sent (all batches) and received."""

    __tablename__ = "transfer_lines"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    picked: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int | None] = mapped_column(Integer, nullable=True)
    difference: Mapped[str] = mapped_column(String(80), default="")  # why, at receipt


class TransferPart(Base):
    """What left the source of one SKU in one batch (``''``: no batch), with the batch's
    expiry, so the destination books the same batches in."""

    __tablename__ = "transfer_parts"

    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), primary_key=True)
    batch: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)


# ---- cycle counts (issue #17; app/stock/counts.py) ------------------------------------


class CountTask(Base):
    """A cycle count a manager asked for: the bins of one bin, zone or product, the
    short-pick list or the ABC list. Counted in rounds: round 2 and 3 recount only the
    lines whose first counts were too far from the book."""

    __tablename__ = "count_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # bin | zone | product | requests | due
    scope: Mapped[str] = mapped_column(String(80), default="")  # what was asked, in words
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    # open | counting | review | done | cancelled
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    counter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    counter_key: Mapped[str] = mapped_column(String(32), default="")  # the counting phone
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CountBin(Base):
    """A bin to count in one round of a task; ``done_at`` once its count was sent."""

    __tablename__ = "count_bins"

    task_id: Mapped[str] = mapped_column(ForeignKey("count_tasks.id"), primary_key=True)
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    done_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CountLine(Base):
    """One product in one bin of a task (all its batches together). ``expected`` is the
    book figure taken when the count was sent, ``counted`` what was counted then; the
    difference posted is counted minus expected, whatever sold since."""

    __tablename__ = "count_lines"
    __table_args__ = (UniqueConstraint("task_id", "product_id", "bin_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    task_id: Mapped[str] = mapped_column(ForeignKey("count_tasks.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"))
    status: Mapped[str] = mapped_column(String(10), default="todo", index=True)
    # todo | recount | approval | matched | posted | rejected
    expected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    variance: Mapped[int] = mapped_column(Integer, default=0)
    value_minor: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(120), default="")
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CountEntry(Base):
    """One count of one line, in the round it was made: the history behind a decision
    and the figures of the accuracy page."""

    __tablename__ = "count_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    line_id: Mapped[str] = mapped_column(ForeignKey("count_lines.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    counted: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CountScan(Base):
    """A scan (or a typed quantity) on the counting phone before its bin is sent. The id
    is the phone's request id, so a scan sent twice counts once."""

    __tablename__ = "count_scans"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      Index("ix_count_scans_task_bin", "task_id", "bin_id", "round"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("count_tasks.id"))
    bin_id: Mapped[str] = mapped_column(ForeignKey("bins.id"))
    round: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


# ---- sales per product and local day (issue #17; app/stock/sales_days.py) ------------


class SalesDay(Base):
    """Minus the sum of a product's sale, order and refund moves on one store-local day,
    kept by record_move(s) in the moves' transaction (equal to the ledger's sum)."""

    __tablename__ = "sales_days"
    # Clustered on (product, day): a product's 28 days are one short range of one b-tree.
    __table_args__ = {"sqlite_with_rowid": False}

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sold: Mapped[int] = mapped_column(Integer, default=0)


class SalesCalendar(Base):
    """The store's local days as UTC spans, for the time zone in SalesDaysZone."""

    __tablename__ = "sales_calendar"
    __table_args__ = {"sqlite_with_rowid": False}

    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)


class SalesDaysZone(Base):
    """One row: the zone sales_days and sales_calendar were built for, and the span."""

    __tablename__ = "sales_days_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
