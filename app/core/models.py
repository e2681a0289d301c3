"""Staff, machine keys and login throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime
from app.core.ids import uuid7

ROLES = ("cashier", "picker", "manager", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # The PIN's hash at a store, the password's at the hub (peppered scrypt either way).
    pin_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The staff member's own language (one of app/locale.shipped_languages, checked by
    # app/core/i18n.is_shipped); "" = the store's default.
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    # Hub second factor (TOTP, RFC 6238): the base32 secret, when the user proved they
    # hold it (a first code), and the last time step accepted (a code is good once).
    # The key is sealed at the hub (hub/sealing.py: "s1:" + 80 characters). SQLite keeps
    # text of any length (and a store holds no key), so only PostgreSQL's column is wider
    # (hub migration h011).
    totp_secret: Mapped[str | None] = mapped_column(
        String(64).with_variant(String(128), "postgresql"), nullable=True)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ApiKey(Base):
    """A key for a machine (sales channel, script); only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    scope: Mapped[str] = mapped_column(String(40))
    # The only channel whose orders the key may post, read and cancel (issue #13 item 1).
    channel: Mapped[str] = mapped_column(String(40), default="local", server_default="local")
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so staff can tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginThrottle(Base):
    """Failed sign-in attempts per user, device and source ("user:<id>", "device:<hash>",
    "source:<address>"). `strikes` counts lockouts in a row, so each lasts longer;
    `updated_at` lets old rows be pruned."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    strikes: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True,
                                                        index=True)


class TrustedDevice(Base):
    """A device (its cookie's SHA-256) a user has signed in on: a lock on the user made
    by someone guessing elsewhere does not lock them out of their own till."""

    __tablename__ = "trusted_devices"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    device_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditLog(Base):
    """Who did what sensitive thing (logins, lockouts, adjustments, overrides)."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=uuid7)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approver_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")


class NumberSequence(Base):
    """Gapless human numbers (receipts, refunds, shifts). Incremented inside the
    caller's write transaction, so a rolled-back sale never burns a number."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
