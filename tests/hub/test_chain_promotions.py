"""Chain promotions and coupons (issue #21), hub on SQLite and PostgreSQL, a store on
its own SQLite file: HQ's offer reaches every store once and in order, a replay or an
older version changes nothing, stores' uses book once and top up within the total,
ending reaches the stores, a store added later hears the running offers, and only HQ
may open the page (not a store token, a channel key or a non-HQ role)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from sqlalchemy import select, update

from app.core.models import User
from app.hub import catalog_log
from app.hub import promotions as chain
from app.hub import service as hub
from app.hub.models import HubCoupon, HubCouponGrant, HubOutbox, HubPromotion, HubStore
from app.hub.webhooks import add_channel
from app.promotions.models import CouponRow, PromotionRow
from app.promotions.service import FormError
from app.sync.models import SyncState
from app.sync.protocol import Event
from tests.conftest import csrf_of
from tests.hub.conftest import add_hub_user, sign_in
from tests.hub.test_catalog_events import deliver, edit

OFFER = {"kind": "bill_amount_off", "name": "HQ: Rs 50 off on Rs 500", "amount": "50",
         "min_bill": "500", "coupon": "hq50", "coupon_total": "5", "coupon_per_store": "2"}


@pytest.fixture
async def hq(hub_db) -> str:
    """An HQ manager's user id (the audit log names who made an offer)."""
    return (await add_hub_user(hub_db, "Omar", "manager")).id


async def stores(hub_db, *ids: str) -> None:
    for store_id in ids:
        await hub.add_store(hub_db, store_id, name=store_id, kind="counter", lat=12.9,
                            lon=77.6)


async def outbox(hub_db, store_id: str) -> list[tuple[str, dict]]:
    async with hub_db.read() as s:
        rows = list(await s.scalars(select(HubOutbox).where(HubOutbox.store_id == store_id)
                                    .order_by(HubOutbox.seq)))
    return [(r.kind, msgspec.json.decode(r.data)) for r in rows
            if r.kind in ("promotion.upserted", "coupon.upserted")]


async def offers(hub_db) -> list[dict]:
    """The chain offers on the shared catalogue log (issue #24): one entry each, its
    newest state, read by every store from its own cursor."""
    return [e.data for e in await catalog_log.read(hub_db)
            if e.kind == "promotion.upserted"]


async def grants(hub_db) -> dict[str, tuple[int, int]]:
    async with hub_db.read() as s:
        return {g.store_id: (g.granted, g.used) for g in await s.scalars(
            select(HubCouponGrant).order_by(HubCouponGrant.store_id))}


async def report(hub_db, store_id: str, kind: str, use_id: str, seq: int = 1) -> None:
    """A store's frame with one coupon event, applied as the link applies it."""
    async with hub_db.write() as s:
        store = await s.get(HubStore, store_id)
        await hub.apply_store_events(s, store, (Event(
            seq=seq, id=f"{store_id}-{use_id}-{kind}", kind=kind, at="2026-12-01T10:00:00+05:30",
            data={"use_id": use_id, "code": "HQ50", "sale": f"{store_id}-000001",
                  "at": "2026-12-01T10:00:00+05:30"}),), None)


async def test_an_offer_reaches_every_store_once_with_its_share_of_the_coupon(hub_db, db, cfg, hq):
    await stores(hub_db, "S1", "S2", "S3")
    made = await chain.create(hub_db, OFFER, hq)
    assert made.stores == ("S1", "S2", "S3")
    # total 5, 2 a store, 3 stores: an even share first (1 each), 2 kept for top-ups
    assert await grants(hub_db) == {"S1": (1, 0), "S2": (1, 0), "S3": (1, 0)}
    sent = await outbox(hub_db, "S1")  # its own stream: its allowance
    assert [k for k, _ in sent] == ["coupon.upserted"] and sent[0][1]["allowance"] == 1
    [offer] = await offers(hub_db)  # the offer: once on the log for all three stores
    assert offer["coupon"] == "HQ50" and offer["id"] == made.promotion.id
    assert await outbox(hub_db, "S3") == [("coupon.upserted", sent[0][1])]

    await deliver(hub_db, db, cfg, "S1")
    async with db.read() as s:
        row = (await s.scalars(select(PromotionRow))).one()
        coupon = await s.get(CouponRow, "HQ50")
    assert (row.id, row.source, row.hub_version, row.active) == (made.promotion.id, "hub", 1,
                                                                 True)
    assert (coupon.source, coupon.allowance, coupon.total_limit) == ("hub", 1, 5)

    # The whole stream again (a restored store, a replayed frame): nothing changes.
    async with db.write() as s:
        (await s.get(SyncState, 1)).applied_down = 0
    await deliver(hub_db, db, cfg, "S1")
    async with db.read() as s:
        assert len((await s.scalars(select(PromotionRow))).all()) == 1

    # Ended at the hub: a newer version, applied; the old event replayed after it is not.
    assert await chain.end(hub_db, made.promotion.id, hq)
    assert not await chain.end(hub_db, made.promotion.id, hq)
    await deliver(hub_db, db, cfg, "S1")
    async with db.read() as s:
        row = (await s.scalars(select(PromotionRow))).one()
        coupon = await s.get(CouponRow, "HQ50")
    assert (row.active, row.hub_version, coupon.active) == (False, 2, False)
    async with db.write() as s:
        (await s.get(SyncState, 1)).applied_down = 0
    await deliver(hub_db, db, cfg, "S1")  # versions 1 then 2 again: still ended
    async with db.read() as s:
        assert not (await s.scalars(select(PromotionRow))).one().active


async def test_uses_book_once_top_up_within_the_total_and_releases_free_a_use(hub_db, hq):
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, {**OFFER, "coupon_total": "6"}, hq)
    assert await grants(hub_db) == {"S1": (2, 0), "S2": (2, 0)}
    await report(hub_db, "S1", "coupon.used", "u1")
    assert await grants(hub_db) == {"S1": (3, 1), "S2": (2, 0)}  # used 1 + a fresh 2
    last = (await outbox(hub_db, "S1"))[-1]
    assert last[0] == "coupon.upserted" and last[1]["allowance"] == 3
    assert last[1]["version"] == 2
    await report(hub_db, "S1", "coupon.used", "u1", seq=2)  # the same use again
    assert await grants(hub_db) == {"S1": (3, 1), "S2": (2, 0)}
    for n in range(2, 4):
        await report(hub_db, "S1", "coupon.used", f"u{n}", seq=n + 1)
    # S1 used 3; S2 holds 2; total 6: S1 may have 4 at most
    assert await grants(hub_db) == {"S1": (4, 3), "S2": (2, 0)}
    total = sum(g for g, _ in (await grants(hub_db)).values())
    assert total <= 6
    await report(hub_db, "S1", "coupon.released", "u2", seq=9)
    await report(hub_db, "S1", "coupon.released", "u2", seq=10)  # once only
    assert await grants(hub_db) == {"S1": (4, 2), "S2": (2, 0)}
    # Another store cannot release S1's use.
    await report(hub_db, "S2", "coupon.released", "u1", seq=11)
    assert (await grants(hub_db))["S2"] == (2, 0)


async def test_no_store_is_left_with_none_of_a_coupon_that_others_hold(hub_db, hq):
    """Issue #21 review, item 2: 3 stores, total 4, 2 a store gave S1 2, S2 2, S3 0
    for ever (only a store's own use topped it up, and S3 had none to use). Now each
    gets an even share and the rest goes to whichever store runs out first."""
    await stores(hub_db, "S1", "S2", "S3")
    await chain.create(hub_db, {**OFFER, "coupon_total": "4"}, hq)
    assert await grants(hub_db) == {"S1": (1, 0), "S2": (1, 0), "S3": (1, 0)}
    await report(hub_db, "S3", "coupon.used", "u1")
    assert await grants(hub_db) == {"S1": (1, 0), "S2": (1, 0), "S3": (2, 1)}
    assert (await outbox(hub_db, "S3"))[-1][1]["allowance"] == 2
    await report(hub_db, "S1", "coupon.used", "u2")  # nothing left: no one is topped up
    assert await grants(hub_db) == {"S1": (1, 1), "S2": (1, 0), "S3": (2, 1)}
    assert [k for k, _ in await outbox(hub_db, "S1")] == ["coupon.upserted"]


async def test_a_report_tops_up_a_store_that_did_not_report(hub_db, hq):
    """Any store's report tops up every store under its allowance, not only the one
    reporting: S1 spent its share, S2 reports a use, and S1 (the emptiest) gets the use
    the even first share kept back."""
    await stores(hub_db, "S1", "S2")
    await chain.create(hub_db, {**OFFER, "coupon_total": "5", "coupon_per_store": "2"}, hq)
    assert await grants(hub_db) == {"S1": (2, 0), "S2": (2, 0)}  # 1 kept back
    async with hub_db.write() as s:  # S1 spent its 2 (reported), the spare went elsewhere
        await s.execute(update(HubCouponGrant).where(HubCouponGrant.store_id == "S1")
                        .values(used=2))
    await report(hub_db, "S2", "coupon.used", "u1")
    got = await grants(hub_db)
    assert got["S1"] == (3, 2) and got["S2"] == (2, 1)  # the emptiest store first
    assert (await outbox(hub_db, "S1"))[-1][1]["allowance"] == 3
    assert sum(g for g, _ in got.values()) <= 5


async def test_unknown_or_malformed_coupon_reports_do_not_stop_the_link(hub_db):
    await stores(hub_db, "S1")
    async with hub_db.write() as s:
        store = await s.get(HubStore, "S1")
        await hub.apply_store_events(s, store, (
            Event(seq=1, id="x1", kind="coupon.used", at="2026-12-01T10:00:00Z",
                  data={"use_id": "u1", "code": "NOSUCH"}),
            Event(seq=2, id="x2", kind="coupon.used", at="2026-12-01T10:00:00Z",
                  data={"use_id": 7, "code": "\x00" * 10}),
            Event(seq=3, id="x3", kind="coupon.used", at="2026-12-01T10:00:00Z",
                  data={"code": "A" * 100_000})), None)
    assert await grants(hub_db) == {}


async def test_a_store_added_later_hears_the_running_offers(hub_db, hq):
    await stores(hub_db, "S1")
    made = await chain.create(hub_db, {**OFFER, "coupon_total": "3"}, hq)
    await stores(hub_db, "S2")
    kinds = [(k, d.get("allowance")) for k, d in await outbox(hub_db, "S2")]
    assert kinds == [("coupon.upserted", 1)]  # 3 - 2 held
    # The offer itself it reads from the log, from 0 like any new store.
    assert [o["id"] for o in await offers(hub_db)] == [made.promotion.id]


@pytest.mark.parametrize("form, error", [
    ({"coupon": "=1+1"}, "a coupon code is 2 to 40"),
    ({"name": "A\x00B"}, "can be typed"),
    ({"name": "X" * 100_000}, "can be typed"),
    ({"coupon_per_store": "0"}, "whole number from 1"),
    ({"coupon_per_store": "1e9"}, "whole number"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "inf"}, "amount"),
    ({"min_bill": str(2**63)}, "minimum bill"),
])
async def test_hostile_forms_save_nothing(hub_db, form, error, hq):
    await stores(hub_db, "S1")
    with pytest.raises((FormError, ValueError), match=error):
        await chain.create(hub_db, {**OFFER, **form}, hq)
    async with hub_db.read() as s:
        assert (await s.scalars(select(HubPromotion))).all() == []
        assert (await s.scalars(select(HubCoupon))).all() == []
    assert await outbox(hub_db, "S1") == []


async def test_a_coupon_code_is_taken_once(hub_db, hq):
    await chain.create(hub_db, OFFER, hq)
    with pytest.raises(FormError, match="taken"):
        await chain.create(hub_db, {**OFFER, "coupon": " HQ 50"}, hq)


async def test_hq_page_creates_previews_and_ends(hub_client, hub_db):
    await stores(hub_db, "S1")
    await hub.save_product(hub_db, edit("RICE-5KG", price=60000))
    await sign_in(hub_client)
    page = await hub_client.get("/hub/promotions")
    assert page.status_code == 200 and "Chain promotions" in page.text
    saved = await hub_client.post("/hub/promotions", data={
        **OFFER, "_csrf_token": csrf_of(hub_client)})
    assert saved.status_code == 200 and "sent to 1 store" in saved.text, saved.text[:500]
    assert "coupon HQ50" in saved.text
    preview = await hub_client.post("/hub/promotions/preview", data={
        "basket": "RICE-5KG 1", "coupons": "hq50", "_csrf_token": csrf_of(hub_client)})
    assert preview.status_code == 200 and "Offers take off ₹50.00" in preview.text
    without = await hub_client.post("/hub/promotions/preview", data={
        "basket": "RICE-5KG 1", "_csrf_token": csrf_of(hub_client)})
    assert "Offers take off ₹0.00" in without.text  # the coupon was not shown
    bad = await hub_client.post("/hub/promotions", data={
        **OFFER, "coupon": "=1+1", "_csrf_token": csrf_of(hub_client)})
    assert bad.status_code == 400 and "a coupon code is 2 to 40" in bad.text
    async with hub_db.read() as s:
        promo = (await s.scalars(select(HubPromotion))).one()
    ended = await hub_client.post(f"/hub/promotions/{promo.id}/end",
                                  data={"_csrf_token": csrf_of(hub_client)})
    assert ended.status_code == 200 and "ended at every store" in ended.text


async def test_only_hq_opens_the_page(hub_client, hub_db):
    made = await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.9, lon=77.6)
    key, _secret = await add_channel(hub_db, "webshop")
    for token in (made.token, key):
        for method, url in (("get", "/hub/promotions"), ("post", "/hub/promotions"),
                            ("post", "/hub/promotions/preview")):
            got = await getattr(hub_client, method)(
                url, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False,
                **({"data": OFFER} if method == "post" else {}))
            assert got.status_code in (302, 303, 401, 403), (url, got.status_code)
    async with hub_db.read() as s:
        assert (await s.scalars(select(HubPromotion))).all() == []
    await sign_in(hub_client, "Omar")
    async with hub_db.write() as s:
        await s.execute(update(User).where(User.name == "Omar").values(role="cashier"))
    assert (await hub_client.get("/hub/promotions")).status_code == 403


async def test_a_resent_use_frame_books_once_through_the_link(hub_db, hub_cfg, hq):
    """The link's own path (apply_frame: the cursor first, then the use id): the same
    frame twice, and the same use under a new seq, book one use and one top-up."""
    from app.sync import protocol as p
    from app.sync.hub_link import apply_frame

    await stores(hub_db, "S1")
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(epoch="a" * 16))
    await chain.create(hub_db, {**OFFER, "coupon_total": "10"}, hq)
    used = p.Event(seq=1, id="S1-e1", kind="coupon.used", at="2026-12-01T10:00:00+05:30",
                   data={"use_id": "u1", "code": "HQ50", "sale": "S1-000001",
                         "at": "2026-12-01T10:00:00+05:30"})
    for _ in range(2):
        reply, _wake = await apply_frame(hub_db, hub_cfg, "S1", "a" * 16,
                                         p.Events(events=[used]))
        assert reply == p.Ack(upto=1)
    again = p.Event(seq=2, id="S1-e2", kind="coupon.used", at=used.at, data=used.data)
    await apply_frame(hub_db, hub_cfg, "S1", "a" * 16, p.Events(events=[again]))
    assert await grants(hub_db) == {"S1": (3, 1)}
    assert [d["allowance"] for k, d in await outbox(hub_db, "S1")
            if k == "coupon.upserted"] == [2, 3]


# ---- PostgreSQL: registration racing coupon activity (issue #21 review, item 3) -------


def _postgresql_only(hub_db) -> None:
    if hub_db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there are no row locks to race")


async def test_a_store_registered_during_a_coupon_report_never_overshoots_the_total(
        hub_db, hq, monkeypatch):
    """S1's report tops it up (3 of 3) and is not committed yet when S2 registers: S2's
    share must be read after it (it read 2 held and granted 1: 4 of 3)."""
    _postgresql_only(hub_db)
    await stores(hub_db, "S1")
    await chain.create(hub_db, {**OFFER, "coupon_total": "3", "coupon_per_store": "2"}, hq)
    assert await grants(hub_db) == {"S1": (2, 0)}
    held, release = asyncio.Event(), asyncio.Event()
    real = chain.enqueue

    async def enqueue_then_wait(s, store_ids, events):
        await real(s, store_ids, events)
        held.set()
        await release.wait()

    monkeypatch.setattr(chain, "enqueue", enqueue_then_wait)

    async def s1_reports() -> None:  # the coupon's row and S1's grant change, uncommitted
        async with hub_db.write() as s:
            await chain.apply_store_event(s, "S1", Event(
                seq=1, id="e1", kind="coupon.used", at="2026-12-01T10:00:00+05:30",
                data={"use_id": "u1", "code": "HQ50", "sale": "S1-000001"}))

    report_task = asyncio.create_task(s1_reports())
    await asyncio.wait_for(held.wait(), 10)
    monkeypatch.setattr(chain, "enqueue", real)
    adding = asyncio.create_task(stores(hub_db, "S2"))
    await asyncio.sleep(0.5)
    try:
        assert not adding.done()  # waits for the report's locks
    finally:
        release.set()
        await asyncio.wait_for(report_task, 10)
    await asyncio.wait_for(adding, 10)
    got = await grants(hub_db)
    assert got == {"S1": (3, 1), "S2": (0, 0)}
    assert sum(g for g, _ in got.values()) <= 3


async def test_a_store_registered_while_an_offer_is_made_hears_it(hub_db, hq, monkeypatch):
    """HQ's create is between choosing its stores and committing when S2 registers:
    neither saw the other, and S2 never heard of the offer."""
    _postgresql_only(hub_db)
    await stores(hub_db, "S1")
    held, release = asyncio.Event(), asyncio.Event()
    real = chain.active_store_ids

    async def stores_then_wait(s):
        found = await real(s)
        held.set()
        await release.wait()
        return found

    monkeypatch.setattr(chain, "active_store_ids", stores_then_wait)
    making = asyncio.create_task(chain.create(hub_db, {**OFFER, "coupon_total": "4"}, hq))
    await asyncio.wait_for(held.wait(), 10)
    monkeypatch.setattr(chain, "active_store_ids", real)
    adding = asyncio.create_task(stores(hub_db, "S2"))
    await asyncio.sleep(0.5)
    try:
        assert not adding.done()  # waits for the offer being made
    finally:
        release.set()
        made = await asyncio.wait_for(making, 10)
    await asyncio.wait_for(adding, 10)
    sent = await outbox(hub_db, "S2")
    assert [(k, d.get("code")) for k, d in sent] == [("coupon.upserted", "HQ50")]
    assert [o["id"] for o in await offers(hub_db)] == [made.promotion.id]
    assert sum(g for g, _ in (await grants(hub_db)).values()) <= 4


async def test_an_older_store_gets_the_offer_in_its_own_stream_after_its_coupon(hub_db, hq):
    """A store on protocol 2 cannot read the catalogue log: the offer is copied into its
    stream in the offer's transaction, after its coupon's allowance (the order it had
    before the log); a v3 store beside it gets only its allowance in its stream."""
    await stores(hub_db, "S1", "S2")
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(sync_proto=2))
        await s.execute(update(HubStore).where(HubStore.id == "S2").values(sync_proto=3))
    made = await chain.create(hub_db, OFFER, hq)
    assert [k for k, _ in await outbox(hub_db, "S1")] == ["coupon.upserted",
                                                          "promotion.upserted"]
    assert [k for k, _ in await outbox(hub_db, "S2")] == ["coupon.upserted"]
    await chain.end(hub_db, made.promotion.id, hq)
    ended = await outbox(hub_db, "S1")
    assert [k for k, _ in ended[2:]] == ["coupon.upserted", "promotion.upserted"]
    assert ended[-1][1]["active"] is False and ended[-1][1]["version"] == 2
