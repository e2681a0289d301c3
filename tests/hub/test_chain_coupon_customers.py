"""A chain coupon's per-customer limit across the chain (issue #21), hub on SQLite and
PostgreSQL, a store on its own SQLite file: the store sends the customer's key (never the
number), the hub counts uses per (coupon, key) once per use id, books a use past the
limit as an overshoot shown on HQ's page, answers a till's look-up to the asking store
only, forgets the keys of a customer erased on request, and refuses a frame carrying a
forged or oversized key."""

from __future__ import annotations

import json

import msgspec
import pytest
from sqlalchemy import func, select

from app.core import coupons as rules
from app.core.clock import utcnow
from app.hub import promotions as chain
from app.hub import service as hub
from app.hub.models import (
    HubCouponCustomer,
    HubCouponUse,
    HubOutbox,
    HubStore,
    StoreEventRow,
)
from app.promotions import coupons as store_coupons
from app.sync import protocol as p
from app.sync.models import OutboxEvent
from app.sync.protocol import Event
from tests.hub.conftest import add_hub_user
from tests.hub.test_catalog_events import deliver

PHONE, OTHER = "9876543210", "9123456789"
OFFER = {"kind": "bill_amount_off", "name": "HQ: Rs 50 off on Rs 500", "amount": "50",
         "min_bill": "500", "coupon": "hq50", "coupon_total": "20",
         "coupon_per_customer": "1", "coupon_per_store": "5"}
KEY = rules.customer_key("HQ50", PHONE)


@pytest.fixture
async def hq(hub_db) -> str:
    return (await add_hub_user(hub_db, "Omar", "manager")).id


@pytest.fixture(autouse=True)
def _no_answers_left_over():
    store_coupons.CHAIN.forget()
    yield
    store_coupons.CHAIN.forget()


async def stores(hub_db, *ids: str) -> None:
    for store_id in ids:
        await hub.add_store(hub_db, store_id, name=store_id, kind="counter", lat=12.9,
                            lon=77.6)


_seqs: dict[str, int] = {}


async def send(hub_db, store_id: str, kind: str, data: dict, event_id: str | None = None
               ) -> None:
    """One store event in a frame of its own, applied as the link applies it."""
    seq = _seqs[store_id] = _seqs.get(store_id, 0) + 1
    async with hub_db.write() as s:
        store = await s.get(HubStore, store_id)
        await hub.apply_store_events(s, store, (Event(
            seq=seq, id=event_id or f"{store_id}-{kind}-{seq}-{id(data)}", kind=kind,
            at="2026-12-01T10:00:00+05:30", data=data),), None)


def used(use_id: str, customer: str | None = KEY) -> dict:
    data = {"use_id": use_id, "code": "HQ50", "sale": "S-000001",
            "at": "2026-12-01T10:00:00+05:30"}
    if customer is not None:
        data["customer"] = customer
    return data


async def counted(hub_db) -> dict[str, tuple[int, int]]:
    async with hub_db.read() as s:
        return {c.customer: (c.used, c.overshoots)
                for c in await s.scalars(select(HubCouponCustomer))}


async def answers(hub_db, store_id: str) -> list[dict]:
    async with hub_db.read() as s:
        rows = await s.scalars(select(HubOutbox).where(
            HubOutbox.store_id == store_id, HubOutbox.kind == "coupon.customer")
            .order_by(HubOutbox.seq))
        return [msgspec.json.decode(r.data) for r in rows]


async def test_uses_count_per_customer_across_stores_once_and_past_the_limit_as_overshoot(
        hub_db, hq):
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    await send(hub_db, "S1", "coupon.used", used("u1"), event_id="e-u1")
    await send(hub_db, "S1", "coupon.used", used("u1"), event_id="e-u1")  # a resent frame
    await send(hub_db, "S1", "coupon.used", used("u1"))  # the same use, a new event id
    assert await counted(hub_db) == {KEY: (1, 0)}
    # The same customer at another store (offline, or racing): booked, as an overshoot.
    await send(hub_db, "S2", "coupon.used", used("u2"))
    assert await counted(hub_db) == {KEY: (2, 1)}
    async with hub_db.read() as s:
        over = {u.id: (u.customer, u.over_limit) for u in await s.scalars(
            select(HubCouponUse))}
    assert over == {"u1": (KEY, False), "u2": (KEY, True)}
    listed = [x for x in await chain.listing(hub_db, utcnow()) if x.coupon]
    assert listed[0].overshoots == 1
    # Another customer has their own count; a use without a key (an older store) counts
    # against the total only.
    await send(hub_db, "S2", "coupon.used", used("u3", rules.customer_key("HQ50", OTHER)))
    await send(hub_db, "S2", "coupon.used", used("u4", None))
    assert (await counted(hub_db))[KEY] == (2, 1)
    assert len(await counted(hub_db)) == 2
    # A release gives the customer's use back (by the key booked with the use), once.
    await send(hub_db, "S1", "coupon.released", {"use_id": "u1", "code": "HQ50",
                                                 "customer": KEY})
    await send(hub_db, "S1", "coupon.released", {"use_id": "u1", "code": "HQ50"})
    assert (await counted(hub_db))[KEY] == (1, 1)


async def test_a_lookup_is_answered_to_the_asking_store_only(hub_db, hq):
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    await send(hub_db, "S2", "coupon.used", used("u1"))
    await send(hub_db, "S1", "coupon.lookup", {"code": "HQ50", "customer": KEY})
    other = rules.customer_key("HQ50", OTHER)
    await send(hub_db, "S1", "coupon.lookup", {"code": "hq 50", "customer": other})
    assert await answers(hub_db, "S1") == [
        {"code": "HQ50", "customer": KEY, "used": 1, "per_customer_limit": 1},
        {"code": "HQ50", "customer": other, "used": 0, "per_customer_limit": 1}]
    assert await answers(hub_db, "S2") == []
    # Unknown codes and missing keys are logged and skipped, never a stuck link.
    await send(hub_db, "S1", "coupon.lookup", {"code": "NOSUCH", "customer": KEY})
    await send(hub_db, "S1", "coupon.lookup", {"code": "HQ50"})
    assert len(await answers(hub_db, "S1")) == 2


@pytest.mark.parametrize("key", [
    PHONE,  # the number itself
    KEY.upper(),  # not the form a store makes
    KEY[:-1] + "g",
    KEY + "0",
    "a" * 100_000,  # oversized
    7,
    None,
])
def test_a_forged_or_oversized_key_is_refused_by_frame_validation(key):
    for kind in ("coupon.used", "coupon.released", "coupon.lookup"):
        frame = p.Events(events=[p.Event(seq=1, id="e1", kind=kind, at="2026-12-01T10:00Z",
                                         data={**used("u1"), "customer": key})])
        with pytest.raises(p.ProtocolError) as refused:
            p.decode(p.encode(frame), expect_kinds=p.STORE_TO_HUB)
        assert refused.value.code == p.BAD_MESSAGE
    fine = p.Events(events=[p.Event(seq=1, id="e1", kind="coupon.used",
                                    at="2026-12-01T10:00Z", data=used("u1"))])
    assert p.decode(p.encode(fine), expect_kinds=p.STORE_TO_HUB) == fine
    old = p.Events(events=[p.Event(seq=1, id="e1", kind="coupon.used",
                                   at="2026-12-01T10:00Z", data=used("u1", None))])
    assert p.decode(p.encode(old), expect_kinds=p.STORE_TO_HUB) == old  # an older store


async def test_an_erased_customer_leaves_no_coupon_key_at_the_hub(hub_db, hq):
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, OFFER, hq)
    await send(hub_db, "S1", "loyalty.joined", {"phone": PHONE, "card": None,
                                                "consent_at": "2026-12-01T09:00:00+05:30"})
    await send(hub_db, "S1", "coupon.used", used("u1"))
    await send(hub_db, "S1", "coupon.lookup", {"code": "HQ50", "customer": KEY})
    other = rules.customer_key("HQ50", OTHER)
    await send(hub_db, "S1", "coupon.used", used("u2", other))
    # A store that never signed the customer up cannot erase them: the keys stay.
    await send(hub_db, "S2", "loyalty.erased", {"phone": PHONE})
    assert KEY in await counted(hub_db)
    await send(hub_db, "S1", "loyalty.erased", {"phone": PHONE})
    assert set(await counted(hub_db)) == {other}
    async with hub_db.read() as s:
        keys = {u.id: u.customer for u in await s.scalars(select(HubCouponUse))}
        copies = list(await s.scalars(select(StoreEventRow.data)))
        sent = list(await s.scalars(select(HubOutbox.data)))
    assert keys == {"u1": None, "u2": other}  # the use stays (the total), anonymous
    assert not [c for c in copies + sent if KEY in c]
    assert [c for c in copies if other in c]  # another customer's are kept


async def test_a_store_sends_the_key_never_the_number_and_hears_the_answer(
        hub_db, hq, db, cfg):
    """The store's half on its own SQLite file: the chain coupon delivered, a use
    recorded for a customer (the sale's own path), sent to the hub with the key; the
    hub's answer to a look-up reaches the store's till."""
    await stores(hub_db, "S1")
    await chain.create(hub_db, OFFER, hq)
    await deliver(hub_db, db, cfg, "S1")
    async with db.write() as s:
        await store_coupons.record_uses(s, cfg, "sale-1", "S1-000001", PHONE, ["HQ50"],
                                        utcnow())
        s.add(OutboxEvent(id="lookup-1", kind="coupon.lookup", at=utcnow(),
                          data=json.dumps({"code": "HQ50", "customer": KEY})))
    async with db.read() as s:
        sent = [(e.kind, json.loads(e.data)) for e in await s.scalars(
            select(OutboxEvent).order_by(OutboxEvent.seq))]
    assert PHONE not in json.dumps(sent)
    assert sent[0][1]["customer"] == KEY
    for kind, data in sent:
        await send(hub_db, "S1", kind, data)
    assert await counted(hub_db) == {KEY: (1, 0)}
    await deliver(hub_db, db, cfg, "S1")
    heard = store_coupons.CHAIN.used("HQ50", KEY)
    assert heard is not None and heard[0] == 1
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubCouponUse)) == 1
