# ruff: noqa: F811  (the hq fixture imported from test_chain_coupon_customers)
"""Chain coupon keys, review of issue #21 (hub on SQLite and PostgreSQL, a store on its
own SQLite file): an erasure never leaves a store a hub frame it refuses (an undelivered
answer keeps a well-formed key; the store skips an answer it cannot read); a till's
look-up locks no other store's row; the erasure scans the stores' event copies once,
not once per coupon; no part of a customer's key is logged."""

from __future__ import annotations

import asyncio
import logging

import msgspec
import pytest
from sqlalchemy import event, select, update

from app.core import coupons as rules
from app.core.clock import utcnow
from app.hub import promotions as chain
from app.hub.models import HubOutbox, HubStore, StoreEventRow
from app.promotions import coupons as store_coupons
from app.sync import protocol as p
from app.sync.hub_link import apply_frame
from app.sync.store_apply import apply_hub_event
from tests.hub.test_chain_coupon_customers import (
    KEY,
    OFFER,
    PHONE,
    answers,
    counted,
    hq,  # noqa: F401  (fixture)
    send,
    stores,
    used,
)

EPOCH = "c" * 16


@pytest.fixture(autouse=True)
def _no_answers_left_over():
    store_coupons.CHAIN.forget()
    yield
    store_coupons.CHAIN.forget()


async def frame_for(hub_db, store_id: str) -> p.Events:
    """The store's pending hub events as the link sends them."""
    async with hub_db.read() as s:
        rows = list(await s.scalars(select(HubOutbox).where(HubOutbox.store_id == store_id)
                                    .order_by(HubOutbox.seq)))
    return p.Events(events=[p.Event(seq=r.seq, id=r.id, kind=r.kind, at=r.at.isoformat(),
                                    data=msgspec.json.decode(r.data)) for r in rows])


async def test_an_erasure_leaves_an_undelivered_answer_a_frame_the_store_reads(
        hub_db, hq, db, cfg):
    """S1 asks about a customer, the link drops before the answer goes out; S2 (never a
    member's store: the number is no loyalty customer) erases the number. S1's pending
    frame still decodes on the store's side and applies: the link is not stuck."""
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    await send(hub_db, "S1", "coupon.used", used("u1"))
    await send(hub_db, "S1", "coupon.lookup", {"code": "HQ50", "customer": KEY})
    await send(hub_db, "S2", "loyalty.erased", {"phone": PHONE})
    assert await counted(hub_db) == {}
    frame = await frame_for(hub_db, "S1")
    assert "coupon.customer" in [e.kind for e in frame.events]
    raw = p.encode(frame)
    assert KEY.encode() not in raw  # the key left even the undelivered answer
    decoded = p.decode(raw, expect_kinds=p.HUB_TO_STORE)  # no 4400
    async with db.write() as s:
        for e in decoded.events:
            await apply_hub_event(s, cfg, e)
    assert store_coupons.CHAIN.used("HQ50", KEY) is None


async def test_the_store_skips_an_answer_it_cannot_read(db, cfg, caplog):
    """An unreadable `coupon.customer` (an older hub wrote 'erased' into it) is advice
    lost, not a refused frame: logged and skipped, the frame's other events apply."""
    caplog.set_level(logging.WARNING, logger="kirana")
    bad = p.Event(seq=1, id="h1", kind="coupon.customer", at=utcnow().isoformat(),
                  data={"code": "HQ50", "customer": "erased", "used": 1,
                        "per_customer_limit": 1})
    good = p.Event(seq=2, id="h2", kind="coupon.customer", at=utcnow().isoformat(),
                   data={"code": "HQ50", "customer": KEY, "used": 1,
                         "per_customer_limit": 1})
    decoded = p.decode(p.encode(p.Events(events=[bad, good])), expect_kinds=p.HUB_TO_STORE)
    async with db.write() as s:
        for e in decoded.events:
            await apply_hub_event(s, cfg, e)
    assert "could not be read" in caplog.text
    heard = store_coupons.CHAIN.used("HQ50", KEY)
    assert heard is not None and heard[0] == 1


async def test_a_lookup_waits_for_no_other_stores_row(hub_db, hub_cfg, hq):
    """A till's question holds only its own store's row: a transaction holding S2's row
    (an intake, a top-up) does not hold S1's look-up up; the answer goes to S1 only."""
    if hub_db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there are no row locks to look at")
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(epoch=EPOCH))
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_s2() -> None:
        async with hub_db.write() as s:
            await s.execute(select(HubStore.id).where(HubStore.id == "S2")
                            .with_for_update())
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_s2())
    await held.wait()
    try:
        ask = p.Event(seq=1, id="S1-ask-1", kind="coupon.lookup", at=utcnow().isoformat(),
                      data={"code": "HQ50", "customer": KEY})
        reply, _wake = await asyncio.wait_for(
            apply_frame(hub_db, hub_cfg, "S1", EPOCH, p.Events(events=[ask])), 5)
        assert reply == p.Ack(upto=1)
    finally:
        release.set()
        await holder
    assert await answers(hub_db, "S1") == [
        {"code": "HQ50", "customer": KEY, "used": 0, "per_customer_limit": 1}]
    assert await answers(hub_db, "S2") == []


async def test_an_erasure_scans_the_event_copies_once_for_every_coupon(hub_db, hq):
    await stores(hub_db, "S1")
    for n in range(4):
        await chain.create(hub_db, {**OFFER, "name": f"HQ offer {n}",
                                    "coupon": f"hq5{n}"}, hq)
    keys = {n: rules.customer_key(f"HQ5{n}", PHONE) for n in range(4)}
    for n, key in keys.items():
        await send(hub_db, "S1", "coupon.used", {**used(f"u{n}", key), "code": f"HQ5{n}"})
    assert set(await counted(hub_db)) == set(keys.values())
    engine = getattr(hub_db, "write_engine", None) or hub_db.engine
    engine = getattr(engine, "sync_engine", engine)  # PostgreSQL's is async
    scans: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "hub_store_events" in statement and "LIKE" in statement.upper():
            scans.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with hub_db.write() as s:
            assert await chain.forget_customer(s, PHONE) == 4
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(scans) == 1
    assert await counted(hub_db) == {}
    async with hub_db.read() as s:
        copies = " ".join(await s.scalars(select(StoreEventRow.data)))
    assert not [k for k in keys.values() if k in copies]


async def test_an_overshoot_is_logged_by_use_id_never_part_of_the_key(hub_db, hq, caplog):
    caplog.set_level(logging.WARNING, logger="kirana")
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    await send(hub_db, "S1", "coupon.used", used("u1"))
    await send(hub_db, "S2", "coupon.used", used("u2"))
    assert await counted(hub_db) == {KEY: (2, 1)}
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "u2" in said and "past its per-customer limit" in said
    assert KEY[:6] not in said
