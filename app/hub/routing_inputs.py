"""What a placement reads, read cheaply (issue #15): a per-process copy of what people
change rarely, and one statement for what changes with every order.

The copy (`RoutingConfig`): every store's routing facts, the routing rules, each
channel's webhook URL and each courier's availability. It is valid while the
database's `hub_config_version` token is the one it was read with; triggers
(migration h007) replace the token whenever any of those tables changes, whoever
changes it (a page, the CLI, another hub process). Each placement reads the token in
its own transaction, in the same statement as the stock, so a placement never decides
with a copy older than the data it reads: when the token moved, the copy is read
again inside that transaction first.

The stock (`read`): one UNION ALL statement gives, for the stores in the customer's
area only, their levels and what is promised of the order's SKUs (hub orders and the
stores' own reservations), their open orders and which of them are online; and, for
intake, the products' prices and whether the order was posted before. On PostgreSQL,
where store rows must be locked (in id order) the read runs after the lock, so it sees
every promise committed before the lock (READ COMMITTED takes a new snapshot per
statement; a lock taken inside the read itself would not): both run in one call of a
plpgsql function, each with its own snapshot (below, "lock, then read").
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool

from app.config import HubConfig
from app.core.clock import utcnow
from app.core.db import Session, dialect_name
from app.hub import allocation, couriers
from app.hub.db import rows_of
from app.hub.models import HubChannel, HubConfigVersion, HubCourier, HubSetting, HubStore
from app.hub.order_states import HOLDING, OPEN

log = logging.getLogger("kirana.hub")


class Stale(Exception):
    """What a placement locked may not cover what it decided (the routing config
    changed after the locks; the store chosen without locks can no longer take the
    order). The caller runs its transaction again; `lock_area`: lock the whole area."""

    def __init__(self, message: str, *, lock_area: bool = False) -> None:
        super().__init__(message)
        self.lock_area = lock_area


# --- the copy ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingConfig:
    token: str
    cfg: HubConfig  # the config the rules were read with (a test may change it)
    stores: tuple[allocation.StoreView, ...]  # by id; no stock, no load, online
    rules: allocation.Rules
    webhook_urls: dict[str, str]  # channel -> URL ("" or missing: no webhook)
    courier_available: dict[str, bool]


# One copy per database (a hub process has one; tests open many in one process).
_COPIES: weakref.WeakKeyDictionary[Pool, RoutingConfig] = weakref.WeakKeyDictionary()


def rules_of(saved: str | None, cfg: HubConfig) -> allocation.Rules:
    """The config's routing rules, overridden by what the Rules page saved (JSON)."""
    r = cfg.routing
    values = {"criteria": list(r.criteria), "radius_km": r.radius_km,
              "safety_stock": r.safety_stock, "split_above_minor": r.split_above_rupees * 100,
              "orders_per_picker": r.orders_per_picker,
              "live_pickers": r.live_pickers, "live_load_weight": r.live_load_weight}
    merged = {**values, **json.loads(saved)} if saved is not None else values
    try:
        return _rules(merged)
    except ValueError as exc:  # saved before the page checked (a radius of NaN, say)
        log.warning("saved routing rules are not valid (%s): using the config's", exc)
        return _rules(values)


def _rules(values: dict) -> allocation.Rules:
    return allocation.Rules(criteria=tuple(values["criteria"]), radius_km=values["radius_km"],
                            safety_stock=values["safety_stock"],
                            split_above_minor=values["split_above_minor"],
                            orders_per_picker=values["orders_per_picker"],
                            live_pickers=bool(values.get("live_pickers", True)),
                            live_load_weight=values.get("live_load_weight", 0.0))


def _key(s: Session) -> Pool:
    """Which database a session is on: its connection pool (an engine and its copies
    with other options, such as the autocommit one intake's transactions use, share it)."""
    bind = s.sync_session.get_bind()
    return (bind.engine if isinstance(bind, Connection) else bind).pool


async def load(s: Session, cfg: HubConfig) -> RoutingConfig:
    """Read the copy in this transaction and keep it. The token is read first: a change
    committed while the tables are read leaves an older token with newer rows, which
    the next placement reads again (never a newer token with older rows)."""
    token = await s.scalar(select(HubConfigVersion.token).where(HubConfigVersion.id == 1))
    stores = tuple(
        allocation.StoreView(id=st.id, name=st.name, lat=st.lat, lon=st.lon,
                             pincodes=frozenset(p for p in st.pincodes.split(",") if p),
                             priority=st.priority, active=st.active, online=True,
                             pickers=max(1, st.pickers))
        for st in (await s.execute(select(
            HubStore.id, HubStore.name, HubStore.lat, HubStore.lon, HubStore.pincodes,
            HubStore.priority, HubStore.active, HubStore.pickers).order_by(HubStore.id))).all())
    saved = await s.scalar(select(HubSetting.value).where(HubSetting.key == "routing"))
    urls = dict((await s.execute(select(HubChannel.name, HubChannel.webhook_url))).all())
    available = dict((await s.execute(select(HubCourier.name, HubCourier.available))).all())
    copy = RoutingConfig(token=str(token), cfg=cfg, stores=stores, rules=rules_of(saved, cfg),
                         webhook_urls=urls, courier_available=available)
    _COPIES[_key(s)] = copy
    s.info[CHECKED_KEY] = copy
    return copy


async def config(s: Session, cfg: HubConfig) -> RoutingConfig:
    """The kept copy, or a fresh one (first use, or another config). It may be stale:
    `read` checks its token with the stock."""
    copy = _COPIES.get(_key(s))
    return copy if copy is not None and copy.cfg is cfg else await load(s, cfg)


CHECKED_KEY = "kirana_hub_routing_checked"


def checked_in(s: Session) -> RoutingConfig | None:
    """The copy this transaction checked against the database's token, if it did."""
    return s.info.get(CHECKED_KEY)


# --- the stock: one statement ----------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What a placement decides with."""

    config: RoutingConfig
    views: list[allocation.StoreView]  # every store; stock, load and liveness for the area's
    locked: bool  # False: read without row locks; the chosen store must be confirmed
    existing_id: str | None = None  # intake: the order this channel posted before
    products: dict[str, tuple[int, str, bool]] | None = None  # sku -> price, unit, active
    courier_open: dict[str, int] | None = None  # open orders of the couriers that may get it


_HOLDING_SQL = ", ".join(f"'{state}'" for state in HOLDING)
_OPEN_SQL = ", ".join(f"'{state}'" for state in OPEN)
_COURIER_OPEN_SQL = ", ".join(f"'{state}'" for state in (*OPEN, "handed_over"))


def _one_of(dialect: str, column: str, param: str) -> str:
    """`column` is one of the list bound to `param`. One statement text whatever the
    list's length, so SQLite and asyncpg keep it prepared: PostgreSQL takes an array,
    SQLite a JSON list (json_each)."""
    if dialect == "postgresql":
        return f"{column} = ANY(:{param})"
    return f"{column} IN (SELECT value FROM json_each(:{param}))"


def _statement(dialect: str) -> str:
    """The one read (see the module's docstring). Rows are (kind, a, b, n, m):
    v token · e order id · p sku, unit, price, active · k online store · l store, sku,
    on hand · h store, sku, promised by hub orders · r store, sku, reserved for the
    store's own orders · o store, open orders · c courier, open orders · s store, its
    live load if fresh: open orders by state (JSON), pickers, picks per hour (issue #24:
    from the store rows, so a placement reads it without another round trip)."""
    def of(column: str, param: str) -> str:
        return _one_of(dialect, column, param)

    txt, num = "CAST(NULL AS TEXT)", "CAST(NULL AS BIGINT)"  # typed NULLs (PostgreSQL)

    sql = f"""
SELECT 'v' AS k, token AS a, {txt} AS b, {num} AS n, {num} AS m
  FROM hub_config_version WHERE id = 1
UNION ALL
SELECT 'e', id, {txt}, {num}, {num} FROM hub_orders
 WHERE channel = :channel AND external_id = :external_id
UNION ALL
SELECT 'p', sku, unit, price_minor, CASE WHEN active THEN 1 ELSE 0 END FROM products
 WHERE {of("sku", "products")}
UNION ALL
SELECT DISTINCT 'k', store_id, {txt}, {num}, {num} FROM hub_store_links
 WHERE {of("store_id", "stores")} AND last_seen_at > :since
UNION ALL
SELECT 'l', store_id, sku, on_hand, {num} FROM hub_stock_levels
 WHERE {of("store_id", "stores")} AND {of("sku", "skus")}
UNION ALL
SELECT 'h', o.store_id, l.sku, sum(l.quantity), {num}
  FROM hub_orders o JOIN hub_order_lines l ON l.order_id = o.id
 WHERE o.status IN ({_HOLDING_SQL}) AND {of("o.store_id", "stores")} AND {of("l.sku", "skus")}
 GROUP BY o.store_id, l.sku
UNION ALL
SELECT 'r', r.store_id, r.sku, sum(r.quantity), {num}
  FROM hub_reservations r JOIN hub_store_orders so ON so.order_id = r.order_id
  LEFT JOIN hub_orders ho ON ho.channel = so.channel AND ho.external_id = so.external_id
 WHERE ho.id IS NULL AND {of("r.store_id", "stores")} AND {of("r.sku", "skus")}
 GROUP BY r.store_id, r.sku
UNION ALL
SELECT 'o', store_id, {txt}, count(*), {num} FROM hub_orders
 WHERE status IN ({_OPEN_SQL}) AND {of("store_id", "stores")}
 GROUP BY store_id
UNION ALL
SELECT 'c', courier, {txt}, count(*), {num} FROM hub_orders
 WHERE :count_couriers = 1 AND status IN ({_COURIER_OPEN_SQL}) AND {of("courier", "couriers")}
 GROUP BY courier
UNION ALL
SELECT 's', id, load_orders, load_pickers, load_picks_hour FROM hub_stores
 WHERE {of("id", "stores")} AND load_at > :load_since
"""
    return sql


_STATEMENTS = {dialect: _statement(dialect) for dialect in ("sqlite", "postgresql")}


# --- PostgreSQL: lock, then read, in one round trip ---------------------------------------
# A placement that locks store rows must read after the lock (READ COMMITTED takes a new
# snapshot per statement; a lock taken inside the read itself would not see a promise
# committed while it waited), which was two round trips: the lock, then the read. A
# plpgsql function runs each of its statements with a new snapshot, so `lock; read`
# inside one is exactly those two statements, in one round trip (issue #15: the round
# trips' send()s were the largest single cost of an order). Migration h023 creates it
# (a hub's runtime role may not create functions). Its name carries a hash of its text:
# when the read above changes, the code asks for a new name, and a test fails until a
# new migration creates that one; until then, or on a database without it, placements
# lock and read in two statements.

_FUNCTION_PARAMS = {"lock": "text[]", "channel": "text", "external_id": "text",
                    "products": "text[]", "skus": "text[]", "since": "text",
                    "stores": "text[]", "couriers": "text[]", "count_couriers": "integer",
                    "load_since": "text"}


def _locked_read_function() -> tuple[str, str]:
    """(name, CREATE FUNCTION statement) of the lock-then-read function."""
    import hashlib
    import re

    body = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", lambda m: "p_" + m.group(1),
                  _STATEMENTS["postgresql"])
    params = ", ".join(f"p_{name} {type_}" for name, type_ in _FUNCTION_PARAMS.items())
    definition = (
        f"({params}) RETURNS TABLE (k text, a text, b text, n bigint, m bigint) "
        "LANGUAGE plpgsql VOLATILE AS $kirana$\n#variable_conflict use_column\nBEGIN\n"
        "PERFORM 1 FROM hub_stores WHERE id = ANY(p_lock) ORDER BY id FOR UPDATE;\n"
        "RETURN QUERY SELECT q.k::text, q.a::text, q.b::text, q.n::bigint, q.m::bigint "
        f"FROM ({body}) AS q;\nEND\n$kirana$")
    name = "kirana_locked_read_" + hashlib.sha256(definition.encode()).hexdigest()[:12]
    return name, f"CREATE FUNCTION {name}{definition}"


LOCKED_READ, CREATE_LOCKED_READ = _locked_read_function()
_LOCKED_READ_CALL = (f"SELECT k, a, b, n, m FROM {LOCKED_READ}("
                     + ", ".join(f":{name}" for name in _FUNCTION_PARAMS) + ")")
# Per database (host, port, name): whether this hub may call the function, and when that
# was looked up (a "no" is looked up again after RECHECK_SECONDS: a database migrated
# since, or a GRANT, brings the one-round-trip path back without a restart).
_HAS_FUNCTION: dict[tuple[Any, ...], tuple[bool, float]] = {}
RECHECK_SECONDS = 300.0
# undefined_function (restored from before h023), insufficient_privilege (a role
# without EXECUTE): the transaction is aborted; its caller runs it again, the slow way.
_FALL_BACK_STATES = frozenset({"42883", "42501"})


def _database_key(url: Any) -> tuple[Any, ...]:
    return (url.host, url.port, url.database)


def _usable(key: tuple[Any, ...]) -> bool:
    found = _HAS_FUNCTION.get(key)
    return found is not None and found[0]


async def prepare(engine: Any) -> None:
    """Look up (once per process and database; a "no" again after RECHECK_SECONDS)
    whether the database has the function and this hub's role may execute it."""
    import time

    key = _database_key(engine.url)
    if engine.dialect.name != "postgresql":
        return
    known = _HAS_FUNCTION.get(key)
    if known is not None and (known[0] or time.monotonic() - known[1] < RECHECK_SECONDS):
        return
    from sqlalchemy import text

    async with engine.connect() as conn:
        found = bool((await conn.execute(text(
            "SELECT to_regproc(:name) IS NOT NULL AND "
            "has_function_privilege(to_regproc(:name), 'EXECUTE')"), {"name": LOCKED_READ})
        ).scalar())
    if not found:
        log.warning("this database has no %s that this hub may execute (hub migration h023 "
                    "creates it): placements lock and read in two statements", LOCKED_READ)
    _HAS_FUNCTION[key] = (found, time.monotonic())


async def _locked_rows(s: Session, lock: list[str], params: dict[str, Any]) -> list[Any]:
    """Lock these store rows (in id order) and then read (the statement above): one
    round trip where the function is prepared, the two statements otherwise."""
    import time

    key = _database_key(s.sync_session.get_bind().engine.url)
    if _usable(key):
        try:
            return await rows_of(s, _LOCKED_READ_CALL, {**params, "lock": sorted(lock)})
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in _FALL_BACK_STATES:
                raise
            _HAS_FUNCTION[key] = (False, time.monotonic())
            raise Stale(f"{LOCKED_READ} cannot be called ({state})") from exc
    await _lock(s, lock)
    return await rows_of(s, _STATEMENTS["postgresql"], params)


def _list(dialect: str, values: Sequence[str]) -> Any:
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def load_since(cfg: HubConfig) -> Any:
    """A store's live load received before this is stale: not read (issue #24)."""
    return utcnow() - timedelta(seconds=cfg.routing.load_fresh_seconds)


def live_of(orders: str | None, pickers: Any, picks: Any) -> allocation.Live | None:
    """A store row's live load (None: it cannot be read; the registered figures stand)."""
    try:
        states = json.loads(orders or "{}")
        open_orders = sum(int(n) for n in states.values())
        return allocation.Live(int(pickers), open_orders, int(picks))
    except (TypeError, ValueError, AttributeError):
        return None


def limited_couriers(cfg: HubConfig, pincode: str) -> list[str]:
    """Couriers with a capacity that could carry an order to this PIN code: only their
    open orders need counting."""
    rules = [couriers.CourierRule(r.match, tuple(r.couriers)) for r in cfg.courier_rules]
    regions = {r.name: r.pincodes for r in cfg.regions}
    rule = couriers.rule_for(pincode, rules, regions)
    limited = {c.name for c in cfg.couriers if c.capacity}
    return sorted(limited & set(rule.couriers)) if rule is not None else []


async def read(s: Session, cfg: HubConfig, order: allocation.OrderView, *,
               intake: tuple[str, str] | None = None, locks: str = "held") -> Inputs:
    """Everything a placement of `order` decides with, in this transaction. `intake`:
    (channel, external id) of a new order: also its products and whether it exists.
    `locks` says how no unit gets promised twice:
    "held": the caller holds the rows already (SQLite's one writer; `lock_stores`);
    "area": lock the area's store rows first, in id order (PostgreSQL);
    "none": read without locks; the placement must then `confirm` the store it chose.

    When the token read with the stock is not the copy's, the copy is read again here
    and so is the stock; if the area now has a store whose row this did not lock,
    `Stale` is raised (the caller runs its transaction again, locking the new area)."""
    dialect = dialect_name(s)
    copy = await config(s, cfg)
    skus = [sku for sku, _qty in order.lines]
    area = allocation.stores_in_area(order, copy.stores, copy.rules)
    locked = set(area)
    channel, external_id = intake or ("", "")
    limited = limited_couriers(cfg, order.pincode)  # (usually none: no scan of open orders)
    params = {"channel": channel, "external_id": external_id,
              "products": _list(dialect, skus if intake else []),
              "skus": _list(dialect, skus), "since": utcnow() - cfg.offline_after,
              "couriers": _list(dialect, limited), "count_couriers": int(bool(limited)),
              "load_since": load_since(cfg)}
    for attempt in range(1, 4):
        if attempt == 1 and locks == "area" and area:  # (PostgreSQL) lock, then read
            rows = await _locked_rows(s, area, {**params, "stores": _list(dialect, area)})
        else:
            rows = await rows_of(s, _STATEMENTS[dialect], {**params,
                                                           "stores": _list(dialect, area)})
        token = next((row[1] for row in rows if row[0] == "v"), None)
        if token == copy.token or attempt == 3:  # (3: changed twice meanwhile; the copy
            break                                 # was read in this transaction anyway)
        copy = await load(s, cfg)
        area = allocation.stores_in_area(order, copy.stores, copy.rules)
        if locks == "area" and not set(area) <= locked:
            raise Stale("the routing config changed during a placement")
    if token == copy.token:
        s.info[CHECKED_KEY] = copy
    return _inputs(copy, area, rows, intake is not None, locks != "none")


async def confirm(s: Session, cfg: HubConfig, order: allocation.OrderView, inputs: Inputs,
                  store_id: str) -> allocation.StoreView:
    """Lock the row of the store a placement chose from an unlocked read, and read its
    stock, promises and load again: from now on no other placement can promise its
    units, and this one decides with what is committed. `Stale` if the routing config
    changed meanwhile (the caller runs its transaction again)."""
    dialect = dialect_name(s)
    limited = limited_couriers(cfg, order.pincode)
    rows = await _locked_rows(s, [store_id], {
        "channel": "", "external_id": "", "products": _list(dialect, []),
        "skus": _list(dialect, [sku for sku, _qty in order.lines]),
        "since": utcnow() - cfg.offline_after, "stores": _list(dialect, [store_id]),
        "couriers": _list(dialect, limited), "count_couriers": int(bool(limited)),
        "load_since": load_since(cfg)})
    if next((row[1] for row in rows if row[0] == "v"), None) != inputs.config.token:
        await load(s, cfg)
        raise Stale("the routing config changed during a placement")
    fresh = _inputs(inputs.config, [store_id], rows, False, True)
    if inputs.courier_open is not None and fresh.courier_open is not None:
        inputs.courier_open.update(fresh.courier_open)
    return next(v for v in fresh.views if v.id == store_id)


async def _lock(s: Session, store_ids: list[str]) -> None:
    """Lock these store rows in id order (PostgreSQL; SQLite has one writer)."""
    await rows_of(s, "SELECT id FROM hub_stores WHERE id = ANY(:ids) ORDER BY id FOR UPDATE",
                  {"ids": sorted(store_ids)})


def _inputs(copy: RoutingConfig, area: list[str], rows: Sequence[Any], intake: bool,
            locked: bool) -> Inputs:
    levels: dict[str, dict[str, int]] = defaultdict(dict)
    promised: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    open_orders: dict[str, int] = {}
    online: set[str] = set()
    products: dict[str, tuple[int, str, bool]] = {}
    courier_open: dict[str, int] = {}
    live: dict[str, allocation.Live | None] = {}
    existing_id = None
    for kind, a, b, n, m in rows:
        if kind == "l":
            levels[a][b] = int(n)
        elif kind in ("h", "r"):
            promised[a][b] += int(n)
        elif kind == "o":
            open_orders[a] = int(n)
        elif kind == "k":
            online.add(a)
        elif kind == "p":
            products[a] = (int(n), b, bool(m))
        elif kind == "c":
            courier_open[a] = int(n)
        elif kind == "s":
            live[a] = live_of(b, n, m)
        elif kind == "e":
            existing_id = a
    near = set(area)
    views = [replace(st, online=st.id in online, open_orders=open_orders.get(st.id, 0),
                     level=levels.get(st.id, {}), assigned=dict(promised.get(st.id, {})),
                     live=live.get(st.id))
             if st.id in near else st for st in copy.stores]
    return Inputs(copy, views, locked, existing_id, products if intake else None,
                  courier_open)

