"""Fulfilment figures: where each order's minutes went, and how each picker is doing.

`order_timings` and `picker_stats` are pure (rows in, figures out); `load` reads
the rows for a period.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select

from app.core import csv_safe
from app.core.db import Database
from app.core.i18n import N_
from app.core.models import User
from app.orders.models import Order
from app.picking.models import PickBatch

STAGES = (  # (label, from state, to state)
    (N_("Accept"), "received", "accepted"),
    (N_("Start picking"), "accepted", "picking"),
    (N_("Picking"), "picking", "picked"),
    (N_("Packing"), "picked", "ready"),
    (N_("Waiting for rider"), "ready", "handed_over"),
)


@dataclass(frozen=True)
class OrderTiming:
    number: str
    state: str
    seconds: dict[str, float | None]  # stage label -> seconds (None: not reached)
    total: float | None  # received -> handed over
    on_time: bool | None  # handed over by the promised time
    received_at: datetime | None = None  # when the store got it (first 'received')


def order_timings(orders: list[Order]) -> list[OrderTiming]:
    out = []
    for order in orders:
        first: dict[str, datetime] = {}
        for t in order.transitions:
            first.setdefault(t.to_state, t.at)
        seconds = {}
        for label, start, end in STAGES:
            a, b = first.get(start), first.get(end)
            seconds[label] = (b - a).total_seconds() if a and b else None
        done = first.get("handed_over")
        total = (done - first["received"]).total_seconds() if done and "received" in first \
            else None
        out.append(OrderTiming(order.number, order.state, seconds, total,
                               None if done is None else done <= order.promised_by,
                               first.get("received")))
    return out


@dataclass(frozen=True)
class HourRow:
    """Orders the store received in one local hour of the day, and how they ended."""

    hour: int
    received: int
    on_time: int  # handed over by the promised time
    late: int  # handed over after it
    open: int  # not handed over (yet)


def orders_by_hour(timings: list[OrderTiming], tz: tzinfo) -> list[HourRow]:
    """24 rows, by the local hour each order came in: how many came, and how many of
    them met the promised time (SLA), missed it, or are still open."""
    rows = [[0, 0, 0, 0] for _ in range(24)]
    for t in timings:
        if t.received_at is None:
            continue
        row = rows[t.received_at.astimezone(tz).hour]
        row[0] += 1
        row[1 if t.on_time else 2 if t.on_time is False else 3] += 1
    return [HourRow(h, *rows[h]) for h in range(24)]


def stage_averages(timings: list[OrderTiming]) -> list[tuple[str, float | None, int]]:
    rows = []
    for label, _a, _b in STAGES:
        values = [v for t in timings if (v := t.seconds[label]) is not None]
        rows.append((label, sum(values) / len(values) if values else None, len(values)))
    return rows


@dataclass(frozen=True)
class PickerStats:
    picker: str
    batches: int
    lines: int
    items: int
    wrong_scans: int
    short_lines: int
    hours: float

    @property
    def lines_per_hour(self) -> float | None:
        return self.lines / self.hours if self.hours > 0 else None

    @property
    def items_per_hour(self) -> float | None:
        return self.items / self.hours if self.hours > 0 else None

    @property
    def short_rate(self) -> float:
        return self.short_lines / self.lines if self.lines else 0.0


def picker_stats(batches: list[PickBatch], names: dict[str, str]) -> list[PickerStats]:
    by_picker: dict[str, list[PickBatch]] = {}
    for batch in batches:
        by_picker.setdefault(batch.picker_id, []).append(batch)
    out = []
    for picker_id, own in by_picker.items():
        tasks = [t for b in own for t in b.tasks if t.status in ("done", "short")]
        hours = sum(((b.finished_at - b.created_at).total_seconds() for b in own
                     if b.finished_at), 0.0) / 3600
        out.append(PickerStats(
            picker=names.get(picker_id, "?"), batches=len(own), lines=len(tasks),
            items=sum(t.picked if t.unit == "piece" else (1 if t.picked else 0) for t in tasks),
            wrong_scans=sum(t.wrong_scans for t in tasks),
            short_lines=sum(1 for t in tasks if t.status == "short"), hours=hours))
    return sorted(out, key=lambda p: p.picker)


async def load(db: Database, since: datetime) -> tuple[list[OrderTiming], list[PickerStats]]:
    async with db.read() as s:
        orders = list(await s.scalars(select(Order).where(Order.created_at >= since)
                                      .order_by(Order.created_at)))
        batches = list(await s.scalars(select(PickBatch).where(PickBatch.created_at >= since)))
        names = dict((await s.execute(select(User.id, User.name))).all())
        _ = [b.tasks for b in batches]
    return order_timings(orders), picker_stats(batches, names)


def orders_csv(timings: list[OrderTiming]) -> str:
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerow(["order", "state", *(label for label, _a, _b in STAGES), "total_seconds",
                     "on_time"])
    for t in timings:
        writer.writerow([t.number, t.state,
                         *("" if (v := t.seconds[label]) is None else round(v)
                           for label, _a, _b in STAGES),
                         "" if t.total is None else round(t.total),
                         "" if t.on_time is None else ("yes" if t.on_time else "no")])
    return out.getvalue()


def period_start(now: datetime, hours: int) -> datetime:
    return now - timedelta(hours=hours)
