"""A store's live load in the hub's routing (issue #24), on SQLite and PostgreSQL: the
status keeps it on the store's row; a fresh one sets the store's capacity from the
pickers signed in and a stale one does not; between two equal stores the less loaded
gets the order, and the order's decision log says the figures it used."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from app.core.clock import utcnow
from app.hub import allocation, link_history, order_reads, placement, routing_inputs
from app.hub import service as hub
from app.hub.models import HubConfigVersion, HubStore
from app.orders.service import LineIn, OrderIn
from app.sync import protocol as p
from tests.hub import test_hub_links
from tests.hub.test_hub_service import apply, edit, ev, go_online

live_hub = test_hub_links.live_hub  # the fixture: a hub served in this process
ORDER = allocation.OrderView(pincode="560038", lat=None, lon=None, lines=(("RICE", 1),))


async def two_stores(hub_db) -> None:
    """S1 and D2 serve PIN 560038 alike (no customer location: no distance), 10 RICE
    each, 5 registered pickers each, both online."""
    await hub.save_product(hub_db, edit("RICE"))
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="darkstore", lat=12.97,
                            lon=77.64, pincodes="560038", pickers=5)
        await apply(hub_db, sid, [ev(1, "stock.moved", {"sku": "RICE", "delta": 10})])
    await go_online(hub_db)


async def report(hub_db, store_id: str, pickers: int, orders: dict[str, int], picks: int,
                 at=None) -> None:
    status = p.Status(version="1.0", clock=utcnow(),
                      load=p.Load(pickers=pickers, orders=orders, picks_per_hour=picks))
    await link_history.save_status(hub_db, store_id, status, at or utcnow())


async def views(hub_db, hub_cfg) -> dict[str, allocation.StoreView]:
    async with hub_db.write() as s:
        inputs = await routing_inputs.read(s, hub_cfg, ORDER)
    return {v.id: v for v in inputs.views}


async def test_a_fresh_load_sets_capacity_and_a_stale_one_does_not(hub_db, hub_cfg):
    await two_stores(hub_db)
    per_picker = hub_cfg.routing.orders_per_picker
    before = await views(hub_db, hub_cfg)
    assert before["S1"].live is None
    assert before["S1"].capacity(routing_inputs.rules_of(None, hub_cfg)) == 5 * per_picker

    async with hub_db.read() as s:
        token = await s.scalar(select(HubConfigVersion.token))
    await report(hub_db, "S1", 2, {"accepted": 3, "picking": 4}, 42)
    async with hub_db.read() as s:
        # A load is not a routing-config change: the hubs' copies stay valid (h007).
        assert await s.scalar(select(HubConfigVersion.token)) == token
        row = await s.get(HubStore, "S1")
        assert (row.load_pickers, row.load_orders, row.load_picks_hour) == (
            2, '{"accepted":3,"picking":4}', 42)
        assert row.load_at is not None and row.status_version == "1.0"
    fresh = await views(hub_db, hub_cfg)
    rules = routing_inputs.rules_of(None, hub_cfg)
    assert fresh["S1"].live == allocation.Live(2, 7, 42)
    assert fresh["S1"].capacity(rules) == 2 * per_picker
    assert fresh["D2"].live is None and fresh["D2"].capacity(rules) == 5 * per_picker

    # A status without a load keeps the last one (it ages out by itself).
    await link_history.save_status(hub_db, "S1", p.Status(version="1.1", clock=utcnow()),
                                   utcnow())
    assert (await views(hub_db, hub_cfg))["S1"].live == allocation.Live(2, 7, 42)

    # Older than routing.load_fresh_seconds: ignored, the registered pickers count.
    stale_at = utcnow() - timedelta(seconds=hub_cfg.routing.load_fresh_seconds + 5)
    await report(hub_db, "S1", 1, {"accepted": 9}, 5, at=stale_at)
    stale = await views(hub_db, hub_cfg)
    assert stale["S1"].live is None and stale["S1"].capacity(rules) == 5 * per_picker

    # The switch off: a fresh load is read but capacity keeps the registered figure.
    await report(hub_db, "S1", 1, {"accepted": 9}, 5)
    off = routing_inputs.rules_of('{"live_pickers": false}', hub_cfg)
    assert (await views(hub_db, hub_cfg))["S1"].capacity(off) == 5 * per_picker


async def test_the_less_loaded_store_gets_the_order_and_the_log_says_why(hub_db, hub_cfg):
    await two_stores(hub_db)
    await report(hub_db, "S1", 2, {"accepted": 3, "picking": 3}, 40)  # busy
    await report(hub_db, "D2", 3, {"picking": 1}, 42)  # nearly idle
    order = OrderIn(channel="webshop", external_id="L-1", customer_name="Kavya R",
                    customer_phone="9800000000", address="4th Cross", pincode="560038",
                    promised_by=utcnow() + timedelta(minutes=30), lines=(LineIn("RICE", 1),))
    placed = await placement.take_order(hub_db, hub_cfg, order)
    assert placed.order.store_id == "D2"  # without the loads: S1, by id
    page = await order_reads.get_order(hub_db, placed.order.id)
    text = " ".join(e.text for e in page.log)
    assert "1. D2 Store D2: distance unknown, serves this PIN code" in text
    assert "D2 Store D2:" in text and "3 pickers signed in, 1 open order, 42 picks/h" in text
    assert "2 pickers signed in, 6 open orders, 40 picks/h" in text

    # Stale loads: no live figures, and S1 wins by its id again.
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(load_at=utcnow() - timedelta(hours=1)))
    again = await placement.take_order(hub_db, hub_cfg, replace(order, external_id="L-2"))
    assert again.order.store_id == "S1"
    page = await order_reads.get_order(hub_db, again.order.id)
    assert "signed in" not in " ".join(e.text for e in page.log)
    async with hub_db.read() as s:
        assert (await s.scalar(select(HubStore.load_pickers).where(HubStore.id == "S1"))) == 2


async def test_no_pickers_signed_in_leaves_room_for_one_picker(hub_db, hub_cfg):
    """Nobody signed in (before the morning shift): capacity as for one picker, not 0,
    as the registered figure never goes below one."""
    await two_stores(hub_db)
    await report(hub_db, "S1", 0, {}, 0)
    view = (await views(hub_db, hub_cfg))["S1"]
    assert view.live == allocation.Live(0, 0, 0)
    rules = routing_inputs.rules_of(None, hub_cfg)
    assert view.capacity(rules) == rules.orders_per_picker


async def test_a_real_store_sends_its_load_in_its_hello_and_when_it_changes(
        live_hub, hub_db, tmp_path, migrated_template, monkeypatch):
    """The store client on a v3 link: the load in its hello, then again as soon as it
    changes (read every `load_every`), kept on the hub's row."""
    import asyncio
    import shutil

    from app.core.db import Database
    from app.core.models import User
    from app.sync import hub_link
    from app.sync.client import SyncClient
    from tests.conftest import make_config
    from tests.hub.test_hub_links import add_s1

    monkeypatch.setattr(hub_link, "STATUS_MIN_SECONDS", 0.0)
    token = await add_s1(hub_db)
    (tmp_path / "s1.token").write_text(token)
    cfg = make_config(tmp_path, **{'url = ""': f'url = "{live_hub.ws_url}"\n'
                                              'token_file = "s1.token"'})
    shutil.copy(migrated_template, cfg.database_path)
    store_db = Database(cfg.database_path)

    async def sign_in(name: str, pin: str) -> None:  # a picker signed in just now
        async with store_db.write() as s:
            s.add(User(name=name, role="picker", pin_hash="x", active=True,
                       created_at=utcnow(), last_login_at=utcnow()))

    async def hub_pickers(want: int) -> int | None:
        for _ in range(200):
            async with hub_db.read() as s:
                got = await s.scalar(select(HubStore.load_pickers)
                                     .where(HubStore.id == "S1"))
            if got == want:
                return got
            await asyncio.sleep(0.05)
        return got

    await sign_in("Ravi", "5209")
    client = SyncClient(store_db, cfg, load_every=0.2, load_resend=60)
    await client.start()
    try:
        assert await hub_pickers(1) == 1  # from the hello
        await sign_in("Sita", "6052")
        assert await hub_pickers(2) == 2  # within a load_every of the change
        assert client.proto == p.CATALOG_FROM
    finally:
        await client.stop()
        await store_db.dispose()
