"""Where a return goes (issue #19), on SQLite and PostgreSQL: back to the store that
packed the order, or, for a channel with `returns_to_nearest`, to the nearest online
dark store when the packing store is a counter store, switched off or offline."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from app.hub import returns, webhooks
from app.hub.models import HubChannel, HubOrderLog, HubReturnLine, HubStore, HubStoreLink
from tests.hub.test_hub_service import apply
from tests.hub.test_returns import completed, delivered_order, ev
from tests.hub.test_routing import sent_to, setup_stores


async def nearest_channel(hub_db, on: bool = True) -> None:
    await webhooks.add_channel(hub_db, "webshop", returns_to_nearest=on)


def body(return_id: str = "R-1", qty: int = 1) -> returns.ReturnBody:
    return returns.ReturnBody(return_id=return_id, reason="torn packet",
                              lines=[returns.ReturnLineBody("RICE", qty)])


async def make(hub_db, **values) -> None:
    """S1 (which packed the order) changed: a counter store, switched off."""
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(**values))


async def offline(hub_db, *store_ids: str) -> None:
    async with hub_db.write() as s:
        await s.execute(delete(HubStoreLink).where(HubStoreLink.store_id.in_(store_ids)))


async def where_lines_go(hub_db, return_id: str) -> list[tuple[str, str, int]]:
    async with hub_db.read() as s:
        return [(r.store_id, r.order_id, r.quantity) for r in await s.scalars(
            select(HubReturnLine).where(HubReturnLine.return_id == return_id))]


async def test_off_by_default_a_return_goes_back_to_the_counter_store_that_packed_it(
        hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    await nearest_channel(hub_db, on=False)
    order = await delivered_order(hub_db, hub_cfg)
    await make(hub_db, kind="counter")
    await offline(hub_db, "S1")
    view = await returns.request_return(hub_db, hub_cfg, order.id, body(), "api:webshop")
    assert await where_lines_go(hub_db, view.ret.id) == [("S1", order.id, 1)]
    assert len(await sent_to(hub_db, "S1", "return.requested")) == 1
    assert await sent_to(hub_db, "D2", "return.requested") == []
    async with hub_db.read() as s:
        row = await s.get(HubChannel, "webshop")
        assert row is not None and row.returns_to_nearest is False


@pytest.mark.parametrize("change", ["counter", "switched off", "offline"])
async def test_a_return_goes_to_the_nearest_online_dark_store(hub_db, hub_cfg, caplog, change):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    await nearest_channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg, qty=2)
    if change == "counter":
        await make(hub_db, kind="counter")
    elif change == "switched off":
        await make(hub_db, active=False)
    else:
        await offline(hub_db, "S1")
    view = await returns.request_return(hub_db, hub_cfg, order.id, body(qty=2), "api:webshop")
    # D2 (Koramangala) is nearer the customer in Indiranagar than W3 (Whitefield).
    assert await where_lines_go(hub_db, view.ret.id) == [("D2", order.id, 2)]
    assert await sent_to(hub_db, "S1", "return.requested") == []
    [sent] = await sent_to(hub_db, "D2", "return.requested")
    # D2 is told the order as the hub knows it (it did not pack it).
    assert (sent["hub_order_id"], sent["order_number"], sent["external_id"]) == (
        order.id, order.number, "W-1")
    assert sent["lines"] == [{"sku": "RICE", "quantity": 2, "unit_price_minor": 4500,
                              "refundable_minor": 9000}]
    async with hub_db.read() as s:
        texts = [e.text for e in await s.scalars(select(HubOrderLog).where(
            HubOrderLog.order_id == order.id, HubOrderLog.kind == "return"))]
    why = {"counter": "S1 is a counter store", "switched off": "S1 is switched off",
           "offline": "S1 is offline"}[change]
    assert any(f"{view.ret.number}: 2 units go to D2, the nearest dark store" in t
               and t.endswith(f"not S1: {why}") for t in texts), texts
    # S1 cannot complete it; D2 does.
    ret = {"return_id": view.ret.id, "number": view.ret.number}
    line = {"expected": 2, "received": 2, "resellable": 2}
    await apply(hub_db, "S1", [ev(1, "return.completed", completed(ret, "S1", 9000, line=line))])
    assert "whose goods go to D2: ignored" in caplog.text
    await apply(hub_db, "D2", [ev(1, "return.completed", completed(ret, "D2", 9000, line=line))])
    [done] = await returns.returns_of(hub_db, order.id)
    assert (done.ret.state, done.ret.refund_total_minor) == ("completed", 9000)


async def test_the_next_dark_store_when_the_nearest_is_offline_and_none_left_means_home(
        hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    await nearest_channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg, qty=3)
    await make(hub_db, kind="counter")
    await offline(hub_db, "D2")
    first = await returns.request_return(hub_db, hub_cfg, order.id, body("R-1"), "api:webshop")
    assert await where_lines_go(hub_db, first.ret.id) == [("W3", order.id, 1)]
    await offline(hub_db, "W3")  # no online dark store left: back to the packing store
    second = await returns.request_return(hub_db, hub_cfg, order.id, body("R-2"), "api:webshop")
    assert await where_lines_go(hub_db, second.ret.id) == [("S1", order.id, 1)]
    # An order without a delivery point stays with its store too.
    async with hub_db.write() as s:
        from app.hub.models import HubOrder

        await s.execute(update(HubOrder).where(HubOrder.id == order.id).values(lat=None,
                                                                               lon=None))
    await offline(hub_db, "S1")
    from tests.hub.test_hub_service import go_online

    await go_online(hub_db, ["D2"])
    third = await returns.request_return(hub_db, hub_cfg, order.id, body("R-3"), "api:webshop")
    assert await where_lines_go(hub_db, third.ret.id) == [("S1", order.id, 1)]


async def test_a_failed_delivery_from_a_counter_store_goes_to_the_nearest_dark_store(
        hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    await nearest_channel(hub_db)
    order = await delivered_order(hub_db, hub_cfg, qty=2, deliver=False)
    await make(hub_db, kind="counter")
    _order, view = await returns.mark_undelivered(hub_db, order.id, "not at home", "api:webshop",
                                                  hub_cfg.offline_after)
    assert view.ret.kind == "rto"
    assert await where_lines_go(hub_db, view.ret.id) == [("D2", order.id, 2)]
    [sent] = await sent_to(hub_db, "D2", "return.requested")
    assert (sent["kind"], sent["hub_order_id"]) == ("rto", order.id)


async def test_a_split_order_never_sends_one_store_two_parts_of_a_return(hub_db, hub_cfg):
    """A store keeps the first `return.requested` of a return id: a part whose store
    cannot take it goes to the nearest dark store that gets no other part (W3, not D2),
    and a part with no such store left goes back to its own."""
    from tests.hub.test_returns import split_order

    await nearest_channel(hub_db)
    order, parts = await split_order(hub_db, hub_cfg)
    await make(hub_db, kind="counter")
    view = await returns.request_return(hub_db, hub_cfg, order.id, returns.ReturnBody(
        return_id="R-S", reason="not needed", lines=[returns.ReturnLineBody("RICE", 1),
                                                     returns.ReturnLineBody("DAL", 1)]),
        "api:webshop")
    assert sorted(await where_lines_go(hub_db, view.ret.id)) == [
        ("D2", parts["D2"].id, 1), ("W3", parts["S1"].id, 1)]
    [to_w3] = await sent_to(hub_db, "W3", "return.requested")
    assert to_w3["hub_order_id"] == parts["S1"].id and to_w3["lines"][0]["sku"] == "RICE"
    # D2 offline too: both parts need a detour and W3 is the only dark store left. The
    # packing stores are served in id order: D2's part goes to W3, S1's stays at S1.
    await offline(hub_db, "D2")
    again = await returns.request_return(hub_db, hub_cfg, order.id, returns.ReturnBody(
        return_id="R-T", reason="not needed", lines=[returns.ReturnLineBody("RICE", 1),
                                                     returns.ReturnLineBody("DAL", 1)]),
        "api:webshop")
    assert sorted(await where_lines_go(hub_db, again.ret.id)) == [
        ("S1", parts["S1"].id, 1), ("W3", parts["D2"].id, 1)]


def test_add_channel_sets_returns_to_nearest_from_the_command_line(tmp_path, hub_sqlite_template):
    import shutil
    import sqlite3
    from pathlib import Path

    from click.testing import CliRunner

    from app.cli import main

    root = Path(__file__).resolve().parents[2]
    text = (root / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    (tmp_path / "hub.toml").write_text(text)
    shutil.copy(hub_sqlite_template, tmp_path / "hub.db")
    config = str(tmp_path / "hub.toml")
    for args in (["near", "--returns-to-nearest"], ["home"]):
        out = CliRunner().invoke(main, ["hub", "add-channel", "--config", config, *args])
        assert out.exit_code == 0, out.output
    with sqlite3.connect(tmp_path / "hub.db") as con:
        rows = dict(con.execute("SELECT name, returns_to_nearest FROM hub_channels"))
    assert rows == {"near": 1, "home": 0}
