"""Sync retention at the store (app/sync/pruning.py) on a real SQLite file: outbox rows
the hub acknowledged go once old, unacknowledged and young ones stay, the newest row
always stays (seqs are never handed out twice), inbox rows go, batches are bounded, and
a hub frame resent after its inbox rows were pruned applies nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.catalog.models import Product
from app.config import ConfigError
from app.core.clock import utcnow
from app.sync import protocol as p
from app.sync import pruning
from app.sync.client import SyncClient
from app.sync.models import InboxEvent, OutboxEvent, SyncState
from app.sync.outbox import emit
from tests.conftest import make_config

NOW = utcnow()
OLD = NOW - timedelta(days=40)


async def write_outbox(db, n: int) -> None:
    async with db.write() as s:
        for i in range(n):
            emit(s, "stock.moved", {"sku": "RICE", "delta": -1, "n": i})


async def set_state(db, **values) -> None:
    async with db.write() as s:
        await s.execute(update(SyncState).where(SyncState.id == 1).values(**values))


async def outbox(db) -> list[int]:
    async with db.read() as s:
        return list(await s.scalars(select(OutboxEvent.seq).order_by(OutboxEvent.seq)))


async def inbox(db) -> list[int]:
    async with db.read() as s:
        return list(await s.scalars(select(InboxEvent.seq).order_by(InboxEvent.seq)))


async def test_acknowledged_old_outbox_rows_go_the_rest_stay(db):
    await write_outbox(db, 10)
    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=OLD))
        await s.execute(update(OutboxEvent).where(OutboxEvent.seq == 6).values(at=NOW))
    await set_state(db, acked_up=8)  # 9 and 10: the hub has not acknowledged them

    assert (await pruning.prune(db, 14, now=NOW)).outbox == 5
    assert await outbox(db) == [6, 7, 8, 9, 10]  # 6 is young: it and all after it stay

    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=OLD - timedelta(days=3650)))
    assert (await pruning.prune(db, 14, now=NOW)).outbox == 3
    assert await outbox(db) == [9, 10]  # never acknowledged: kept, however old


async def test_the_newest_row_stays_and_seqs_go_on(db):
    await write_outbox(db, 4)
    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=OLD))
    await set_state(db, acked_up=4)
    assert (await pruning.prune(db, 14, now=NOW)).outbox == 3
    assert await outbox(db) == [4]  # the table has no AUTOINCREMENT: seq 1 must not return
    await write_outbox(db, 1)
    assert await outbox(db) == [4, 5]


async def test_the_outbox_is_kept_a_day_past_the_window(db):
    await write_outbox(db, 3)
    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=NOW - timedelta(days=14, hours=12)))
    await set_state(db, acked_up=3)
    assert (await pruning.prune(db, 14, now=NOW)).outbox == 0
    assert (await pruning.prune(db, 14, now=NOW + timedelta(days=1))).outbox == 2


async def test_batches_are_bounded(db, monkeypatch):
    await write_outbox(db, 251)
    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=OLD))
    await set_state(db, acked_up=251)
    sizes: list[int] = []
    real = pruning.prune_outbox_batch

    async def counted(*args, **kwargs) -> int:
        done = await real(*args, **kwargs)
        sizes.append(done)
        return done

    monkeypatch.setattr(pruning, "prune_outbox_batch", counted)
    assert (await pruning.prune(db, 14, now=NOW, limit=100, pause=0)).outbox == 250
    assert sizes == [100, 100, 50]


async def test_a_sale_is_not_held_up_by_a_pass(db):
    """The tills write between batches: a write started during a long pass gets in
    after at most one batch, not after the whole pass."""
    await write_outbox(db, 2001)
    async with db.write() as s:
        await s.execute(update(OutboxEvent).values(at=OLD))
    await set_state(db, acked_up=2001)
    order: list[str] = []
    real = pruning.prune_outbox_batch

    async def batch(*args, **kwargs) -> int:
        order.append("batch")
        return await real(*args, **kwargs)

    async def sale() -> None:
        await asyncio.sleep(0)
        async with db.write() as s:
            emit(s, "sale.completed", {"number": "S1-000001"})
        order.append("sale")

    pruning_task = asyncio.create_task(pruning.prune(db, 14, now=NOW, limit=100, pause=0.01))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pruning, "prune_outbox_batch", batch)
        await asyncio.gather(pruning_task, sale())
    assert order.index("sale") <= 2  # in after the first batch or two, of 21


class FakeHub:
    """The websocket as the store client's applier uses it: what it sends back."""

    def __init__(self) -> None:
        self.sent: list[p.Message] = []

    async def send(self, text: str) -> None:
        self.sent.append(p.decode(text))


def product(seq: int, price: int, id_: str = "") -> p.Event:
    return p.Event(seq=seq, id=id_ or f"hub-e{seq}", kind="product.upserted",
                   at=NOW.isoformat(), data={"sku": f"SKU{seq}", "name": f"Item {seq}",
                                             "price_minor": price, "gst_rate_bp": 500})


async def prices(db) -> dict[str, int]:
    async with db.read() as s:
        return dict((await s.execute(select(Product.sku, Product.price_minor))).all())


async def test_a_hub_frame_resent_after_pruning_applies_nothing_twice(db, cfg):
    client, ws = SyncClient(db, cfg), FakeHub()
    frame = p.Events(events=[product(seq, 100) for seq in (1, 2, 3)])
    await client._apply(ws, frame)
    assert ws.sent[-1] == p.Ack(upto=3)
    assert (await pruning.prune(db, 14, now=NOW + timedelta(days=30))).inbox == 3
    assert await inbox(db) == []

    # The same frame again, and the same seqs under new ids with other prices: the
    # cursor (applied_down) skips them before anything else; no unique-id failure.
    await client._apply(ws, frame)
    await client._apply(ws, p.Events(events=[product(s, 999, f"other-{s}") for s in (2, 3)]))
    assert ws.sent[-2:] == [p.Ack(upto=3), p.Ack(upto=3)]
    assert await prices(db) == {"SKU1": 100, "SKU2": 100, "SKU3": 100}
    await client._apply(ws, p.Events(events=[product(3, 999), product(4, 400)]))
    assert ws.sent[-1] == p.Ack(upto=4)
    assert (await prices(db))["SKU4"] == 400 and (await prices(db))["SKU3"] == 100
    assert await inbox(db) == [4]


async def test_inbox_rows_go_only_when_old(db, cfg):
    client, ws = SyncClient(db, cfg), FakeHub()
    await client._apply(ws, p.Events(events=[product(seq, 100) for seq in (1, 2)]))
    assert (await pruning.prune(db, 14, now=NOW)).inbox == 0
    assert (await pruning.prune(db, 14, now=NOW + timedelta(days=15))).inbox == 2


@pytest.mark.parametrize("value", ["0", "-1", "3651", "99999999999", "nan", "inf", "-inf",
                                   '"NaN"', '"14"', "14.5", "false", "{}"])
def test_hostile_retention_values_are_refused(tmp_path, value):
    with pytest.raises(ConfigError, match=r"sync\.retention_days"):
        make_config(tmp_path, **{"[hub]": f"[sync]\nretention_days = {value}\n\n[hub]"})
    cfg = make_config(tmp_path, **{"[hub]": "[sync]\nretention_days = 60\n\n[hub]"})
    assert cfg.sync.retention_days == 60
    assert make_config(tmp_path).sync.retention_days == 14
