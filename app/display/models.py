"""Customer displays and the idle slideshow's images, as rows.

A display is created when a manager starts pairing it to a counter: it then holds
only the hash of a one-time pairing code (and when that code expires). Joining
replaces the code by the hash of the display's own long-lived token (the cookie the
screen keeps); revoking stamps revoked_at, after which neither works again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class CustomerDisplay(Base):
    __tablename__ = "customer_displays"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    counter: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(40))
    # SHA-256 hex of the one-time pairing code; None once used.
    pairing_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True,
                                                     unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # SHA-256 hex of the display's token (its HttpOnly cookie); None until paired.
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True,
                                                   unique=True)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class DisplaySlide(Base):
    """One image of the idle slideshow; the file is data_dir/<file> (display_slides/…)."""

    __tablename__ = "display_slides"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    file: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(4))  # png, jpeg, webp (from its first bytes)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
