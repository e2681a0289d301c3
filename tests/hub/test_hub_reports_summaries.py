"""The summaries the chain overview reads (migration h013's triggers): hub_sale_days
follows hub_sales, hub_order_slots follows orders moving store, being cancelled and
handed over. SQLite and PostgreSQL (hub_db)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.hub import service as hub
from app.hub.models import HubOrder, HubOrderLog, HubOrderSlot, HubSale, HubSaleDay
from tests.hub.test_hub_reports_pages import _order

AT = datetime(2026, 11, 20, 8, 40, tzinfo=UTC)  # slot 08:30 UTC


async def _slots(hub_db) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    async with hub_db.read() as s:
        return {(r.store_id, r.slot): (r.orders, r.cancelled, r.handed, r.met)
                for r in await s.scalars(select(HubOrderSlot))
                if (r.orders, r.cancelled, r.handed, r.met) != (0, 0, 0, 0)}


def _log(n: int, order: str, at: datetime, status: str) -> HubOrderLog:
    return HubOrderLog(id=f"l{n}", order_id=order, at=at, kind="status", text="Status",
                       detail=json.dumps({"status": status}))


async def test_order_slots_follow_moves_cancels_and_handovers(hub_db):
    for sid in ("S1", "S2"):
        await hub.add_store(hub_db, sid, name=sid, kind="darkstore", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        s.add(HubOrder(**_order(1, "S1", AT, AT + timedelta(minutes=30), "assigned")))
        s.add(HubOrder(**_order(2, "S1", AT, AT + timedelta(minutes=30), "assigned")))
        s.add(HubOrder(**{**_order(3, "S1", AT, AT, "new"), "store_id": None}))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (2, 0, 0, 0)}
    async with hub_db.write() as s:  # o1 moves to S2; o2 is cancelled; o3 gets a store
        await s.execute(update(HubOrder).where(HubOrder.id == "o1").values(store_id="S2"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o2").values(status="cancelled"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o3")
                        .values(store_id="S2", status="assigned"))
        await s.execute(update(HubOrder).where(HubOrder.id == "o1").values(status="picking"))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (1, 1, 0, 0),
                                    ("S2", "2026-11-20T08:30"): (2, 0, 0, 0)}
    async with hub_db.write() as s:  # o1 on time (then delivered: no second count), o3 late
        s.add(_log(1, "o1", AT + timedelta(minutes=20), "handed_over"))
        s.add(_log(2, "o1", AT + timedelta(minutes=50), "delivered"))
        s.add(_log(3, "o3", AT + timedelta(minutes=5), "delivered"))
        s.add(HubOrderLog(id="l4", order_id="o1", at=AT, kind="store", text="x",
                          detail=json.dumps({"status": "handed_over"})))
    assert await _slots(hub_db) == {("S1", "2026-11-20T08:30"): (1, 1, 0, 0),
                                    ("S2", "2026-11-20T08:30"): (2, 0, 2, 1)}


async def test_sale_days_follow_every_bill_once(hub_db):
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        for i, (kind, total, day) in enumerate([("sale", 1000, "2026-11-20"),
                                                 ("sale", 2500, "2026-11-20"),
                                                 ("refund", -400, "2026-11-20"),
                                                 ("sale", 700, "2026-11-21")]):
            s.add(HubSale(id=f"x{i}", store_id="S1", kind=kind, number=f"N{i}", at=AT,
                          day=day, total_minor=total))
    async with hub_db.read() as s:
        rows = {(r.day, r.bills, r.sales_minor, r.refunds_minor)
                for r in await s.scalars(select(HubSaleDay))}
    assert rows == {("2026-11-20", 2, 3500, -400), ("2026-11-21", 1, 700, 0)}


async def test_an_on_time_handover_reported_late_counts_as_met(hub_db, hub_cfg, monkeypatch):
    """The SLA is judged on when the store handed the order over (the event's `at`), not
    on when its link came back; a time the store cannot know (before the order, or in
    the hub's future) is not believed."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.hub import placement
    from app.hub.models import HubOrderSlot
    from tests.hub.test_order_moves import _report
    from tests.hub.test_routing import incoming, setup_stores

    await setup_stores(hub_db, {"S1": 10, "D2": 10})
    order = (await placement.take_order(hub_db, hub_cfg, incoming("W-1"))).order
    store = order.store_id
    await _report(hub_db, hub_cfg, order, store, "accepted", "picking", "picked", "packed",
                  "ready")
    handed_at = order.promised_by - timedelta(minutes=5)
    real = placement.utcnow
    monkeypatch.setattr(placement, "utcnow",  # the link was down for 20 minutes
                        lambda: order.promised_by + timedelta(minutes=15))
    async with hub_db.write() as s:
        await placement.on_store_status(s, hub_cfg, store, {
            "channel": order.channel, "external_id": order.external_id,
            "status": "handed_over", "at": handed_at.isoformat()})
    monkeypatch.setattr(placement, "utcnow", real)
    async with hub_db.read() as s:
        rows = [(r.handed, r.met) for r in await s.scalars(select(HubOrderSlot)) if r.orders]
    assert rows == [(1, 1)]
    created = order.created_at
    assert placement._store_time((created - timedelta(hours=1)).isoformat(), order) is None
    assert placement._store_time("2999-01-01T00:00:00+00:00", order) is None
    assert placement._store_time("2026-12-01T10:00:00", order) is None  # no zone
    assert placement._store_time("nonsense" * 10, order) is None
    assert placement._store_time(2**63, order) is None


def test_undoing_the_reports_migration_keeps_the_routing_cache_triggers(tmp_path):
    """On SQLite, dropping hub_stores.gstin rebuilds the table: h007's triggers that
    invalidate order intake's routing cache must survive a downgrade and upgrade."""
    import sqlite3

    from alembic import command

    from app.core import migrate

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate.hub_upgrade(url)

    def store_triggers() -> set[str]:
        with sqlite3.connect(tmp_path / "hub.db") as conn:
            return {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                "tbl_name = 'hub_stores'")}

    before = store_triggers()
    assert len(before) == 3
    command.downgrade(migrate._hub_alembic_config(url), "h012")
    assert store_triggers() == before
    migrate.hub_upgrade(url)
    assert store_triggers() == before


async def test_two_writers_logging_one_handover_on_postgresql_count_it_once(hub_db):
    """Two transactions log the same order's hand-over at once: the second neither fails
    on the summary's key nor counts the order twice."""
    import asyncio

    import asyncpg
    import pytest

    if hub_db.dialect != "postgresql":
        pytest.skip("PostgreSQL's concurrent writers")
    from tests.hub.test_routing import setup_stores

    await setup_stores(hub_db, {"S1": 10})
    dsn = hub_db.url.replace("postgresql+asyncpg", "postgresql")
    a, b = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        cols = await a.fetch("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'hub_orders' AND is_nullable = 'NO'")
        row = {c["column_name"]: 0 if c["data_type"] in ("integer", "bigint", "smallint")
               else 0.0 if c["data_type"] in ("double precision", "real")
               else False if c["data_type"] == "boolean" else "" for c in cols}
        row.update(id="o1", number="HQ-1", store_id="S1", status="handed_over",
                   created_at="2026-11-20T08:40:00.000000+00:00",
                   promised_by="2026-11-20T09:10:00.000000+00:00",
                   updated_at="2026-11-20T08:40:00.000000+00:00")
        names = list(row)
        await a.execute(f"INSERT INTO hub_orders ({', '.join(names)}) VALUES "
                        f"({', '.join(f'${i + 1}' for i in range(len(names)))})", *row.values())
        log = ("INSERT INTO hub_order_log (id, order_id, at, kind, text, detail) VALUES ($1, "
               "'o1', '2026-11-20T09:00:00.000000+00:00', 'status', 'x', $2)")
        ta, tb = a.transaction(), b.transaction()
        await ta.start()
        await tb.start()
        await a.execute(log, "l1", '{"status": "handed_over"}')
        second = asyncio.create_task(b.execute(log, "l2", '{"status": "delivered"}'))
        await asyncio.sleep(0.3)  # b waits for a's row
        await ta.commit()
        await second
        await tb.commit()
        handed = await a.fetchval("SELECT sum(handed) FROM hub_order_slots WHERE store_id = 'S1'")
        assert handed == 1
    finally:
        await a.close()
        await b.close()


async def test_summaries_follow_bills_and_orders_deleted_or_corrected_by_sql(hub_db):
    """Pruning old rows, or an operator correcting a bill, keeps the summaries equal to
    the rows they sum (an order's hand-over leaves with it)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import delete, select, update

    from app.hub import service as hub
    from app.hub.models import HubOrder, HubOrderLog, HubOrderSlot, HubSale, HubSaleDay
    from tests.hub.test_hub_reports_pages import _done, _order

    at = datetime(2026, 11, 20, 8, 40, tzinfo=UTC)
    await hub.add_store(hub_db, "S1", name="S1", kind="darkstore", lat=12.9, lon=77.6)

    async def days():
        async with hub_db.read() as s:
            kept = {(r.store_id, r.day): (r.bills, r.sales_minor, r.refunds_minor)
                    for r in await s.scalars(select(HubSaleDay))}
            truth: dict = {}
            for r in await s.scalars(select(HubSale)):
                b = truth.setdefault((r.store_id, r.day), [0, 0, 0])
                if r.kind == "sale":
                    b[0], b[1] = b[0] + 1, b[1] + r.total_minor
                else:
                    b[2] += r.total_minor
        return {k: v for k, v in kept.items() if any(v)}, {k: tuple(v) for k, v in
                                                          truth.items() if any(v)}

    async with hub_db.write() as s:
        for i in range(3):
            s.add(HubSale(id=f"x{i}", store_id="S1", kind="sale", number=f"N{i}", at=at,
                          day="2026-11-20", total_minor=1000))
        s.add(HubSale(id="r0", store_id="S1", kind="refund", number="R0", at=at,
                      day="2026-11-20", total_minor=-300))
    kept, truth = await days()
    assert kept == truth == {("S1", "2026-11-20"): (3, 3000, -300)}
    async with hub_db.write() as s:
        await s.execute(delete(HubSale).where(HubSale.id.in_(["x0", "r0"])))
        await s.execute(update(HubSale).where(HubSale.id == "x1").values(total_minor=5))
        await s.execute(update(HubSale).where(HubSale.id == "x2").values(day="2026-11-21"))
    kept, truth = await days()
    assert kept == truth == {("S1", "2026-11-20"): (1, 5, 0), ("S1", "2026-11-21"): (1, 1000, 0)}

    async with hub_db.write() as s:
        s.add(HubOrder(**_order(1, "S1", at, at + timedelta(minutes=30), "handed_over")))
        s.add(HubOrder(**_order(2, "S1", at, at + timedelta(minutes=30), "assigned")))
    async with hub_db.write() as s:
        s.add(HubOrderLog(**_done(1, "o1", at + timedelta(minutes=10))))

    async def slots():
        async with hub_db.read() as s:
            return sorted((r.orders, r.handed, r.met) for r in await s.scalars(
                select(HubOrderSlot)) if r.orders or r.handed or r.met)

    assert await slots() == [(2, 1, 1)]
    async with hub_db.write() as s:
        await s.execute(delete(HubOrderLog).where(HubOrderLog.order_id == "o1"))
        await s.execute(delete(HubOrder).where(HubOrder.id == "o1"))
    assert await slots() == [(1, 0, 0)]
