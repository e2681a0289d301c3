"""A store's promotions as rows: what ``app.core.promotions.Promotion`` needs, in plain
columns (amounts in paise, percents in basis points, targets as JSON lists)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class PromotionRow(Base):
    __tablename__ = "promotions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    # JSON lists of strings: the offer's products (SKUs) and categories; the "get"
    # pieces of a buy X get Y on other products (empty: the same ones).
    target_skus: Mapped[str] = mapped_column(Text, default="[]")
    target_categories: Mapped[str] = mapped_column(Text, default="[]")
    get_skus: Mapped[str] = mapped_column(Text, default="[]")
    get_categories: Mapped[str] = mapped_column(Text, default="[]")
    percent_bp: Mapped[int] = mapped_column(Integer, default=0)
    amount_minor: Mapped[int] = mapped_column(Integer, default=0)
    buy: Mapped[int] = mapped_column(Integer, default=0)
    get: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=0)
    bundle_price_minor: Mapped[int] = mapped_column(Integer, default=0)
    min_bill_minor: Mapped[int] = mapped_column(Integer, default=0)
    cap_minor: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    free_sku: Mapped[str] = mapped_column(String(40), default="")
    starts: Mapped[date | None] = mapped_column(Date, nullable=True, default=None)
    ends: Mapped[date | None] = mapped_column(Date, nullable=True, default=None)
    days: Mapped[str] = mapped_column(String(20), default="")  # "0,5,6": Mon, Sat, Sun
    since_minute: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    until_minute: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    coupon: Mapped[str | None] = mapped_column(String(40), nullable=True, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                      default=None)
    # "store": made here, editable here; "hub": a chain promotion pushed by the hub
    # (promotion.upserted), read-only here; hub_version: the hub's version of it.
    source: Mapped[str] = mapped_column(String(10), default="store", server_default="store")
    hub_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CouponRow(Base):
    """A coupon code's limits (None: no limit). A chain coupon (source "hub") carries the
    uses the hub allows this store in all (`allowance`, cumulative, raised by the hub
    as the store reports uses) and the hub's version (older events never win)."""

    __tablename__ = "coupons"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    total_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    source: Mapped[str] = mapped_column(String(10), default="store")
    allowance: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    hub_version: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CouponUse(Base):
    """One use of a coupon, written in the sale's own transaction; a refund of the
    whole bill sets `returned_at` (the use is given back)."""

    __tablename__ = "coupon_uses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(40), index=True)
    sale_id: Mapped[str] = mapped_column(String(36), index=True)
    customer_phone: Mapped[str] = mapped_column(String(15), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                         default=None)
