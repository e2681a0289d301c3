"""Products and their barcodes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.catalog.rules import UNITS as UNITS  # the rules own it; re-exported for the tables
from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7

# Stock and quantities are integers in the unit's base: pieces, grams, millilitres.
BASE_UNIT = {"piece": "pc", "kg": "g", "litre": "ml"}


class Product(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    # The name in the store's local language ("" = none), shown beside the English one
    # on till lines and the pick screen (issue #22; catalogue CSV column name_local).
    name_local: Mapped[str] = mapped_column(String(120), default="", server_default="")
    # Tax-inclusive price in paise: per piece, or per kg / per litre for loose goods.
    price_minor: Mapped[int] = mapped_column(Integer)
    # MRP printed on the pack, tax inclusive, in paise (per kg / litre for loose goods);
    # None: not known, none shown. price_minor is never above it (catalog/rules.py).
    mrp_minor: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    gst_rate_bp: Mapped[int] = mapped_column(Integer)  # basis points: 5 % = 500
    hsn: Mapped[str] = mapped_column(String(8), default="")
    unit: Mapped[str] = mapped_column(String(8), default="piece")
    pack_size: Mapped[str] = mapped_column(String(20), default="")
    category: Mapped[str] = mapped_column(String(60), default="", index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reorder_level: Mapped[int] = mapped_column(Integer, default=0)
    # Kept per batch and expiry: receiving asks for them, picking and selling go FEFO.
    tracks_expiry: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    barcodes: Mapped[list[Barcode]] = relationship(
        # Not loaded unless asked for (with_barcodes): the scan hot path never needs them.
        back_populates="product",
        cascade="all, delete-orphan",
        lazy="raise_on_sql",
        order_by="Barcode.code",
    )


class Barcode(Base):
    """A canonical code (see barcodes.normalize_gtin) pointing at one product."""

    __tablename__ = "barcodes"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)

    product: Mapped[Product] = relationship(back_populates="barcodes")
