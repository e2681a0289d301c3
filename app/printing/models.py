"""Print jobs: rows in the store database, written in the same transaction as the
sale or step that asked for them, so a receipt is never lost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime

# done: the printer confirmed it (or a preview); sent: handed to a printer that cannot confirm
JOB_STATES = ("queued", "sending", "done", "sent", "failed", "cancelled")


class PrintJob(Base):
    __tablename__ = "print_jobs"
    __table_args__ = (Index("ix_print_jobs_printer_status_seq", "printer", "status", "seq"),)

    # seq orders jobs: each printer's worker sends them strictly in seq order.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    printer: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(String(20))  # receipt | refund | report | test
    ref: Mapped[str] = mapped_column(String(36), default="")  # sale / refund / shift id
    title: Mapped[str] = mapped_column(String(80), default="")
    layout: Mapped[str] = mapped_column(Text)  # the rendered layout text (see layout.py)
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
