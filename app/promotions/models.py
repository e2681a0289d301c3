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
