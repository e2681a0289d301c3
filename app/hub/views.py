"""What HQ looks at on the hub: store health (links, last events, alerts), central stock
per SKU and store, low stock against reorder levels, and a day's sales per store. Reads
only; the changes behind them are in service.py (registry, catalogue, store events)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import msgspec
from sqlalchemy import Integer, String, cast, func, literal_column, select

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.i18n import _, ngettext
from app.hub import catalog_log, link_history, order_states
from app.hub.db import HubDatabase
from app.hub.link_history import LinkEvent
from app.hub.models import (
    HubCatalogEntry,
    HubOrder,
    HubOutbox,
    HubReservation,
    HubSale,
    HubStockLevel,
    HubStore,
    HubStoreLink,
)
from app.hub.service import is_online, live_links


@dataclass(frozen=True)
class StoreHealth:
    id: str
    name: str
    kind: str
    online: bool
    connected_since: datetime | None
    last_seen_at: datetime | None
    version: str
    waiting_down: int  # hub -> store events the store has not applied yet
    oldest_waiting_seconds: float | None
    lag_seconds: float | None  # how old the store's newest event was when it arrived
    acked_up: int
    alert: str
    alert_at: datetime | None
    links: tuple[LinkView, ...] = ()  # live connections, oldest (the established) first
    refused: dict | None = None  # the connection refused with the alert (RefusedLink)
    refused_epoch: str = ""
    down_acked: int = 0
    computer: StoreComputer | None = None  # None: the store never sent a status (v1)

    @property
    def state(self) -> str:
        if not self.online:
            return "offline"
        return "syncing" if self.waiting_down else "online"

    def as_json(self) -> dict:
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "state": self.state,
            "online": self.online,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
            "version": self.version, "events_waiting": self.waiting_down,
            "oldest_waiting_seconds": self.oldest_waiting_seconds,
            "lag_seconds": self.lag_seconds, "events_received": self.acked_up,
            "alert": self.alert or None,
            "links": [{"address": x.address, "version": x.version,
                       "connected_at": x.connected_at.isoformat()} for x in self.links],
            "refused_link": {**self.refused, "at": self.refused["at"].isoformat()}
            if self.refused else None,
            "status": self.computer.as_json() if self.computer else None,
        }


@dataclass(frozen=True)
class StoreComputer:
    """The latest status a store sent (sync protocol 2), as the Stores page shows it."""

    version: str
    disk_free_bytes: int | None
    last_backup_at: datetime | None
    clock_skew_seconds: float
    received_at: datetime
    now: datetime

    @property
    def backup_age_seconds(self) -> float | None:
        if self.last_backup_at is None:
            return None
        return max(0.0, (self.now - self.last_backup_at).total_seconds())

    @property
    def backup_stale(self) -> bool:
        """No backup, or the newest older than a day: red on the page."""
        age = self.backup_age_seconds
        return age is None or age > BACKUP_STALE_SECONDS

    @property
    def clock_warning(self) -> str:
        return link_history.skew_words(self.clock_skew_seconds)

    @property
    def disk_words(self) -> str:
        if self.disk_free_bytes is None:
            return _("Disk free: not known")
        gb = self.disk_free_bytes / 10**9
        return _("Disk free: %(size)s GB") % {"size": f"{gb:.1f}" if gb < 100 else f"{gb:,.0f}"}

    @property
    def backup_words(self) -> str:
        age = self.backup_age_seconds
        if age is None:
            return _("No backup found")
        return _("Last backup %(age)s ago") % {"age": _age_words(age)}

    def as_json(self) -> dict:
        return {"version": self.version, "disk_free_bytes": self.disk_free_bytes,
                "last_backup_at": self.last_backup_at.isoformat()
                if self.last_backup_at else None,
                "clock_skew_seconds": round(self.clock_skew_seconds, 1),
                "received_at": self.received_at.isoformat()}


BACKUP_STALE_SECONDS = 86400.0


def _age_words(seconds: float) -> str:
    for size, one, many in ((86400, "%(num)d day", "%(num)d days"),
                            (3600, "%(num)d hour", "%(num)d hours"),
                            (60, "%(num)d min", "%(num)d min")):
        if seconds >= size:
            n = int(seconds // size)
            return ngettext(one, many, n) % {"num": n}
    return _("under a minute")


def _computer(st: HubStore, now: datetime) -> StoreComputer | None:
    if st.status_at is None:
        return None
    return StoreComputer(version=st.status_version or "", disk_free_bytes=st.status_disk_free,
                         last_backup_at=st.status_backup_at,
                         clock_skew_seconds=st.status_clock_skew or 0.0,
                         received_at=st.status_at, now=now)


@dataclass(frozen=True)
class LinkView:
    address: str
    version: str
    connected_at: datetime


async def store_health(db: HubDatabase, offline_after: timedelta,
                       store_id: str | None = None) -> list[StoreHealth]:
    """Every store's (or one store's) link and sync state."""
    now = utcnow()
    one = [store_id] if store_id is not None else None
    async with db.read() as s:
        query = select(HubStore).order_by(HubStore.id)
        oldest_q = (select(HubOutbox.store_id, func.min(HubOutbox.at))
                    .join(HubStore, HubStore.id == HubOutbox.store_id)
                    .where(HubOutbox.seq > HubStore.down_acked)
                    .group_by(HubOutbox.store_id))
        seen_q = (select(HubStoreLink.store_id, func.max(HubStoreLink.last_seen_at))
                  .group_by(HubStoreLink.store_id))
        if one is not None:
            query = query.where(HubStore.id == store_id)
            oldest_q = oldest_q.where(HubOutbox.store_id == store_id)
            seen_q = seen_q.where(HubStoreLink.store_id == store_id)
        stores = list(await s.scalars(query))
        oldest = dict((await s.execute(oldest_q)).all())
        live = await live_links(s, now, offline_after, one)
        seen = dict((await s.execute(seen_q)).all())
    out = []
    for st in stores:
        links = live.get(st.id, [])
        old = oldest.get(st.id)
        if isinstance(old, str):
            old = datetime.fromisoformat(old)
        last_seen = max((at for at in (st.last_seen_at, _as_datetime(seen.get(st.id)))
                         if at is not None), default=None)
        lag = None
        if st.last_event_at and st.last_applied_at:
            lag = max(0.0, (st.last_applied_at - st.last_event_at).total_seconds())
        refused = None
        if st.rejected_link and st.alert:
            with contextlib.suppress(ValueError, TypeError):
                refused = msgspec.json.decode(st.rejected_link)
                refused["at"] = datetime.fromisoformat(refused["at"])
        out.append(StoreHealth(
            id=st.id, name=st.name, kind=st.kind, online=bool(links),
            connected_since=links[0].connected_at if links else None,
            last_seen_at=last_seen, version=links[0].version if links else st.version,
            waiting_down=max(0, st.down_seq - st.down_acked),
            oldest_waiting_seconds=(now - old).total_seconds() if old else None,
            lag_seconds=lag, acked_up=st.acked_up, alert=st.alert, alert_at=st.alert_at,
            links=tuple(LinkView(x.address, x.version, x.connected_at) for x in links),
            refused=refused, refused_epoch=st.rejected_epoch or "",
            down_acked=st.down_acked, computer=_computer(st, now)))
    return out


def _as_datetime(value: Any) -> datetime | None:
    """max() over a UTCDateTime column comes back as its stored text on SQLite."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class StoreStock:
    store_id: str
    store_name: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


async def inventory_for(db: HubDatabase, sku: str) -> tuple[Product | None, list[StoreStock]]:
    sku = sku.strip().upper()
    async with db.read() as s:
        product = await s.scalar(select(Product).where(Product.sku == sku))
        stores = list(await s.execute(select(HubStore.id, HubStore.name)
                                      .order_by(HubStore.id)))
        on_hand = dict((await s.execute(select(HubStockLevel.store_id, HubStockLevel.on_hand)
                                        .where(HubStockLevel.sku == sku))).all())
        reserved = dict((await s.execute(
            select(HubReservation.store_id, func.sum(HubReservation.quantity))
            .where(HubReservation.sku == sku).group_by(HubReservation.store_id))).all())
    return product, [StoreStock(sid, name, int(on_hand.get(sid, 0)), int(reserved.get(sid) or 0))
                     for sid, name in stores]


@dataclass(frozen=True)
class LowStock:
    store_id: str
    sku: str
    name: str
    available: int
    reorder_level: int
    unit: str = "piece"  # quantities are in its base unit (grams, millilitres, pieces)


async def low_stock(db: HubDatabase, limit: int = 200) -> list[LowStock]:
    """Store x product pairs at or below the product's reorder level (products with a
    level set), emptiest first."""
    async with db.read() as s:
        products = {sku: (name, level, unit) for sku, name, level, unit in (await s.execute(
            select(Product.sku, Product.name, Product.reorder_level, Product.unit)
            .where(Product.active.is_(True), Product.reorder_level > 0))).all()}
        stores = list(await s.scalars(select(HubStore.id).where(HubStore.active.is_(True))))
        levels = {(st, sku): n for st, sku, n in (await s.execute(
            select(HubStockLevel.store_id, HubStockLevel.sku, HubStockLevel.on_hand))).all()}
        reserved = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubReservation.store_id, HubReservation.sku, func.sum(HubReservation.quantity))
            .group_by(HubReservation.store_id, HubReservation.sku))).all()}
    rows = []
    for sku, (name, level, unit) in products.items():
        for st in stores:
            available = levels.get((st, sku), 0) - reserved.get((st, sku), 0)
            if available <= level:
                rows.append(LowStock(st, sku, name, available, level, unit))
    rows.sort(key=lambda r: (r.available - r.reorder_level, r.store_id, r.sku))
    return rows[:limit]


async def inventory_rows(db: HubDatabase) -> list[dict]:
    """Every store x SKU the hub knows stock for, for the CSV export."""
    async with db.read() as s:
        names = dict((await s.execute(select(Product.sku, Product.name))).all())
        reserved = {(st, sku): int(n) for st, sku, n in (await s.execute(
            select(HubReservation.store_id, HubReservation.sku, func.sum(HubReservation.quantity))
            .group_by(HubReservation.store_id, HubReservation.sku))).all()}
        rows = (await s.execute(select(HubStockLevel.store_id, HubStockLevel.sku,
                                       HubStockLevel.on_hand)
                                .order_by(HubStockLevel.sku, HubStockLevel.store_id))).all()
    out = []
    for st, sku, on_hand in rows:
        held = reserved.get((st, sku), 0)
        out.append({"sku": sku, "name": names.get(sku, ""), "store": st, "on_hand": on_hand,
                    "reserved": held, "available": on_hand - held})
    return out


@dataclass(frozen=True)
class DaySales:
    store_id: str
    store_name: str
    sales: int
    sales_total: int
    refunds: int
    refunds_total: int

    @property
    def net(self) -> int:
        return self.sales_total + self.refunds_total


async def day_sales(db: HubDatabase, day: str) -> list[DaySales]:
    async with db.read() as s:
        stores = list(await s.execute(select(HubStore.id, HubStore.name).order_by(HubStore.id)))
        rows = (await s.execute(
            select(HubSale.store_id, HubSale.kind, func.count(), func.sum(HubSale.total_minor))
            .where(HubSale.day == day).group_by(HubSale.store_id, HubSale.kind))).all()
    figures: dict[tuple[str, str], tuple[int, int]] = {
        (st, kind): (int(n), int(total or 0)) for st, kind, n, total in rows}
    return [DaySales(sid, name, *figures.get((sid, "sale"), (0, 0)),
                     *figures.get((sid, "refund"), (0, 0))) for sid, name in stores]




# --- has every store got the catalogue change? ----------------------------------------


@dataclass(frozen=True)
class StoreDelivery:
    """One store and a catalogue change the hub queued for it (issue #16 item 18)."""

    id: str
    name: str
    online: bool
    last_seen_at: datetime | None
    waiting: int  # catalogue events of the change the store has not applied (acked) yet
    to_go: int  # hub -> store events it must still apply to have the change

    @property
    def applied(self) -> bool:
        return self.waiting == 0


@dataclass(frozen=True)
class CatalogueDelivery:
    stores: tuple[StoreDelivery, ...]  # the active stores, the ones told, by id

    @property
    def applied(self) -> list[StoreDelivery]:
        return [s for s in self.stores if s.applied]

    @property
    def pending(self) -> list[StoreDelivery]:
        return [s for s in self.stores if not s.applied]

    @property
    def done(self) -> bool:
        return not self.pending


def _sku_pattern(sku: str) -> str:
    """A LIKE pattern matching the `product.upserted` data of this SKU and no other: the
    data is msgspec's JSON, so the SKU appears exactly as msgspec encodes it."""
    literal = msgspec.json.encode(sku).decode()
    for ch in "!%_":
        literal = literal.replace(ch, "!" + ch)
    return f'%"sku":{literal}%'


async def catalogue_delivery(db: HubDatabase, offline_after: timedelta,
                             sku: str | None = None) -> CatalogueDelivery | None:
    """Which active stores have applied the catalogue's latest change: of one SKU, or of
    the whole catalogue (`sku` None, after an import). None for a SKU the catalogue does
    not have.

    The change is the product's entry in the shared catalogue log (issue #24,
    catalog_log.py). A store on protocol 3 has applied it once its catalogue ack
    (`catalog_acked`, saved every second) has passed the entry's seq. An older store gets
    the log copied into its own stream (`catalog_copied`): it has applied the change when
    the entry was copied and no copied `product.upserted` of it waits above its ack
    (`down_acked`); each carries the product's whole state, so an older one still waiting
    means the store shows an older state. Only events not acked yet are read, and the log
    is counted once per distinct cursor, so the cost follows the backlog."""
    now = utcnow()
    waiting = [HubOutbox.store_id == HubStore.id, HubOutbox.seq > HubStore.down_acked,
               HubOutbox.kind == "product.upserted"]
    entry_seq: int | None = None
    if sku is not None:
        sku = sku.strip().upper()
        waiting.append(HubOutbox.data.like(_sku_pattern(sku), escape="!"))
    # Correlated per store, so each is a range of the outbox's key (store_id, seq > ack);
    # a join with GROUP BY made SQLite scan the whole outbox.
    count = select(func.count()).select_from(HubOutbox).where(*waiting).correlate(HubStore)
    last = select(func.max(HubOutbox.seq)).where(*waiting).correlate(HubStore)
    async with db.read() as s:
        if sku is not None:
            if await s.scalar(select(Product.id).where(Product.sku == sku)) is None:
                return None
            entry_seq = await s.scalar(select(HubCatalogEntry.seq).where(
                HubCatalogEntry.key == catalog_log.product_key(sku)))
        stores = (await s.execute(
            select(HubStore.id, HubStore.name, HubStore.down_acked, HubStore.last_seen_at,
                   count.scalar_subquery(), last.scalar_subquery(), HubStore.sync_proto,
                   HubStore.catalog_acked, HubStore.catalog_copied)
            .where(HubStore.active.is_(True)).order_by(HubStore.id))).all()
        seen = dict((await s.execute(select(HubStoreLink.store_id,
                                            func.max(HubStoreLink.last_seen_at))
                                     .group_by(HubStoreLink.store_id))).all())
        # A v3 store's place in the log is its ack; an older one's, how far the log has
        # been copied into its stream (the rest is counted in its outbox above).
        cursor = {row[0]: int(row[7] if row[6] >= 3 else row[8]) for row in stores}
        behind = {c: int(await s.scalar(select(func.count()).select_from(HubCatalogEntry)
                                        .where(HubCatalogEntry.seq > c)) or 0)
                  for c in set(cursor.values())}
    out = []
    for sid, name, acked, last_seen, n, newest, _proto, _cat_acked, _copied in stores:
        link_seen = _as_datetime(seen.get(sid))
        log_to_go = behind[cursor[sid]]
        log_waiting = (log_to_go if sku is None
                       else int(entry_seq is not None and entry_seq > cursor[sid]))
        out.append(StoreDelivery(
            id=sid, name=name, online=is_online(link_seen, now, offline_after),
            last_seen_at=max((at for at in (last_seen, link_seen) if at is not None),
                             default=None),
            waiting=int(n or 0) + log_waiting,
            to_go=max(0, int(newest or acked) - acked) + log_to_go))
    return CatalogueDelivery(tuple(out))


# --- the Stores page at a glance, and one store's page (issue #16 item 21) -----------


@dataclass(frozen=True)
class StoreDay:
    """A store's day so far, for the Stores page's charts."""

    store_id: str
    hourly: tuple[int, ...] = (0,) * 24  # net sales (paise) per local hour, 0:00 to 23:00
    bills: int = 0
    refunds: int = 0
    open_orders: int = 0  # online orders the hub gave it, not yet with a rider

    @property
    def net(self) -> int:
        return sum(self.hourly)

    @property
    def peak(self) -> tuple[int, int] | None:
        """The busiest hour and its net sales; None before the first sale."""
        best = max(range(24), key=lambda h: self.hourly[h])
        return (best, self.hourly[best]) if self.hourly[best] > 0 else None


def day_start(day: date, tz: tzinfo) -> datetime:
    """Local midnight of `day`, as an aware time."""
    return datetime.combine(day, time(), tzinfo=tz)


async def _sales_by_hour(s: Any, day: date, tz: tzinfo, store_id: str | None = None
                         ) -> dict[str, tuple[list[int], int, int]]:
    """Each store's net sales per local hour of `day`, bills and refunds. The rows are
    grouped in SQL by UTC quarter-hour (`at` is ISO text in UTC on both databases:
    its first 13 characters are the hour, 15-16 the minute); every time zone's offset
    is a whole number of quarter-hours, so each quarter falls in one local hour."""
    hour = func.substr(HubSale.at, literal_column("1"), literal_column("13"), type_=String)
    quarter = cast(func.substr(HubSale.at, literal_column("15"), literal_column("2"),
                               type_=String), Integer) // literal_column("15", Integer)
    query = (select(HubSale.store_id, HubSale.kind, hour, quarter, func.count(),
                    func.sum(HubSale.total_minor))
             .where(HubSale.day == day.isoformat())
             .group_by(HubSale.store_id, HubSale.kind, hour, quarter))
    if store_id is not None:
        query = query.where(HubSale.store_id == store_id)
    out: dict[str, tuple[list[int], int, int]] = {}
    for sid, kind, utc_hour, q, n, total in (await s.execute(query)).all():
        hourly, bills, refunds = out.get(sid, ([0] * 24, 0, 0))
        start = datetime.fromisoformat(f"{utc_hour}:00+00:00") + timedelta(minutes=15 * q)
        hourly[start.astimezone(tz).hour] += int(total or 0)
        if kind == "sale":
            bills += int(n)
        else:
            refunds += int(n)
        out[sid] = (hourly, bills, refunds)
    return out


async def _open_orders(s: Any, store_id: str | None = None) -> dict[str, int]:
    """Online orders the hub gave each store that are not with a rider yet (its status
    index keeps this to the open orders, however many were ever made)."""
    query = (select(HubOrder.store_id, func.count())
             .where(HubOrder.status.in_(order_states.OPEN), HubOrder.store_id.is_not(None))
             .group_by(HubOrder.store_id))
    if store_id is not None:
        query = query.where(HubOrder.store_id == store_id)
    return {sid: int(n) for sid, n in (await s.execute(query)).all()}


async def stores_at_a_glance(db: HubDatabase, day: date, tz: tzinfo) -> dict[str, StoreDay]:
    """Every store's sales by hour today and its open orders (stores with neither are
    left out: the page shows them as a quiet day)."""
    async with db.read() as s:
        sales = await _sales_by_hour(s, day, tz)
        orders = await _open_orders(s)
    out = {}
    for sid in sales.keys() | orders.keys():
        hourly, bills, refunds = sales.get(sid, ([0] * 24, 0, 0))
        out[sid] = StoreDay(sid, tuple(hourly), bills, refunds, orders.get(sid, 0))
    return out


@dataclass(frozen=True)
class StoreDetail:
    health: StoreHealth
    day: StoreDay
    pincodes: str
    waiting_by_kind: tuple[tuple[str, int], ...]  # hub -> store events not applied yet
    orders_today: tuple[tuple[str, int], ...]  # online orders made today, by status
    history: tuple[LinkEvent, ...]  # newest first
    last_event_at: datetime | None  # the newest store event the hub applied (its `at`)
    catalog_behind: int = 0  # entries of the shared catalogue log it has not applied

    @property
    def waiting_total(self) -> int:
        """Its own events waiting and the catalogue-log entries it has yet to apply."""
        return self.health.waiting_down + self.catalog_behind


async def store_detail(db: HubDatabase, store_id: str, offline_after: timedelta,
                       day: date, tz: tzinfo) -> StoreDetail | None:
    """One store's page: link and its history, events waiting, today's sales and
    orders. None for a store the hub does not know."""
    store_id = store_id.strip().upper()
    health = await store_health(db, offline_after, store_id)
    if not health:
        return None
    async with db.read() as s:
        row = await s.get(HubStore, store_id)
        if row is None:
            return None
        waiting = dict((await s.execute(
            select(HubOutbox.kind, func.count())
            .where(HubOutbox.store_id == store_id, HubOutbox.seq > row.down_acked)
            .group_by(HubOutbox.kind))).all())
        # The shared catalogue log past the store's place in it (issue #24): its ack on
        # protocol 3, else how far the log was copied into its stream (counted above).
        place = row.catalog_acked if row.sync_proto >= 3 else row.catalog_copied
        behind = int(await s.scalar(select(func.count()).select_from(HubCatalogEntry)
                                    .where(HubCatalogEntry.seq > place)) or 0)
        if behind:
            waiting["product.upserted"] = waiting.get("product.upserted", 0) + behind
        orders = dict((await s.execute(
            select(HubOrder.status, func.count())
            .where(HubOrder.store_id == store_id,
                   HubOrder.created_at >= day_start(day, tz).astimezone(UTC))
            .group_by(HubOrder.status))).all())
        sales = (await _sales_by_hour(s, day, tz, store_id)).get(store_id, ([0] * 24, 0, 0))
        open_now = (await _open_orders(s, store_id)).get(store_id, 0)
        history = await link_history.recent(s, store_id)
    in_order = [st for st in order_states.LABELS if st in orders]
    return StoreDetail(
        health=health[0],
        day=StoreDay(store_id, tuple(sales[0]), sales[1], sales[2], open_now),
        pincodes=row.pincodes,
        waiting_by_kind=tuple((k, int(waiting[k])) for k in sorted(waiting)),
        catalog_behind=behind,
        orders_today=tuple((st, int(orders[st])) for st in in_order),
        history=tuple(history), last_event_at=row.last_event_at)
