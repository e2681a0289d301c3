"""kill -9 of a real store server during a rush of sales loses no committed sale and
doubles none (issue #15: complete_sale writes in batches now; durability is unchanged).

Four tills on a real `kirana serve` ring up bills of 3 lines each and complete them
with an idempotency key, as the till page does. The server gets SIGKILL while sales
are in flight, is started again on the same database, and every key that was handed
out is completed again. Each key must give exactly one sale (the one already answered,
if any), each sale must have moved stock once per line, and the outbox seq must have
no gap.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _common import LOCALHOST, StoreDir, free_port  # noqa: E402
from scan_lookup import write_catalog_csv  # noqa: E402

TILLS = (("Rush One", "3816", "C1"), ("Rush Two", "3691", "C2"),
         ("Rush Three", "5209", "C3"), ("Rush Four", "8351", "C4"))
LINES = 3


class Till:
    def __init__(self, base_url: str, name: str, pin: str, counter: str) -> None:
        self.name, self.pin, self.counter = name, pin, counter
        self.client = httpx.AsyncClient(base_url=base_url, timeout=20, trust_env=False,
                                        follow_redirects=True)
        self.keys: dict[str, str] = {}  # idempotency key -> cart id, once the key is handed out
        self.answered: dict[str, str] = {}  # key -> sale id the server answered
        self.completing = False

    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "x-csrftoken": self.client.cookies.get("csrftoken", "")}

    async def sign_in(self, open_shift: bool) -> None:
        page = (await self.client.get("/login")).text
        user_id = re.search(rf'value="([0-9a-f-]{{36}})"[^>]*>\s*<span class="tile-name">'
                            rf'{re.escape(self.name)}<', page).group(1)
        r = await self.client.post("/login", data={
            "user_id": user_id, "pin": self.pin,
            "_csrf_token": self.client.cookies.get("csrftoken", "")})
        assert "Hello," in r.text, r.text[:500]
        if open_shift:
            r = await self.client.post("/pos/shift/open", data={"counter": self.counter,
                                                                "float": "1000"},
                                       headers=self.headers())
            assert r.status_code in (200, 201), r.text[:500]

    async def cart(self) -> str:
        till = (await self.client.get("/pos")).text
        return re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', till).group(1)

    async def sell(self, codes: list[str]) -> None:
        cart = await self.cart()
        for code in codes:
            r = await self.client.post("/pos/scan", data={"code": code, "cart_id": cart},
                                       headers=self.headers())
            assert r.status_code == 200 and "alert-error" not in r.text, r.text[:500]
        await self.client.get("/pos/pay", headers=self.headers())
        r = await self.client.post("/pos/pay/tender", data={
            "cart_id": cart, "kind": "cash", "given": "100000"}, headers=self.headers())
        key = re.search(r'name="key" value="([^"]+)"', r.text).group(1)
        self.keys[key] = cart
        self.completing = True
        self.answered[key] = await self.complete(cart, key)
        self.completing = False

    async def complete(self, cart: str, key: str) -> str:
        r = await self.client.post("/pos/pay/complete", data={"cart_id": cart, "key": key},
                                   headers=self.headers())
        assert "hx-redirect" in r.headers, (r.status_code, r.text[:500])
        return r.headers["hx-redirect"].rsplit("/", 1)[-1]

    async def rush(self, rng: random.Random, codes: list[str], bills: int) -> None:
        try:
            for _ in range(bills):
                await self.sell([rng.choice(codes) for _ in range(LINES)])
        except (httpx.TransportError, httpx.HTTPStatusError):
            return  # the server died under us


async def rush_and_kill(store: StoreDir, port: int, codes: list[str], rng: random.Random,
                        server) -> list[Till]:
    base = f"http://{LOCALHOST}:{port}"
    tills = [Till(base, *t) for t in TILLS]
    for till in tills:
        await till.sign_in(open_shift=True)
    tasks = [asyncio.create_task(t.rush(random.Random(rng.random()), codes, 40)) for t in tills]
    # let some sales commit, then kill -9 while a till is completing a sale
    while sum(len(t.answered) for t in tills) < 8 or not any(t.completing for t in tills):
        await asyncio.sleep(0.001)
        assert not all(task.done() for task in tasks), "the rush ended before the kill"
    await asyncio.sleep(rng.uniform(0, 0.02))
    os.killpg(server.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    return tills


async def retry_everything(tills: list[Till]) -> dict[str, str]:
    """After the restart: every key handed out is completed again (a till retrying)."""
    sales: dict[str, str] = {}
    for till in tills:
        if "Hello," not in (await till.client.get("/")).text:  # the session did not survive
            await till.sign_in(open_shift=False)
        for key, cart in till.keys.items():
            sales[key] = await till.complete(cart, key)
            assert sales[key] == await till.complete(cart, key)  # and once more
    return sales


def test_kill_9_during_a_rush_of_sales_loses_none_and_doubles_none(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("RUSH_SEED", time.time())))
    store = StoreDir(tmp_path)
    config = store.config.read_text()
    assert 'counters = ["C1", "C2"]' in config
    store.config.write_text(config.replace('counters = ["C1", "C2"]',
                                           'counters = ["C1", "C2", "C3", "C4"]'))
    store.upgrade(timeout=120)
    codes = write_catalog_csv(tmp_path / "catalog.csv", 300)
    store.import_catalog(tmp_path / "catalog.csv", timeout=120)
    for name, pin, _counter in TILLS:
        store.cli("user", "add", "--name", name, "--role", "cashier", "--pin", pin, timeout=60)
    port = free_port()
    server = store.serve(port)
    try:
        server.wait_ready(f"http://{LOCALHOST}:{port}/healthz", timeout=60)
        tills = asyncio.run(rush_and_kill(store, port, codes, rng, server))
        server = store.serve(port)
        server.wait_ready(f"http://{LOCALHOST}:{port}/healthz", timeout=60)

        async def after() -> dict[str, str]:
            try:
                return await retry_everything(tills)
            finally:
                for till in tills:
                    await till.client.aclose()

        sales = asyncio.run(after())
    finally:
        server.stop()

    answered = {k: v for t in tills for k, v in t.answered.items()}
    print(f"keys {len(sales)}, answered before the kill {len(answered)}")
    assert len(answered) >= 8 and len(sales) >= len(answered)
    assert all(sales[k] == sale_id for k, sale_id in answered.items())  # none lost
    assert len(set(sales.values())) == len(sales)  # one sale per key, none shared

    db = sqlite3.connect(store.db_path)
    rows = db.execute("SELECT id, idempotency_key, number FROM sales").fetchall()
    assert sorted(r[0] for r in rows) == sorted(sales.values())  # none doubled
    assert {r[1]: r[0] for r in rows} == sales
    numbers = sorted(int(r[2].rsplit("-", 1)[1]) for r in rows)
    assert numbers == list(range(1, len(rows) + 1))  # gapless bill numbers
    lines = dict(db.execute("SELECT s.number, count(*) FROM sale_lines l "
                            "JOIN sales s ON s.id = l.sale_id GROUP BY s.number").fetchall())
    moves = Counter(r[0] for r in db.execute(
        "SELECT reference FROM stock_ledger WHERE reason = 'sale'").fetchall())
    assert moves == Counter(lines) and set(lines) == {r[2] for r in rows}  # moved once
    for number, quantity, moved in db.execute(
            "SELECT s.number, (SELECT sum(quantity) FROM sale_lines WHERE sale_id = s.id), "
            "(SELECT sum(delta) FROM stock_ledger WHERE reference = s.number) FROM sales s"):
        assert moved == -quantity, number
    ledger, levels = db.execute("SELECT (SELECT sum(delta) FROM stock_ledger), "
                                "(SELECT sum(on_hand) FROM stock_levels)").fetchone()
    assert ledger == levels
    seqs = [r[0] for r in db.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gapless outbox
    completed = Counter(r[0] for r in db.execute(
        "SELECT json_extract(data, '$.sale_id') FROM outbox WHERE kind = 'sale.completed'"))
    assert completed == Counter(sales.values())
    moved_events = db.execute("SELECT count(*) FROM outbox WHERE kind = 'stock.moved'").fetchone()
    assert moved_events[0] == sum(moves.values())
    db.close()
