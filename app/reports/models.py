"""The sales report's rollup (issue #18, migration 0022; app/reports/sales_rollup.py keeps
it): the store's bills, lines, tenders and refunds summed per store-local day (and hour),
kept by triggers in the transaction that writes them, so a year's report reads a few
hundred rows per day instead of every sale line."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class SalesReportZone(Base):
    """One row: the zone the rollup's days were built for (the store's cfg.tz)."""

    __tablename__ = "sales_report_zone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tz: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[str] = mapped_column(String(32))


class SalesReportOffset(Base):
    """The zone's UTC offset from ``starts_at`` (ISO UTC text; '' = always) until the next
    row, as SQLite's date modifier ('+19800 seconds'): one row for IST."""

    __tablename__ = "sales_report_offsets"
    __table_args__ = {"sqlite_with_rowid": False}

    starts_at: Mapped[str] = mapped_column(String(32), primary_key=True)
    modifier: Mapped[str] = mapped_column(String(24))


class SalesProductDay(Base):
    """Lines sold (on bills of the day) and refunded (on refunds of the day) of one
    product, GST rate, kind (inter-state or not) and unit."""

    __tablename__ = "sales_product_days"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer, primary_key=True)
    inter: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    unit: Mapped[str] = mapped_column(String(8), primary_key=True)
    qty: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    net: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tax: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    back_qty: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    back_lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    back_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    back_tax: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SalesHourDay(Base):
    """Bills and refunds of one local day and hour."""

    __tablename__ = "sales_hour_days"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    bills: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gross: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rounding: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refunds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SalesPersonDay(Base):
    """Bills a cashier took and refunds a person gave on one local day."""

    __tablename__ = "sales_people_days"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bills: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sales: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refunds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refunded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SalesTenderDay(Base):
    """Money taken (bills' tenders) and paid back (refunds) by tender kind on one day."""

    __tablename__ = "sales_tender_days"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    taken_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    given_n: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    given: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
