"""Sync retention at the hub (app/hub/pruning.py), on SQLite and PostgreSQL: acknowledged
old hub_outbox rows go, unacknowledged and young ones stay, the store events are kept
(the id record a restored store is checked against), batches are bounded, an accepted
restore of a store that pruned its outbox resumes below its oldest row and applies the
events it made after the restore although they reuse seqs the hub had, a store lacking
pruned hub events is refused, and a real store client keeps syncing through pruning on
both ends."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.config import ConfigError, parse_hub_config
from app.core.clock import utcnow
from app.hub import pruning
from app.hub import service as hub
from app.hub.models import HubOutbox, HubStockLevel, HubStore, StoreEventRow
from app.sync import protocol as p
from app.sync.hub_link import apply_frame
from tests.hub import test_hub_links
from tests.hub.test_hub_links import REAL, add_s1, closed_with, hello, until

live_hub = test_hub_links.live_hub  # the fixture: a uvicorn hub on 127.0.0.1

pytestmark = pytest.mark.timeout(120)
OLD = (utcnow() - timedelta(days=40)).isoformat()  # the store wrote these long ago


def moved(seq: int, at: str = OLD, kind: str = "stock.moved", id_: str = "") -> p.Event:
    data = {"sku": "RICE", "delta": 1} if kind == "stock.moved" else {"number": f"S1-SH{seq}"}
    return p.Event(seq=seq, id=id_ or f"S1-e{seq}", kind=kind, at=at, data=data)


async def send(hub_db, hub_cfg, events: list[p.Event]) -> p.Message:
    reply, _wake = await apply_frame(hub_db, hub_cfg, "S1", REAL, p.Events(events=events))
    return reply


async def s1(hub_db) -> None:
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(epoch=REAL))


async def rice(hub_db) -> int:
    async with hub_db.read() as s:
        return await s.scalar(select(HubStockLevel.on_hand).where(
            HubStockLevel.store_id == "S1", HubStockLevel.sku == "RICE")) or 0


async def event_seqs(hub_db) -> list[tuple[int, str]]:
    async with hub_db.read() as s:
        return [(seq, kind) for seq, kind in (await s.execute(
            select(StoreEventRow.seq, StoreEventRow.kind).where(StoreEventRow.store_id == "S1")
            .order_by(StoreEventRow.seq))).all()]


async def outbox_seqs(hub_db) -> list[int]:
    async with hub_db.read() as s:
        return list(await s.scalars(select(HubOutbox.seq).where(HubOutbox.store_id == "S1")
                                    .order_by(HubOutbox.seq)))


async def queue(hub_db, n: int) -> None:
    async with hub_db.write() as s:
        await hub.enqueue(s, ["S1"], [("hub.channels", {"channels": []})] * n)


async def floor(hub_db) -> int:
    async with hub_db.read() as s:
        row = await s.get(HubStore, "S1")
        return await pruning.down_floor(s, "S1", row.down_seq)


async def test_old_acknowledged_rows_go_the_rest_stay(hub_db, hub_cfg):
    await s1(hub_db)
    await queue(hub_db, 8)
    made = await outbox_seqs(hub_db)
    assert len(made) >= 8
    last = made[-1]
    async with hub_db.write() as s:
        old = utcnow() - timedelta(days=30)
        await s.execute(update(HubOutbox).values(at=old))
        # The store acknowledged all but the newest two; those stay however old.
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(
            down_acked=last - 2))
        # One acknowledged row is young: it and everything after it stay.
        await s.execute(update(HubOutbox).where(HubOutbox.seq == last - 3)
                        .values(at=utcnow()))
    await send(hub_db, hub_cfg, [moved(seq) for seq in range(1, 6)])

    done = await pruning.prune(hub_db, hub_cfg.sync.retention_days)

    assert done == pruning.Pruned(outbox=len(made) - 4)
    assert await outbox_seqs(hub_db) == [last - 3, last - 2, last - 1, last]
    assert await floor(hub_db) == last - 4
    # The store's events are the hub's record of what it sent, by id: never pruned.
    assert [seq for seq, _ in await event_seqs(hub_db)] == [1, 2, 3, 4, 5]
    assert await pruning.prune(hub_db, hub_cfg.sync.retention_days) == pruning.Pruned()
    assert await rice(hub_db) == 5


async def test_batches_are_bounded(hub_db, hub_cfg, monkeypatch):
    await s1(hub_db)
    await queue(hub_db, 250)
    last = (await outbox_seqs(hub_db))[-1]
    async with hub_db.write() as s:
        await s.execute(update(HubOutbox).values(at=utcnow() - timedelta(days=30)))
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(down_acked=last))
    sizes: list[int] = []
    real = pruning.prune_outbox_batch

    async def counted(*args, **kwargs) -> int:
        done = await real(*args, **kwargs)
        sizes.append(done)
        return done

    monkeypatch.setattr(pruning, "prune_outbox_batch", counted)
    done = await pruning.prune(hub_db, 14, limit=100, pause=0)
    assert done.outbox == last and all(size <= 100 for size in sizes)
    assert sizes[-1] < 100 and sum(sizes) == last
    assert await outbox_seqs(hub_db) == []
    assert await floor(hub_db) == last


async def test_an_accepted_restore_of_a_pruned_store_loses_and_doubles_nothing(live_hub, hub_db,
                                                                              hub_cfg):
    """The store sent 1-7; its backup holds 1-5 and it had pruned 1-2 (acknowledged).
    Restored and accepted, it makes new events, which take seqs 6-8 again under new ids.
    Before: the accept set the cursor to the highest pruned store event, so the new 6
    and 7 were skipped as already applied (lost)."""
    token = await add_s1(hub_db)
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(epoch=REAL))
    await send(hub_db, hub_cfg, [moved(seq) for seq in range(1, 8)])
    assert await rice(hub_db) == 7
    old_days = (await pruning.prune(hub_db, 14, now=utcnow() + timedelta(days=40)))
    assert old_days == pruning.Pruned()  # nothing in hub_outbox; the events stay
    async with hub_db.write() as s:  # the restored database: another epoch
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(
            rejected_epoch="restored-epoch-0001"))
    await hub.accept_store_database(hub_db, "S1")
    async with hub_db.read() as s:
        assert (await s.get(HubStore, "S1")).acked_up == 0
    async with live_hub.link(token, "kirana-store/2") as link:
        await link.send(json.dumps({
            "type": "hello", "proto": 1, "proto_max": p.PROTO, "store_id": "S1",
            "epoch": "restored-epoch-0001", "applied_down": 0, "outbox_first": 3}))
        welcome = await until(link, "welcome")
        assert welcome["acked_up"] == 2  # below its oldest row, not 0 (1-2 are gone)
        await link.send(p.encode(p.Events(events=[
            *[moved(seq) for seq in range(3, 6)],  # from the backup: applied before
            *[moved(seq, id_=f"S1-after-{seq}") for seq in range(6, 9)]])).decode())
        ack = await until(link, "ack")
    assert ack["upto"] == 8
    assert await rice(hub_db) == 10  # 7 before, the three new ones once


async def test_outbox_first_needs_protocol_2_and_a_sane_value():
    base = {"type": "hello", "proto": 1, "store_id": "S1", "epoch": REAL, "applied_down": 0}
    with pytest.raises(p.ProtocolError):  # a v1 hello has no such field
        p.negotiate(p.decode(json.dumps({**base, "outbox_first": 3})))
    for bad in (0, -1, 2**63, "3", 1.5):
        with pytest.raises(p.ProtocolError):
            p.decode(json.dumps({**base, "proto_max": 2, "outbox_first": bad}))


async def test_a_store_lacking_pruned_hub_events_is_refused(live_hub, hub_db):
    token = await add_s1(hub_db)
    await queue(hub_db, 3)
    async with live_hub.link(token, "kirana-store/1.4.0") as link:
        await link.send(hello(REAL))
        await until(link, "welcome")
        frame = await until(link, "events")
        upto = frame["events"][-1]["seq"]
        await link.send(json.dumps({"type": "ack", "upto": upto}))
        await asyncio.sleep(0.3)
    async with hub_db.write() as s:
        await s.execute(update(HubOutbox).values(at=utcnow() - timedelta(days=30)))
    for _ in range(50):
        async with hub_db.read() as s:
            if (await s.get(HubStore, "S1")).down_acked == upto:
                break
        await asyncio.sleep(0.1)
    assert (await pruning.prune(hub_db, 14)).outbox == upto
    await asyncio.sleep(0.3)
    await hub.accept_store_database(hub_db, "S1")
    # A backup from before any of them: the hub cannot replay what it pruned. Refused
    # with a reason, not an endless resend loop.
    async with live_hub.link(token, "kirana-store/1.4.0") as restored:
        await restored.send(hello(REAL, applied_down=0))
        code, got = await closed_with(restored)
    assert code == 4409
    assert "no longer keeps" in got[-1]["message"]
    async with live_hub.link(token, "kirana-store/1.4.0") as current:  # a newer one is fine
        await current.send(hello(REAL, applied_down=upto))
        assert (await until(current, "welcome"))["type"] == "welcome"


async def test_a_real_store_keeps_syncing_through_pruning(live_hub, hub_db, tmp_path,
                                                          migrated_template):
    """A real store client and the live hub: events flow, both ends prune, the link
    reconnects, nothing is applied twice and new events still arrive."""
    import shutil

    from app.core.db import Database
    from app.sync import pruning as store_pruning
    from app.sync.client import SyncClient
    from app.sync.models import OutboxEvent, SyncState
    from app.sync.outbox import emit
    from tests.conftest import make_config

    token = await add_s1(hub_db)
    await queue(hub_db, 3)
    (tmp_path / "s1.token").write_text(token)
    cfg = make_config(tmp_path, **{'url = ""': f'url = "{live_hub.ws_url}"\n'
                                              'token_file = "s1.token"'})
    shutil.copy(migrated_template, cfg.database_path)
    store_db = Database(cfg.database_path)

    async def sell(n: int) -> None:
        async with store_db.write() as s:
            for _ in range(n):
                emit(s, "stock.moved", {"sku": "RICE", "delta": -1, "bin": "A-1",
                                        "reason": "sale"})

    async def hub_has(level: int) -> None:
        for _ in range(200):
            if await rice(hub_db) == level:
                return
            await asyncio.sleep(0.05)
        assert await rice(hub_db) == level

    client = SyncClient(store_db, cfg)
    try:
        await sell(30)
        await client.start()
        await hub_has(-30)
        async with hub_db.read() as s:
            down_seq = (await s.get(HubStore, "S1")).down_seq

        async def cursors() -> tuple[int, int, int]:
            async with store_db.read() as s:
                state = await s.get(SyncState, 1)
            assert state is not None
            async with hub_db.read() as s:
                acked = (await s.get(HubStore, "S1")).down_acked
            return state.acked_up, state.applied_down, acked

        for _ in range(200):  # both ends acknowledged everything
            if await cursors() == (30, down_seq, down_seq):
                break
            await asyncio.sleep(0.05)
        assert await cursors() == (30, down_seq, down_seq)
        later = utcnow() + timedelta(days=40)
        store_done = await store_pruning.prune(store_db, 14, now=later)
        hub_done = await pruning.prune(hub_db, 14, now=later)
        assert store_done == store_pruning.Pruned(outbox=29, inbox=down_seq)  # newest stays
        assert hub_done == pruning.Pruned(outbox=down_seq)
        await client.stop()  # a reconnect resends from the hub's cursor, nothing twice
        await sell(5)
        client = SyncClient(store_db, cfg)
        await client.start()
        await hub_has(-35)
        async with store_db.read() as s:
            seqs = list(await s.scalars(select(OutboxEvent.seq).order_by(OutboxEvent.seq)))
        assert seqs == list(range(30, 36))  # seqs go on from the kept newest row
        await asyncio.sleep(0.3)
        assert await rice(hub_db) == -35
        async with hub_db.read() as s:
            assert await s.scalar(select(func.count()).select_from(StoreEventRow)) == 35
    finally:
        await client.stop()
        await store_db.dispose()


@pytest.mark.parametrize("value", ["0", "-3", "3651", "1e9", "nan", "inf", '"14"', '"NaN"',
                                   "14.5", "true", "[]"])
def test_hostile_retention_values_are_refused(value):
    with pytest.raises(ConfigError, match=r"sync\.retention_days"):
        parse_hub_config(f"[sync]\nretention_days = {value}\n", source="hub.toml")
    assert parse_hub_config("[sync]\nretention_days = 30\n").sync.retention_days == 30
    assert parse_hub_config("").sync.retention_days == 14
