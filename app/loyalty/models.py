"""A store's loyalty customers and their points ledger (issue #21, docs/loyalty.md).

Only what the scheme needs is kept (DPDP Act 2023): the mobile number, an optional
card code and first name, and when the customer agreed. Erasing a customer blanks all
of it; the ledger rows stay, anonymous, for the books."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7


class Customer(Base):
    __tablename__ = "loyalty_customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    phone: Mapped[str | None] = mapped_column(String(10), unique=True, nullable=True)
    card: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(60), default="")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The last balance the hub sent, and the highest outbox seq of this store it had
    # booked then: this store's entries after it are still pending (core/loyalty.py).
    hub_balance: Mapped[int] = mapped_column(Integer, default=0)
    hub_seq: Mapped[int] = mapped_column(Integer, default=0)
    hub_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoyaltyEntry(Base):
    """One movement of a customer's points: earned (+), redeemed (-), earned_back (-, a
    refund takes back what it earned), points_back (+, a refund returns what points
    paid). `seq` is the outbox seq of the event that tells the hub."""

    __tablename__ = "loyalty_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    customer_id: Mapped[str] = mapped_column(ForeignKey("loyalty_customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int] = mapped_column(Integer)
    sale_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    refund_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reference: Mapped[str] = mapped_column(String(20), default="")  # S1-000123 / S1-R00012
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # Who took the points tender (a `redeemed` row): the till's user id (migration 0031).
    cashier_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class RefundPart(Base):
    """What a refund did not pay in money beyond points given back as points (migration
    0031), for the shift's X/Z report: the points share of an erased customer's refund
    (forfeited) and the value of earned points already spent (kept back)."""

    __tablename__ = "loyalty_refund_parts"

    refund_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    forfeited_minor: Mapped[int] = mapped_column(Integer, default=0)
    kept_minor: Mapped[int] = mapped_column(Integer, default=0)


class Tombstone(Base):
    """A mobile number erased at this store: an HMAC of the number (keyed from the
    install's secret file, never the number itself) and when. A hub balance booked
    before it is ignored; the number is known here again only with a consent given
    after it (service.apply_balance, docs/loyalty.md)."""

    __tablename__ = "loyalty_tombstones"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())
