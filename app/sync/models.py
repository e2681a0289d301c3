"""The outbox: events other nodes must learn, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox"

    # seq is the store->hub sequence of sync protocol v1: consecutive, never reused.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)  # JSON


class SyncState(Base):
    """One row: this store database's sync identity and cursors.

    epoch is made with the database (migration 0004); restoring a backup or starting a
    fresh file under the same store id is exactly what it lets the hub notice."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(64))
    applied_down: Mapped[int] = mapped_column(Integer, default=0)  # last hub->store seq applied
    acked_up: Mapped[int] = mapped_column(Integer, default=0)  # last outbox seq the hub acked
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Last catalogue-log seq applied (sync protocol 3, issue #24; migration 0033).
    applied_catalog: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InboxEvent(Base):
    """Every hub -> store event this store applied, in order: the store's half of the
    exactly-once proof (its id is unique, so a double apply would fail loudly)."""

    __tablename__ = "sync_inbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())
