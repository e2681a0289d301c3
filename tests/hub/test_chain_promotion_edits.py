"""HQ changes a running chain offer (issue #21), hub on SQLite and PostgreSQL, a store on
its own SQLite file: a newer version of the offer and of its coupon reaches every store,
a stale version arriving after it changes nothing, the kind and the coupon code stay, a
coupon's total cannot be cut below what the stores hold, a raised total tops them up,
the page's form comes prefilled, and its preview prices the unsaved change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.promotions import PromotionError
from app.hub import promotions as chain
from app.hub.models import HubPromotion
from app.promotions.models import CouponRow, PromotionRow
from app.promotions.service import FormError
from app.sync.models import SyncState
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.hub.test_catalog_events import deliver, edit
from tests.hub.test_chain_promotions import OFFER, grants, hq, offers, outbox, report, stores

__all__ = ["hq"]  # the fixture, imported


async def test_an_edit_reaches_the_store_and_a_stale_version_never_undoes_it(
        hub_db, db, cfg, hq):
    await stores(hub_db, "S1")
    made = await chain.create(hub_db, {**OFFER, "coupon_total": "10",
                                       "coupon_per_store": "2"}, hq)
    await deliver(hub_db, db, cfg, "S1")
    coupons_v1 = await outbox(hub_db, "S1")
    v1 = [*coupons_v1, *(("promotion.upserted", o) for o in await offers(hub_db))]
    changed = await chain.edit(hub_db, made.promotion.id, {
        **OFFER, "name": "HQ: Rs 75 off on Rs 600", "amount": "75", "min_bill": "600",
        "coupon_total": "12", "coupon_per_customer": "2", "coupon_per_store": "3"}, hq)
    assert changed.promotion.version == 2 and changed.stores == ("S1",)
    sent = (await outbox(hub_db, "S1"))[len(coupons_v1):]
    assert [k for k, _ in sent] == ["coupon.upserted"]
    [offer] = await offers(hub_db)  # the log keeps the offer's newest state only
    assert offer["amount_minor"] == 7500 and offer["version"] == 2
    assert (sent[0][1]["total_limit"], sent[0][1]["per_customer_limit"]) == (12, 2)
    assert sent[0][1]["allowance"] == 3  # per store raised to 3: topped up at once
    await deliver(hub_db, db, cfg, "S1")

    async def at_store() -> tuple:
        async with db.read() as s:
            p = await s.get(PromotionRow, made.promotion.id)
            c = await s.get(CouponRow, "HQ50")
        return (p.name, p.amount_minor, p.min_bill_minor, p.hub_version,
                c.total_limit, c.per_customer_limit, c.allowance)

    assert await at_store() == ("HQ: Rs 75 off on Rs 600", 7500, 60000, 2, 12, 2, 3)
    # Version 1 (both kinds) arrives again after version 2, as a late or resent frame.
    async with db.write() as s:
        seq = (await s.get(SyncState, 1)).applied_down
        for n, (kind, data) in enumerate(v1, start=1):
            await apply_hub_event(s, cfg, Event(seq=seq + n, id=f"stale-{n}", kind=kind,
                                                at="2026-12-01T10:00:00+00:00", data=data))
    assert await at_store() == ("HQ: Rs 75 off on Rs 600", 7500, 60000, 2, 12, 2, 3)
    # The whole stream and the log replayed from the start (a restored store): the
    # newest stands.
    async with db.write() as s:
        state = await s.get(SyncState, 1)
        state.applied_down = state.applied_catalog = 0
    await deliver(hub_db, db, cfg, "S1")
    assert await at_store() == ("HQ: Rs 75 off on Rs 600", 7500, 60000, 2, 12, 2, 3)


async def test_an_edit_keeps_the_kind_and_the_code_and_the_held_uses(hub_db, hq):
    await stores(hub_db, "S1", "S2")
    made = await chain.create(hub_db, {**OFFER, "coupon_total": "6",
                                       "coupon_per_store": "2"}, hq)
    await report(hub_db, "S1", "coupon.used", "u1")
    assert await grants(hub_db) == {"S1": (3, 1), "S2": (2, 0)}  # 5 held of 6
    pid = made.promotion.id
    with pytest.raises(FormError, match="kind stays"):
        await chain.edit(hub_db, pid, {**OFFER, "kind": "bill_percent_off",
                                       "percent": "5"}, hq)
    with pytest.raises(FormError, match="coupon code stays"):
        await chain.edit(hub_db, pid, {**OFFER, "coupon": "HQ75"}, hq)
    with pytest.raises(FormError, match="coupon code stays"):
        await chain.edit(hub_db, pid, {**OFFER, "coupon": ""}, hq)
    with pytest.raises(FormError, match="cannot be fewer than 5"):
        await chain.edit(hub_db, pid, {**OFFER, "coupon_total": "4"}, hq)
    with pytest.raises((FormError, PromotionError, ValueError)):
        await chain.edit(hub_db, pid, {**OFFER, "amount": "NaN"}, hq)
    async with hub_db.read() as s:
        assert (await s.get(HubPromotion, pid)).version == 1  # nothing changed
    # Cut to exactly what is held: allowed; nobody's grant shrinks.
    done = await chain.edit(hub_db, pid, {**OFFER, "coupon_total": "5"}, hq)
    assert done.promotion.version == 2
    assert await grants(hub_db) == {"S1": (3, 1), "S2": (2, 0)}
    # Raised: the stores under their allowance are topped up within the new total.
    await chain.edit(hub_db, pid, {**OFFER, "coupon_total": "9", "coupon_per_store": "3"},
                     hq)
    got = await grants(hub_db)
    assert got == {"S1": (4, 1), "S2": (3, 0)} and sum(g for g, _ in got.values()) <= 9
    # An ended offer cannot be changed.
    assert await chain.end(hub_db, pid, hq)
    with pytest.raises(FormError, match="not running"):
        await chain.edit(hub_db, pid, OFFER, hq)


async def test_the_form_comes_back_as_it_was_saved(hub_db, hq):
    made = await chain.create(hub_db, {
        "kind": "buy_x_get_y", "name": "Maggi b2g1", "skus": "MAGGI70, maggi140",
        "buy": "2", "get": "1", "starts": "2026-12-01", "ends": "2026-12-31",
        "days": "0,5", "since": "09:30", "until": "21:00", "exclusive": "1",
        "priority": "3"}, hq)
    promo, form = await chain.for_edit(hub_db, made.promotion.id)
    assert form["skus"] == "MAGGI140, MAGGI70" and form["percent"] == ""  # free
    assert (form["day0"], form["day5"], form.get("day1")) == ("1", "1", None)
    assert (form["since"], form["until"], form["exclusive"]) == ("09:30", "21:00", "1")
    # Saved unchanged: the same offer, one version newer.
    again = await chain.edit(hub_db, promo.id, {**form, "days": "0,5"}, hq)
    assert chain.promotion_payload(again.promotion) | {"version": 1, "updated_at": ""} == \
        chain.promotion_payload(promo) | {"version": 1, "updated_at": ""}


async def test_hq_page_changes_an_offer_and_previews_the_change(hub_client, hub_db):
    await stores(hub_db, "S1")
    await hub_save(hub_db)
    await sign_in(hub_client)
    await hub_client.post("/hub/promotions", data={**OFFER, "_csrf_token": csrf_of(hub_client)})
    async with hub_db.read() as s:
        promo = (await s.scalars(select(HubPromotion))).one()
    listed = await hub_client.get("/hub/promotions")
    assert f"/hub/promotions/{promo.id}/edit" in listed.text
    page = await hub_client.get(f"/hub/promotions/{promo.id}/edit")
    assert page.status_code == 200 and "Change: HQ: Rs 50 off on Rs 500" in page.text
    assert 'value="HQ50"' in page.text and 'value="500"' in page.text  # prefilled
    assert 'data-testid="new-percent_off"' not in page.text  # its kind's form alone
    # The preview prices the unsaved change (₹75), the saved offer is untouched.
    shown = await hub_client.post(f"/hub/promotions/{promo.id}/preview", data={
        **OFFER, "amount": "75", "basket": "RICE-5KG 1", "coupons": "hq50",
        "_csrf_token": csrf_of(hub_client)})
    assert shown.status_code == 200 and "Offers take off ₹75.00" in shown.text, shown.text
    assert 'value="75"' in shown.text  # the form keeps what was typed
    bad = await hub_client.post(f"/hub/promotions/{promo.id}/preview", data={
        **OFFER, "amount": "NaN", "basket": "RICE-5KG 1", "_csrf_token": csrf_of(hub_client)})
    assert bad.status_code == 400
    async with hub_db.read() as s:
        assert (await s.get(HubPromotion, promo.id)).amount_minor == 5000
    saved = await hub_client.post(f"/hub/promotions/{promo.id}/edit", data={
        **OFFER, "amount": "75", "_csrf_token": csrf_of(hub_client)})
    assert saved.status_code == 200 and "version 2" in saved.text, saved.text[:400]
    refused = await hub_client.post(f"/hub/promotions/{promo.id}/edit", data={
        **OFFER, "coupon_total": "0", "_csrf_token": csrf_of(hub_client)})
    assert refused.status_code == 400 and "whole number from 1" in refused.text
    missing = await hub_client.get("/hub/promotions/nosuch/edit")
    assert missing.status_code == 404


async def test_only_hq_changes_an_offer(hub_client, hub_db):
    from app.core.models import User
    from app.hub import service as hub

    made = await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.9, lon=77.6)
    async with hub_db.read() as s:
        omar = await s.scalar(select(User.id).where(User.name == "Omar"))
    offer = await chain.create(hub_db, OFFER, omar)
    for method, url in (("get", f"/hub/promotions/{offer.promotion.id}/edit"),
                        ("post", f"/hub/promotions/{offer.promotion.id}/edit"),
                        ("post", f"/hub/promotions/{offer.promotion.id}/preview")):
        got = await getattr(hub_client, method)(
            url, headers={"Authorization": f"Bearer {made.token}"}, follow_redirects=False,
            **({"data": {**OFFER, "amount": "99"}} if method == "post" else {}))
        assert got.status_code in (302, 303, 401, 403), (url, got.status_code)
    async with hub_db.read() as s:
        assert (await s.get(HubPromotion, offer.promotion.id)).version == 1


async def hub_save(hub_db) -> None:
    from app.hub import service as hub

    await hub.save_product(hub_db, edit("RICE-5KG", price=60000))
