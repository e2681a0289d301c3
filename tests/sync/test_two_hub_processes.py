"""Two hub processes on one PostgreSQL database: a price changed on hub B's pages
reaches a store connected to hub A at once (LISTEN/NOTIFY), not at A's 15 s poll; a
burst of orders at both never runs PostgreSQL out of connections."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.sync.harness import (
    HUB_TOML,
    Hub,
    Proc,
    free_port,
    kirana,
    make_hub,
    make_store,
    wait_for,
)
from tests.sync.test_end_to_end import ean13, save_product

pytestmark = pytest.mark.timeout(180)


def test_a_change_on_one_hub_process_wakes_the_other(pg_url, tmp_path, migrated_template):
    hub_a = make_hub(tmp_path / "a", pg_url)
    b_dir = tmp_path / "b"
    (b_dir / "var").mkdir(parents=True)
    # Every hub process on one database shares the install's secret file (the pepper).
    shutil.copy(tmp_path / "a" / "var" / "secret.key", b_dir / "var" / "secret.key")
    port = free_port()
    (b_dir / "hub.toml").write_text(HUB_TOML.format(url=pg_url, port=port))
    hub_b = Proc(["hub", "--config", str(b_dir / "hub.toml")], port, b_dir / "hub.log")
    hub_a.proc.start()
    hub_b.start()
    client = None
    store = None
    try:
        code = ean13("890100000777")
        client = hub_a.client()
        save_product(hub_a, client, "GHEE-1L", "540.00", code)
        token = hub_a.add_store("S1")
        store = make_store(tmp_path / "s1", "S1", hub_a.ws_url, token, migrated_template)
        store.proc.start()
        wait_for(lambda: store.sql("SELECT price_minor FROM products") == [(54000,)],
                 what="the catalogue at the store")
        client.close()
        # The store's link lives in hub A's process; the change is made through B.
        b = Hub(b_dir, b_dir / "hub.toml", pg_url, hub_b, users=hub_a.users)
        client = b.client()
        time.sleep(1)  # let A's link settle into waiting for a wake-up
        started = time.monotonic()
        save_product(b, client, "GHEE-1L", "560.00", code)
        wait_for(lambda: store.sql("SELECT price_minor FROM products") == [(56000,)],
                 timeout=14, interval=0.05, what="the change made on hub B at the store")
        took = time.monotonic() - started
        assert took < 5, f"took {took:.1f} s: hub A only found it by polling"
    finally:
        if client is not None:
            client.close()
        if store is not None:
            store.proc.stop()
        hub_b.stop()
        hub_a.proc.stop()


def test_a_burst_of_orders_at_two_hub_processes_gets_no_errors(pg_url, tmp_path):
    """120 orders posted at once, half to each process (the field saw 20-30 % HTTP 500
    "too many clients" with pools of 20 + 40 each): every one is answered 201."""
    hub_a = make_hub(tmp_path / "a", pg_url)
    b_dir = tmp_path / "b"
    (b_dir / "var").mkdir(parents=True)
    # Every hub process on one database shares the install's secret file (the pepper).
    shutil.copy(tmp_path / "a" / "var" / "secret.key", b_dir / "var" / "secret.key")
    port = free_port()
    (b_dir / "hub.toml").write_text(HUB_TOML.format(url=pg_url, port=port))
    hub_b = Proc(["hub", "--config", str(b_dir / "hub.toml")], port, b_dir / "hub.log")
    hub_a.proc.start()
    hub_b.start()
    client = None
    try:
        made = kirana("hub", "add-channel", "--config", str(hub_a.config), "webshop")
        key = re.search(r"API key.*: (\S+)", made.stdout).group(1)
        client = hub_a.client()
        save_product(hub_a, client, "ATTA-1KG", "62.00", ean13("890100000888"))
        promised = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()

        async def burst() -> list[int]:
            async with httpx.AsyncClient(timeout=90, headers={
                    "Authorization": f"Bearer {key}"}) as http:
                return [r.status_code for r in await asyncio.gather(*(http.post(
                    f"{(hub_a.proc if i % 2 else hub_b).url}/api/v1/orders", json={
                        "channel": "webshop", "external_id": f"B-{i}",
                        "customer": {"name": "Kavya R", "phone": "9800000000",
                                     "address": "5th Block", "pincode": "560034",
                                     "lat": 12.9352, "lon": 77.6245},
                        "promised_by": promised,
                        "lines": [{"sku": "ATTA-1KG", "quantity": 1}]}) for i in range(120)))]

        statuses = asyncio.run(burst())
        assert statuses == [201] * 120, {s: statuses.count(s) for s in set(statuses)}
    finally:
        if client is not None:
            client.close()
        hub_b.stop()
        hub_a.proc.stop()
