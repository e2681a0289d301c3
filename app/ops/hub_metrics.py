"""`/metrics` for the hub (issue #23, docs/deploy.md "Watching the hub"), beside the
store's (app/ops/metrics.py, whose request histogram and middleware it shares).

Every name starts `kirana_hub_` so one Prometheus holding stores and hubs never mixes
them. Per request: `kirana_hub_request_seconds`, per route template and method, in this
process only (several hub processes: scrape each one). The rest is read from the hub's
database when Prometheus asks, so every process answers the same:

- stores: each active store online or not (a live link seen within
  sync.offline_after_seconds, as on the Stores page), its sync lag, the hub's events it
  has not applied yet and the age of the oldest, since the hub last heard from it, and
  whether it carries an alert (a refused link: a restored database); what a store
  reports of its computer (sync protocol 2: free disk, newest backup, clock skew), as
  stores on their own LANs may be out of Prometheus' reach. What waits in a
  store's own outbox is the store's figure (`kirana_outbox_unsent`): the hub cannot
  know it while the store is away;
- online orders not yet final, per state, and those past their promised time (not
  delivered, cancelled or undelivered: a rider's late order is late too);
- channel webhooks waiting (and retrying after a failure) per channel, the oldest
  waiting, and calls given up after every attempt in the last day;
- the database's size: the SQLite file and its WAL, or PostgreSQL's pg_database_size.

Every query stays on an index: orders by status, the outbox by (store, seq), webhooks
waiting by next_attempt_at and the day's given-up calls by their time-ordered id (a
uuid7), so a scrape costs the same after a year of orders as on the first day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client import Gauge, generate_latest
from sqlalchemy import func, select, text

from app import __version__
from app.config import HubConfig
from app.core.clock import utcnow
from app.hub import catalog_log
from app.hub.db import HubDatabase
from app.hub.models import HubOrder, HubStore, HubWebhook
from app.hub.order_states import FINAL, TRANSITIONS
from app.hub.views import store_health
from app.ops.metrics import RequestMetrics, age_seconds, file_size

__all__ = ["OPEN_STATES", "HubMetrics", "uuid7_floor"]

# Every state an order can wait in: the order_states machine's, less its final ones.
OPEN_STATES = tuple(state for state in TRANSITIONS if state not in FINAL)
# A split order's parts carry its lateness; the split order itself is not counted twice.
LATE_STATES = tuple(s for s in OPEN_STATES if s != "split")
GIVEN_UP_WINDOW = timedelta(days=1)


class HubMetrics(RequestMetrics):
    def __init__(self, cfg: HubConfig) -> None:
        super().__init__("kirana_hub")
        self.cfg = cfg
        r = self.registry
        Gauge("kirana_hub_info", "This hub", ["hub", "version"],
              registry=r).labels(cfg.hub.name, __version__).set(1)
        self.stores = Gauge("kirana_hub_stores", "Active stores, online or offline",
                            ["state"], registry=r)
        self.online = Gauge("kirana_hub_store_online",
                            "1 while the store has a live sync link, else 0", ["store"],
                            registry=r)
        self.seen = Gauge("kirana_hub_store_last_seen_seconds",
                          "Seconds since the hub last heard from the store (-1: never)",
                          ["store"], registry=r)
        self.lag = Gauge("kirana_hub_store_sync_lag_seconds",
                         "How old the store's newest event was when the hub applied it "
                         "(-1: no event yet)", ["store"], registry=r)
        self.waiting = Gauge("kirana_hub_outbox_waiting",
                             "Hub events the store has not applied yet", ["store"],
                             registry=r)
        self.waiting_age = Gauge("kirana_hub_outbox_oldest_waiting_seconds",
                                 "Age of the oldest hub event the store has not applied "
                                 "(0 when none wait)", ["store"], registry=r)
        self.catalog_behind = Gauge(
            "kirana_hub_store_catalog_behind",
            "Seqs of the shared catalogue log past the store's place in it: its ack "
            "(protocol 3) or how far the log was copied into its stream (older stores)",
            ["store"], registry=r)
        # What a store reports of its computer (sync protocol 2, every 5 minutes): stores
        # sit on their own LANs, so the hub may be the only place Prometheus sees them.
        self.disk = Gauge("kirana_hub_store_disk_free_bytes",
                          "Free space on the store's database disk, as it last reported "
                          "(-1: it could not read it)", ["store"], registry=r)
        self.backup = Gauge("kirana_hub_store_last_backup_seconds",
                            "Age of the store's newest backup, as it last reported (-1: none)",
                            ["store"], registry=r)
        self.skew = Gauge("kirana_hub_store_clock_skew_seconds",
                          "The store's clock minus the hub's when it last reported",
                          ["store"], registry=r)
        self.alert = Gauge("kirana_hub_store_alert",
                           "1 while the store's link is refused and waits for an admin "
                           "(a restored database)", ["store"], registry=r)
        self.orders = Gauge("kirana_hub_orders_open", "Online orders not yet final, per state",
                            ["state"], registry=r)
        self.late = Gauge("kirana_hub_orders_late",
                          "Orders past their promised time and not delivered, cancelled or "
                          "undelivered (SLA breaches)", registry=r)
        self.hooks = Gauge("kirana_hub_webhooks",
                           "Channel webhook calls: waiting (all not yet delivered), retrying "
                           "(waiting after a failed attempt), failed (given up, last 24 h)",
                           ["channel", "status"], registry=r)
        self.hooks_age = Gauge("kirana_hub_webhook_oldest_waiting_seconds",
                               "Age of the oldest webhook call not yet delivered (0: none)",
                               registry=r)
        self.db_bytes = Gauge("kirana_hub_database_bytes",
                              "The database's size: the SQLite file, or PostgreSQL's "
                              "pg_database_size", registry=r)
        self.wal_bytes = Gauge("kirana_hub_wal_bytes",
                               "The SQLite database's WAL file (0 on PostgreSQL)", registry=r)

    async def render(self, db: HubDatabase) -> bytes:
        """Read the hub's state into the gauges and write out every figure."""
        now = utcnow()
        health = await store_health(db, self.cfg.offline_after)
        async with db.read() as s:
            reports = {row[0]: row[1:] for row in (await s.execute(
                select(HubStore.id, HubStore.status_at, HubStore.status_disk_free,
                       HubStore.status_backup_at, HubStore.status_clock_skew,
                       HubStore.sync_proto, HubStore.catalog_acked, HubStore.catalog_copied)
                .where(HubStore.active))).all()}
            head = await catalog_log.head(s)
            states = dict((await s.execute(
                select(HubOrder.status, func.count()).where(HubOrder.status.in_(OPEN_STATES))
                .group_by(HubOrder.status))).all())
            late = await s.scalar(select(func.count()).select_from(HubOrder).where(
                HubOrder.status.in_(LATE_STATES), HubOrder.promised_by < now))
            waiting = (await s.execute(  # attempts: 0 to webhooks.MAX_ATTEMPTS
                select(HubWebhook.channel, HubWebhook.attempts, func.count(),
                       func.min(HubWebhook.created_at))
                .where(HubWebhook.next_attempt_at.is_not(None))
                .group_by(HubWebhook.channel, HubWebhook.attempts))).all()
            failed = (await s.execute(
                select(HubWebhook.channel, func.count())
                .where(HubWebhook.id >= uuid7_floor(now - GIVEN_UP_WINDOW),
                       HubWebhook.delivered_at.is_(None), HubWebhook.next_attempt_at.is_(None))
                .group_by(HubWebhook.channel))).all()
            pg_size = (await s.scalar(text("SELECT pg_database_size(current_database())"))
                       if db.dialect == "postgresql" else None)
        for gauge in (self.online, self.seen, self.lag, self.waiting, self.waiting_age,
                      self.alert, self.hooks, self.disk, self.backup, self.skew,
                      self.catalog_behind):
            gauge.clear()  # a store switched off or a channel gone leaves no stale series
        online = 0
        for st in health:
            if st.id not in reports:  # switched off
                continue
            online += st.online
            self.online.labels(st.id).set(int(st.online))
            self.seen.labels(st.id).set(age_seconds(now, st.last_seen_at)
                                        if st.last_seen_at else -1)
            self.lag.labels(st.id).set(-1 if st.lag_seconds is None else st.lag_seconds)
            self.waiting.labels(st.id).set(st.waiting_down)
            self.waiting_age.labels(st.id).set(
                (st.oldest_waiting_seconds or 0) if st.waiting_down else 0)
            self.alert.labels(st.id).set(int(bool(st.alert)))
            reported_at, disk, backup_at, skew, proto, cat_acked, cat_copied = reports[st.id]
            self.catalog_behind.labels(st.id).set(
                max(0, head - (cat_acked if proto >= 3 else cat_copied)))
            if reported_at is not None:  # a store before protocol 2 reports nothing
                self.disk.labels(st.id).set(-1 if disk is None else disk)
                self.backup.labels(st.id).set(age_seconds(now, backup_at) if backup_at
                                              else -1)
                self.skew.labels(st.id).set(skew or 0)
        self.stores.labels("online").set(online)
        self.stores.labels("offline").set(len(reports) - online)
        for state in OPEN_STATES:
            self.orders.labels(state).set(states.get(state, 0))
        self.late.set(late or 0)
        oldest: datetime | None = None
        totals: dict[str, dict[str, int]] = {}
        for channel, attempts, count, first in waiting:
            row = totals.setdefault(channel, {"waiting": 0, "retrying": 0, "failed": 0})
            row["waiting"] += count
            row["retrying"] += count if attempts else 0
            first = datetime.fromisoformat(first) if isinstance(first, str) else first
            oldest = first if oldest is None or (first and first < oldest) else oldest
        for channel, count in failed:
            totals.setdefault(channel, {"waiting": 0, "retrying": 0, "failed": 0})
            totals[channel]["failed"] = count
        for channel, row in totals.items():
            for status, count in row.items():
                self.hooks.labels(channel, status).set(count)
        self.hooks_age.set(age_seconds(now, oldest) if oldest else 0)
        if pg_size is not None:
            self.db_bytes.set(pg_size)
            self.wal_bytes.set(0)
        else:
            path = Path(self.cfg.resolve(self.cfg.hub.database_path))
            self.db_bytes.set(file_size(path))
            self.wal_bytes.set(file_size(Path(f"{path}-wal")))
        return generate_latest(self.registry)


def uuid7_floor(at: datetime) -> str:
    """The smallest uuid7 (app/core/ids.py) made at or after `at`: ids sort by their
    time, so `id >= uuid7_floor(t)` is a range of the primary key."""
    h = f"{int(at.timestamp() * 1000):012x}"
    return f"{h[:8]}-{h[8:12]}"
