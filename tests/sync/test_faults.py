"""Exactly-once under faults: a proxy between the stores and the hub cuts connections at
random moments (also mid-frame), delays frames and sends whole websocket frames twice,
while ~5,000 mixed events flow both ways and the hub and a store are killed with
SIGKILL at random points and started again. After quiet, on a hub on SQLite and on
PostgreSQL:

* every store event is applied exactly once at the hub (same ids, same seqs, same count),
* every hub event exactly once at the store (sync_inbox against hub_outbox), and the
  shared catalogue log (protocol 3, issue #24) applied up to its head by every store,
* per store and SKU the hub's stock level equals the store's, and the stores' prices
  equal the hub's.

The run is seeded: the seed is printed and in every failure message; rerun one with
KIRANA_FAULT_SEED=<seed> (timing still differs between runs: the processes and the
proxy's thread race as they do in the field).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from app.core.db import Database
from app.hub import service as hubsvc
from app.hub.db import HubDatabase, open_hub_database
from app.stock import service as stock
from tests.sync.fault_proxy import FaultProxy, Faults
from tests.sync.harness import Hub, Store, make_store

pytestmark = pytest.mark.timeout(600)

SKUS = [f"FLT-{i:03d}" for i in range(50)]
BINS = ["A-01", "A-02", "B-01"]
STORES = (("S1", "counter"), ("D2", "darkstore"))
STORE_EVENTS = 3500  # stock.moved, over both stores
PRICE_CHANGES = 750  # each a product.upserted to both stores: 1,500 hub -> store events
GENERATE_SECONDS = 45.0  # events are spread over this long (longer if writes are slow)
QUIET_TIMEOUT = 120.0
FAULTS = Faults(cut_after_mean=2.0, cut_after_min=0.4, cut_mid_frame=0.01, delay=0.08,
                delay_max=0.15, duplicate=0.08)


# --- the proxy on its own -------------------------------------------------------------


async def test_proxy_passes_frames_intact_and_duplicates_whole_frames() -> None:
    got: list[str] = []

    async def echo(ws) -> None:
        async for message in ws:
            got.append(message)
            await ws.send(message)

    # 7-bit, 16-bit and 64-bit payload lengths, multi-byte UTF-8, a protocol message.
    messages = ["a", "b" * 200, "ü" * 40_000, json.dumps({"type": "ack", "upto": 7})]
    async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        with FaultProxy(port, seed=1) as proxy:
            url = f"ws://127.0.0.1:{proxy.port}/x"
            async with connect(url, max_size=None, compression=None) as ws:
                for m in messages:
                    await ws.send(m)
                    assert await asyncio.wait_for(ws.recv(), 5) == m
            assert got == messages and proxy.stats.duplicates == 0

            # Every text frame twice, both ways: the server sees each message twice and
            # echoes each copy, which arrives twice again.
            got.clear()
            proxy.set_faults(duplicate=1.0, duplicate_types=None)
            async with connect(url, max_size=None, compression=None) as ws:
                for m in messages:
                    await ws.send(m)
                echoed = [await asyncio.wait_for(ws.recv(), 5) for _ in range(4 * len(messages))]
            assert got == [m for m in messages for _ in range(2)]
            assert echoed == [m for m in messages for _ in range(4)]
            assert proxy.stats.duplicates == 3 * len(messages)

            # Only the protocol messages named are doubled (not hello/welcome).
            got.clear()
            proxy.set_faults(duplicate=1.0)
            async with connect(url, max_size=None, compression=None) as ws:
                await ws.send(json.dumps({"type": "hello"}))
                await ws.send(json.dumps({"type": "events", "events": []}))
                await ws.send("not json")
                replies = [await asyncio.wait_for(ws.recv(), 5) for _ in range(6)]
            assert [json.loads(m)["type"] if m != "not json" else m for m in got] == [
                "hello", "events", "events", "not json"]
            assert len(replies) == 6

            # A cut aborts both sides.
            proxy.set_faults()
            async with connect(url, max_size=None, compression=None) as ws:
                await ws.send("x")
                assert await asyncio.wait_for(ws.recv(), 5) == "x"
                assert proxy.cut_all() == 1
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)


# --- the whole system under faults -------------------------------------------------------


@dataclass
class Run:
    seed: int
    backend: str
    hub: Hub
    hub_db: HubDatabase
    proxy: FaultProxy
    stores: dict[str, Store]
    kills: Counter = field(default_factory=Counter)
    made: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.t0:7.2f}s {what}"
        self.log.append(line)
        print(line, flush=True)

    def why(self) -> str:
        """Context for a failure message: the seed and how to rerun, and what happened."""
        tails, locked = [], []
        for name, path in [("hub", self.hub.proc.log),
                           *((s.id, s.proc.log) for s in self.stores.values())]:
            text_ = path.read_text(errors="replace") if path.exists() else ""
            tails.append(f"--- {name} log (last 2500 chars) ---\n{text_[-2500:]}")
            if "database is locked" in text_:
                locked.append(name)
        if locked:  # the first thing to look at: some process kept SQLite's write lock
            tails.insert(0, f"!!! 'database is locked' in the log of {', '.join(locked)}")
        return (f"seed={self.seed} backend={self.backend} "
                f"(rerun: KIRANA_FAULT_SEED={self.seed})\nproxy: {self.proxy.stats.snapshot()}"
                f"\nkills: {dict(self.kills)} made: {dict(self.made)}\n"
                + "\n".join(self.log[-40:]) + "\n" + "\n".join(tails))


async def guarded(run: Run, what: str, work) -> None:
    try:
        await work
    except Exception as exc:
        hint = ("\n!!! another process held this SQLite file's write lock for over 10 s (a store "
                "or hub that leaked a write transaction?)" if "database is locked" in str(exc)
                else "")
        raise AssertionError(f"{what} failed: {type(exc).__name__}: {exc}{hint}\n{run.why()}"
                             ) from exc


async def hub_rows(db: HubDatabase, sql: str, **params) -> list[tuple]:
    async with db.read() as s:
        return [tuple(r) for r in (await s.execute(text(sql), params)).all()]


async def make_stock_events(run: Run, store: Store, count: int, rng: random.Random) -> None:
    db = Database(store.db_path)
    try:
        ids = dict(store.sql("SELECT sku, id FROM products"))
        interval = GENERATE_SECONDS / count
        start, done = time.monotonic(), 0
        while done < count:
            for _ in range(min(rng.randint(1, 40), count - done)):
                product_id, bin_code = ids[rng.choice(SKUS)], rng.choice(BINS)
                roll = rng.random()
                try:
                    if roll < 0.5:
                        await stock.receive(db, product_id=product_id, bin_code=bin_code,
                                            quantity=rng.randint(1, 24), user_id=None)
                    else:
                        reason = ("damaged" if roll < 0.65 else "expired" if roll < 0.8
                                  else "found" if roll < 0.9 else "count")
                        quantity = rng.randint(0, 30) if reason == "count" else rng.randint(1, 6)
                        await stock.adjust(db, product_id=product_id, bin_code=bin_code,
                                           reason=reason, quantity=quantity, user_id=None)
                except stock.StockError:  # a count that matched the book: receive one
                    await stock.receive(db, product_id=product_id, bin_code=bin_code,
                                        quantity=1, user_id=None)
                done += 1
                run.made[f"stock.moved {store.id}"] += 1
            await asyncio.sleep(max(0.0, start + done * interval - time.monotonic()))
    finally:
        await db.dispose()


async def make_price_changes(run: Run, count: int, rng: random.Random) -> None:
    interval = GENERATE_SECONDS / count
    start, done = time.monotonic(), 0
    while done < count:
        for _ in range(min(rng.randint(1, 15), count - done)):
            await hubsvc.set_price(run.hub_db, rng.choice(SKUS), rng.randint(500, 99_999))
            done += 1
            run.made["product.upserted"] += len(run.stores)
        await asyncio.sleep(max(0.0, start + done * interval - time.monotonic()))


async def chaos(run: Run, rng: random.Random) -> None:
    """kill -9 the hub twice and each store once, at random moments, each down a random
    while (events keep being made meanwhile), then start it again."""
    victims = ["hub", "hub", *run.stores]
    rng.shuffle(victims)
    gap = (GENERATE_SECONDS - 6) / len(victims)
    for victim in victims:
        await asyncio.sleep(rng.uniform(0.3, 1.0) * gap)
        proc = run.hub.proc if victim == "hub" else run.stores[victim].proc
        await asyncio.to_thread(proc.kill9)
        run.kills[victim] += 1
        run.note(f"kill -9 {victim}; proxy {run.proxy.stats.snapshot()}")
        await asyncio.sleep(rng.uniform(0.2, 2.5))
        await asyncio.to_thread(proc.start, 60)
        run.note(f"{victim} started again")


async def link_figures(run: Run) -> dict[str, tuple]:
    """Per store: (outbox last, store acked_up, hub acked_up, hub down_seq,
    store applied_down, hub down_acked, store applied_catalog, hub catalogue-log head)."""
    out = {}
    head = (await hub_rows(run.hub_db, "SELECT seq FROM hub_catalog_head"))[0][0]
    for sid, store in run.stores.items():
        last = store.sql("SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0]
        acked_up, applied_down, applied_catalog = store.sql(
            "SELECT acked_up, applied_down, applied_catalog FROM sync_state WHERE id = 1")[0]
        hub_up, down_seq, down_acked = (await hub_rows(
            run.hub_db, "SELECT acked_up, down_seq, down_acked FROM hub_stores WHERE id = :id",
            id=sid))[0]
        out[sid] = (last, acked_up, hub_up, down_seq, applied_down, down_acked,
                    applied_catalog, head)
    return out


def is_quiet(figures: dict[str, tuple]) -> bool:
    return all(last == acked == hub_up and down_seq == applied == down_acked
               and applied_catalog == head
               for last, acked, hub_up, down_seq, applied, down_acked, applied_catalog, head
               in figures.values())


async def wait_quiet(run: Run, seconds: float) -> dict[str, tuple]:
    deadline = time.monotonic() + seconds
    figures: dict[str, tuple] = {}
    while time.monotonic() < deadline:
        figures = await link_figures(run)
        if is_quiet(figures):
            return figures
        await asyncio.sleep(0.5)
    raise AssertionError(f"no quiet after {seconds} s: (outbox last, store acked_up, hub "
                         f"acked_up, hub down_seq, store applied_down, hub down_acked, store "
                         f"applied_catalog, hub catalogue head) = "
                         f"{figures}\n{run.why()}")


async def check_exactly_once(run: Run) -> None:
    for sid, store in run.stores.items():
        sent = store.sql("SELECT seq, id FROM outbox ORDER BY seq")
        applied = await hub_rows(run.hub_db, "SELECT seq, id FROM hub_store_events "
                                             "WHERE store_id = :id ORDER BY seq", id=sid)
        assert len(applied) == len(sent), (
            f"{sid}: the store wrote {len(sent)} events, the hub applied {len(applied)}\n"
            f"{run.why()}")
        assert {i for _, i in applied} == {i for _, i in sent}, f"{sid}: ids differ\n{run.why()}"
        assert applied == sent, f"{sid}: seqs differ\n{run.why()}"

        made = await hub_rows(run.hub_db, "SELECT seq, id FROM hub_outbox "
                                          "WHERE store_id = :id ORDER BY seq", id=sid)
        inbox = store.sql("SELECT seq, id FROM sync_inbox ORDER BY seq")
        assert len(inbox) == len(made), (
            f"{sid}: the hub made {len(made)} events for it, it applied {len(inbox)}\n"
            f"{run.why()}")
        assert {i for _, i in inbox} == {i for _, i in made}, f"{sid}: ids differ\n{run.why()}"
        assert inbox == made, f"{sid}: seqs differ\n{run.why()}"


async def check_same_state(run: Run) -> None:
    hub_prices = dict(await hub_rows(run.hub_db, "SELECT sku, price_minor FROM products"))
    for sid, store in run.stores.items():
        at_hub = dict(await hub_rows(run.hub_db, "SELECT sku, on_hand FROM hub_stock_levels "
                                                 "WHERE store_id = :id", id=sid))
        at_store = dict(store.sql(
            "SELECT p.sku, SUM(l.on_hand) FROM stock_levels l JOIN products p "
            "ON p.id = l.product_id GROUP BY p.sku"))
        differ = {sku: (at_hub.get(sku, 0), at_store.get(sku, 0))
                  for sku in sorted(at_hub.keys() | at_store.keys())
                  if at_hub.get(sku, 0) != at_store.get(sku, 0)}
        assert not differ, f"{sid}: (hub, store) on hand differ: {differ}\n{run.why()}"
        assert len(at_store) == len(SKUS), f"{sid}: not every SKU moved\n{run.why()}"
        prices = dict(store.sql("SELECT sku, price_minor FROM products"))
        differ = {sku: (hub_prices.get(sku), prices.get(sku))
                  for sku in hub_prices.keys() | prices.keys()
                  if hub_prices.get(sku) != prices.get(sku)}
        assert not differ, f"{sid}: (hub, store) prices differ: {differ}\n{run.why()}"


async def test_exactly_once_through_faults_and_kills(hub: Hub, hub_backend: str, tmp_path: Path,
                                                      migrated_template: Path) -> None:
    seed = int(os.environ.get("KIRANA_FAULT_SEED") or secrets.randbits(32))
    print(f"\nfault test: seed={seed} backend={hub_backend} "
          f"(rerun: KIRANA_FAULT_SEED={seed})", flush=True)
    hub_db = open_hub_database(hub.database_url)
    proxy = FaultProxy(hub.proc.port, seed=seed).start()
    run = Run(seed, hub_backend, hub, hub_db, proxy, {})
    try:
        for i, sku in enumerate(SKUS):
            await hubsvc.save_product(hub_db, hubsvc.ProductEdit(
                sku=sku, name=f"Fault test item {i}", price_minor=1000 + i, gst_rate_bp=500))
        for sid, kind in STORES:
            token = await asyncio.to_thread(hub.add_store, sid, kind)
            store = make_store(tmp_path / sid, sid, proxy.ws_url, token, migrated_template, kind)
            run.stores[sid] = store
            db = Database(store.db_path)
            try:
                await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\n" + "".join(
                    f"{code},{code[0]},1,{n},{n}\n" for n, code in enumerate(BINS, 1)))
            finally:
                await db.dispose()
            await asyncio.to_thread(store.proc.start, 60)
        for store in run.stores.values():  # the catalogue came down (no faults yet)
            deadline = time.monotonic() + 60
            while store.sql("SELECT COUNT(*) FROM products")[0][0] < len(SKUS):
                assert time.monotonic() < deadline, f"{store.id}: no catalogue\n{run.why()}"
                await asyncio.sleep(0.2)
        run.note("catalogue at both stores; faults on")

        proxy.set_faults(FAULTS)
        per_store = STORE_EVENTS // len(run.stores)
        try:
            async with asyncio.TaskGroup() as tasks:
                for sid, store in run.stores.items():
                    tasks.create_task(guarded(run, f"stock moves at {sid}", make_stock_events(
                        run, store, per_store, random.Random(f"{seed}-{sid}"))))
                tasks.create_task(guarded(run, "price changes at the hub", make_price_changes(
                    run, PRICE_CHANGES, random.Random(f"{seed}-hub"))))
                tasks.create_task(guarded(run, "kill -9 and restart", chaos(
                    run, random.Random(f"{seed}-chaos"))))
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None
        run.note(f"all events made: {dict(run.made)}; proxy {proxy.stats.snapshot()}")

        proxy.set_faults()  # the network heals
        figures = await wait_quiet(run, QUIET_TIMEOUT)
        run.note(f"quiet: {figures}")

        stats = proxy.stats
        assert stats.all_cuts >= 3, f"too few cuts\n{run.why()}"
        assert stats.duplicates >= 10, f"too few duplicates\n{run.why()}"
        assert run.kills["hub"] >= 1 and sum(run.kills.values()) - run.kills["hub"] >= 1
        assert sum(run.made.values()) >= 5000
        await check_exactly_once(run)
        await check_same_state(run)
        print(f"fault test passed: seed={seed} backend={hub_backend} "
              f"{time.monotonic() - run.t0:.0f} s; proxy {stats.snapshot()}; "
              f"kills {dict(run.kills)}; events {dict(run.made)}", flush=True)
    finally:
        proxy.stop()
        for store in run.stores.values():
            store.proc.stop()
        await hub_db.dispose()
