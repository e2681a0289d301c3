"""`/metrics` in Prometheus' text format for a store server (issue #23, docs/deploy.md).

Two kinds of figure:

- per request, kept as requests happen: `kirana_request_seconds`, a histogram per route
  (the route's path template, `/api/v1/products/{sku}`, never the raw path, so a
  scanner cannot grow the series without bound) and method, timed like Server-Timing
  (to the response's first byte; a live order board's stream counts its start only);
- the store's state, read from the database when Prometheus asks: what waits for the
  hub (`kirana_outbox_unsent`, the age of the oldest), when the hub last acknowledged,
  print jobs not yet printed per printer and status, online orders open per state and
  those past their promised time, the database and WAL file sizes, the disk's free
  space, and how old the newest backup is.

Each app has its own registry (tests make many apps in one process). Reading is one
short read transaction of a few aggregate queries; nothing here runs on a till's path
except the histogram's observe (a few microseconds).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from sqlalchemy import text

from app import __version__
from app.config import StoreConfig
from app.core.db import Database
from app.ops.backup import list_backups

__all__ = ["CONTENT_TYPE", "RequestMetrics", "StoreMetrics", "age_seconds", "file_size"]

# A scan should answer in milliseconds; a report may take a second.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
OPEN_ORDER_STATES = ("received", "accepted", "picking", "picked", "packed", "ready")


class RequestMetrics:
    """What the store's and the hub's `/metrics` share: an app's own registry (tests make
    many apps in one process) and `<prefix>_request_seconds`, observed by `middleware`.
    Subclasses add their gauges and a `render(db)`."""

    def __init__(self, prefix: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(f"{prefix}_request_seconds",
                                 "Time to the response's first byte, per route",
                                 ["route", "method"], buckets=BUCKETS, registry=self.registry)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Observe each routed HTTP request's time to first byte under its template."""
        latency = self.latency

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            seen = False

            async def timed_send(message: Message) -> None:
                nonlocal seen
                if not seen and message["type"] == "http.response.start":
                    seen = True
                    route = scope.get("path_template") or "other"
                    method = scope.get("method", "GET")
                    latency.labels(route, method).observe(time.perf_counter() - start)
                await send(message)

            await app(scope, receive, timed_send)

        return middleware


class StoreMetrics(RequestMetrics):
    def __init__(self, cfg: StoreConfig) -> None:
        super().__init__("kirana")
        self.cfg = cfg
        r = self.registry
        self.info = Gauge("kirana_info", "This store server", ["store", "version"], registry=r)
        self.info.labels(cfg.store.id, __version__).set(1)
        self.unsent = Gauge("kirana_outbox_unsent", "Events not yet acknowledged by the hub",
                            registry=r)
        self.unsent_age = Gauge("kirana_outbox_oldest_unsent_seconds",
                                "Age of the oldest event the hub has not acknowledged "
                                "(0 when none wait)", registry=r)
        self.acked_age = Gauge("kirana_hub_last_ack_seconds",
                               "Seconds since the hub last acknowledged events "
                               "(-1: never)", registry=r)
        self.print_jobs = Gauge("kirana_print_jobs",
                                "Print jobs waiting (queued, sending) or failed",
                                ["printer", "status"], registry=r)
        self.orders = Gauge("kirana_orders_open", "Online orders open, per state", ["state"],
                            registry=r)
        self.late = Gauge("kirana_orders_late", "Open online orders past their promised time",
                          registry=r)
        self.db_bytes = Gauge("kirana_database_bytes", "Size of the database file", registry=r)
        self.wal_bytes = Gauge("kirana_wal_bytes", "Size of the database's WAL file",
                               registry=r)
        self.disk_free = Gauge("kirana_disk_free_bytes",
                               "Free space on the database's disk", registry=r)
        self.backup_age = Gauge("kirana_last_backup_seconds",
                                "Age of the newest backup in backup.folder (-1: none)",
                                registry=r)

    async def render(self, db: Database) -> bytes:
        """Read the store's state into the gauges and write out every figure."""
        now = datetime.now(UTC)
        async with db.read() as s:
            acked, acked_at = (await s.execute(text(
                "SELECT acked_up, acked_at FROM sync_state WHERE id = 1"))).one()
            unsent, oldest = (await s.execute(text(
                "SELECT count(*), min(at) FROM outbox WHERE seq > :acked"),
                {"acked": acked})).one()
            jobs = (await s.execute(text(
                "SELECT printer, status, count(*) FROM print_jobs "
                "WHERE status IN ('queued', 'sending', 'failed') "
                "GROUP BY printer, status"))).all()
            states = dict((await s.execute(text(
                "SELECT state, count(*) FROM orders WHERE state IN "
                "('received', 'accepted', 'picking', 'picked', 'packed', 'ready') "
                "GROUP BY state"))).all())
            late = (await s.execute(text(
                "SELECT count(*) FROM orders WHERE state IN ('received', 'accepted', "
                "'picking', 'picked', 'packed', 'ready') AND promised_by < :now"),
                {"now": now.isoformat(timespec="microseconds")})).scalar_one()
        self.unsent.set(unsent)
        self.unsent_age.set(age_seconds(now, oldest) if unsent else 0)
        self.acked_age.set(age_seconds(now, acked_at) if acked_at else -1)
        self.print_jobs.clear()
        for printer, status, count in jobs:
            self.print_jobs.labels(printer, status).set(count)
        for state in OPEN_ORDER_STATES:
            self.orders.labels(state).set(states.get(state, 0))
        self.late.set(late)
        path = Path(self.cfg.database_path)
        self.db_bytes.set(file_size(path))
        self.wal_bytes.set(file_size(Path(f"{path}-wal")))
        disk = os.statvfs(path.parent)
        self.disk_free.set(disk.f_bavail * disk.f_frsize)
        newest = list_backups(self.cfg.resolve(self.cfg.backup.folder), self.cfg.store.id)
        self.backup_age.set((now - newest[0].taken_at).total_seconds() if newest else -1)
        return generate_latest(self.registry)


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def age_seconds(now: datetime, at: object) -> float:
    """Seconds since a stored time (a datetime or SQLite's text of one, UTC)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if not isinstance(at, datetime):
        return 0.0
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (now - at).total_seconds())
