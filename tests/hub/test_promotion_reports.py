"""The hub's chain view of promotions (issue #21), on SQLite and PostgreSQL: the stores'
sale and refund events book their lines and offers once (a replayed event, or the same
sale resent under a new event id after a restore, adds nothing), an older store's sale
without offers is still booked, hostile lines and offers are left out with a warning and
never stop the link; /hub/reports/promotions and its CSV per store and for the chain;
who may read them."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, update

from app.core.clock import utcnow
from app.core.models import User
from app.hub import promotion_reports as pr
from app.hub import service as hub
from app.hub.models import HubPromotion, HubSale, HubSaleOffer, HubSaleSkuDay, HubStore
from app.hub.webhooks import add_channel
from app.sync.protocol import Event
from tests.hub.conftest import sign_in
from tests.hub.test_hub_service import edit

PROMO = "01900000-0000-7000-8000-000000000021"
HOSTILE = '=HYPERLINK("http://x","<script>alert(1)</script>")'


def _at(day: date, tz) -> str:
    return datetime.combine(day, time(11, 0), tz).astimezone(UTC).isoformat()


def sale(sale_id: str, day: date, tz, *lines: dict) -> dict:
    return {"sale_id": sale_id, "number": f"S1-{sale_id}", "at": _at(day, tz),
            "total": sum(x["net"] for x in lines if isinstance(x, dict)
                         and isinstance(x.get("net"), int) and x["net"] < 2**40),
            "tax": 0, "lines": list(lines)}


def line(sku: str, qty: int, net: int, *offers: tuple[str, int], bill: bool = False) -> dict:
    out: dict = {"sku": sku, "quantity": qty, "net": net, "tax": 0, "gst_rate_bp": 0}
    if offers:
        out["offers"] = [{"id": i, "name": "Own: dal ₹5 off" if i == "own-1" else "x",
                          "off": off, "bill": bill} for i, off in offers]
    return out


def refund(refund_id: str, day: date, tz, *lines: dict) -> dict:
    return {"refund_id": refund_id, "number": f"S1-{refund_id}", "sale": "S1-s2",
            "at": _at(day, tz), "total": sum(x["amount"] for x in lines), "tax": 0,
            "lines": list(lines)}


async def send(hub_db, store: str, kind: str, data: dict, event_id: str, tz) -> None:
    async with hub_db.write() as s:
        row = await s.get(HubStore, store)
        await hub.apply_store_events(s, row, (Event(seq=1, id=event_id, kind=kind,
                                                    at=data["at"], data=data),), tz)


async def chain(hub_db, tz, today: date, name: str = "Atta 10 % off") -> date:
    """A chain offer on ATTA from d0 (five days ago) to today, made ten days before;
    S1 and D2 sell atta before and during it, S1 refunds one atta during it, and S1
    runs an offer of its own on DAL."""
    d0 = today - timedelta(days=5)
    for sku, unit in (("ATTA", "piece"), ("DAL", "piece"), ("RICE", "kg")):
        await hub.save_product(hub_db, edit(sku, unit=unit, category="staples"))
    for sid in ("S1", "D2"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="counter", lat=12.9,
                            lon=77.6)
    made = datetime.combine(d0 - timedelta(days=10), time(9), tz)
    async with hub_db.write() as s:
        s.add(HubPromotion(id=PROMO, name=name, kind="percent_off",
                           target_skus='["ATTA"]', target_categories="[]", get_skus="[]",
                           get_categories="[]", percent_bp=1000, starts=d0.isoformat(),
                           ends=None, days="", created_at=made, updated_at=made))
    await send(hub_db, "S1", "sale.completed",
               sale("s1", d0 - timedelta(days=2), tz, line("ATTA", 2, 20_000)), "S1-e1", tz)
    await send(hub_db, "S1", "sale.completed", sale(
        "s2", d0 + timedelta(days=1), tz, line("ATTA", 3, 27_000, (PROMO, 3_000)),
        line("DAL", 2, 9_000, ("own-1", 1_000)), line("RICE", 500, 5_000)), "S1-e2", tz)
    await send(hub_db, "S1", "sale.refunded", refund(
        "r1", d0 + timedelta(days=3), tz, {"sku": "ATTA", "quantity": 1, "amount": 9_000,
                                           "offers": [{"id": PROMO, "off": 1_000}]}),
        "S1-e3", tz)
    await send(hub_db, "D2", "sale.completed",
               sale("d1", d0 - timedelta(days=1), tz, line("ATTA", 1, 10_000)), "D2-e1", tz)
    await send(hub_db, "D2", "sale.completed", sale(
        "d2", d0 + timedelta(days=2), tz, line("ATTA", 1, 9_000, (PROMO, 1_000))), "D2-e2", tz)
    return d0


async def test_the_chain_offer_per_store_and_for_the_chain(hub_db, hub_cfg):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    d0 = await chain(hub_db, tz, today)
    r = await pr.chain_promotions(hub_db, d0 - timedelta(days=20), today, tz, today)
    [offer] = r.offers
    assert offer.chain and offer.id == PROMO and offer.during.first == d0
    assert offer.before == type(offer.before)(d0 - timedelta(days=6), d0 - timedelta(days=1))
    d2, s1 = offer.stores  # by store id
    # S1: 3 atta during less the one refunded; before: 2. Discount net of what came back.
    assert (s1.store_id, s1.result.during.units, s1.result.during.revenue_minor,
            s1.result.before.units, s1.result.before.revenue_minor, s1.result.bills,
            s1.result.discount_minor) == ("S1", 2, 18_000, 2, 20_000, 1, 2_000)
    assert (d2.store_id, d2.result.during.units, d2.result.before.units, d2.result.bills,
            d2.result.discount_minor) == ("D2", 1, 1, 1, 1_000)
    t = offer.total
    assert (t.during.units, t.during.revenue_minor, t.before.units, t.before.revenue_minor,
            t.bills, t.discount_minor) == (3, 27_000, 3, 30_000, 2, 3_000)
    assert t.unit_percent == 0 and t.revenue_percent == -10
    assert offer.verdict.startswith("Sold as many units as the 6 days before")
    assert sum(offer.during_units) == 3 and sum(offer.before_units) == 3
    # S1's own offer: known from its one bill (one day), on the SKU it applied to.
    [own] = r.own
    assert (own.store_id, own.id, own.name, own.during.days) == ("S1", "own-1",
                                                                 "Own: dal ₹5 off", 1)
    assert own.targets.skus == frozenset({"DAL"})
    assert (own.total.bills, own.total.discount_minor, own.total.during.units,
            own.total.before.units) == (1, 1_000, 2, 0)
    assert r.discount_minor == 4_000
    # A range before the offer: nothing.
    early = await pr.chain_promotions(hub_db, d0 - timedelta(days=20), d0 - timedelta(days=1),
                                      tz, today)
    assert early.offers == () and early.own == ()


async def test_a_replayed_or_resent_sale_counts_once(hub_db, hub_cfg):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    d0 = await chain(hub_db, tz, today)

    async def figures():
        async with hub_db.read() as s:
            return (await s.scalar(select(func.count()).select_from(HubSaleOffer)),
                    await s.scalar(select(func.sum(HubSaleSkuDay.quantity))),
                    await s.scalar(select(func.sum(HubSaleOffer.off_minor))))

    before = await figures()
    again = sale("s2", d0 + timedelta(days=1), tz, line("ATTA", 3, 27_000, (PROMO, 3_000)),
                 line("DAL", 2, 9_000, ("own-1", 1_000)), line("RICE", 500, 5_000))
    await send(hub_db, "S1", "sale.completed", again, "S1-e2", tz)  # the same event
    await send(hub_db, "S1", "sale.completed", again, "S1-restored-e2", tz)  # resent
    assert await figures() == before == (4, 5 + 500 + 2 - 1 + 1 + 1, 4_000)
    r = await pr.chain_promotions(hub_db, d0, today, tz, today)
    assert r.offers[0].total.bills == 2 and r.offers[0].total.discount_minor == 3_000


async def test_an_older_stores_sale_without_offers_is_still_booked(hub_db, hub_cfg):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    d0 = await chain(hub_db, tz, today)
    await send(hub_db, "D2", "sale.completed",
               sale("old", d0 + timedelta(days=2), tz, line("ATTA", 4, 40_000)), "D2-old", tz)
    bare = {"sale_id": "bare", "number": "D2-bare", "at": _at(d0, tz), "total": 500}
    await send(hub_db, "D2", "sale.completed", bare, "D2-bare", tz)
    async with hub_db.read() as s:
        assert {"old", "bare"} <= set(await s.scalars(select(HubSale.id)))
    r = await pr.chain_promotions(hub_db, d0, today, tz, today)
    d2 = next(st for st in r.offers[0].stores if st.store_id == "D2")
    # Its atta count in units and revenue; not in bills or discount (it said none).
    assert (d2.result.during.units, d2.result.bills, d2.result.discount_minor) == (5, 1, 1_000)


async def test_hostile_lines_and_offers_are_left_out_and_the_sale_booked(hub_db, hub_cfg,
                                                                         caplog):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    d0 = await chain(hub_db, tz, today)
    hostile = sale("h1", d0 + timedelta(days=1), tz,
                   line("ATTA", 1, 10_000, (PROMO, 2**63)),
                   {**line("ATTA", 1, 10_000), "offers": [{"id": PROMO, "off": float("nan")}]},
                   {**line("ATTA", 1, 10_000), "offers": "x" * 100_000},
                   line("A" * 100_000, 1, 10_000), line("ATTA", 2**63, 10_000),
                   line("ATTA", 1, 2**63), {**line("ATTA", 1, 500), "offers": [
                       {"id": "z" * 10_000, "off": 5}, {"id": PROMO, "off": 500,
                                                          "name": "\x00" * 10_000}]},
                   "not a line", None)
    hostile["total"] = 31_000
    with caplog.at_level(logging.WARNING, logger="app.hub.promotion_reports"):
        await send(hub_db, "S1", "sale.completed", hostile, "S1-h1", tz)
    assert any("unreadable" in rec.getMessage() for rec in caplog.records)
    async with hub_db.read() as s:
        assert await s.get(HubSale, "h1") is not None
        offers = list(await s.scalars(select(HubSaleOffer).where(HubSaleOffer.doc_id == "h1")))
    assert [(o.line, o.promotion_id, o.off_minor, o.name) for o in offers] == [
        (6, PROMO, 500, "")]
    r = await pr.chain_promotions(hub_db, d0, today, tz, today)
    s1 = next(st for st in r.offers[0].stores if st.store_id == "S1")
    # 4 readable atta lines of 1 (two with a bad offer, one with a bad list, the last).
    assert s1.result.during.units == 2 + 4 and s1.result.discount_minor == 2_500
    # Lines each fine, together beyond any shop's bill: none booked, the sale is.
    big = sale("h2", d0, tz, *[line("ATTA", 1, 10**13) for _ in range(3)])
    big["total"] = 5
    await send(hub_db, "S1", "sale.completed", big, "S1-h2", tz)
    async with hub_db.read() as s:
        assert await s.get(HubSale, "h2") is not None
        assert await s.scalar(select(func.count()).select_from(HubSaleSkuDay).where(
            HubSaleSkuDay.day == d0.isoformat())) == 0


async def test_the_page_and_csv_for_hq(hub_client, hub_db, hub_cfg):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    await chain(hub_db, tz, today, name=HOSTILE)
    await sign_in(hub_client, "Omar")  # a manager
    overview = await hub_client.get("/hub/reports")
    assert 'href="/hub/reports/promotions"' in overview.text
    got = await hub_client.get("/hub/reports/promotions")
    assert got.status_code == 200, got.text[:2000]
    text = got.text
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text
    assert f'data-offer="{PROMO}"' in text and 'data-store="D2"' in text
    assert 'data-store="ALL"' in text and "Own: dal ₹5 off" in text and "<svg" in text
    assert "₹30.00" in text  # the chain's discount
    sheet = await hub_client.get("/hub/reports/promotions.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.text)))
    body = [r for r in rows[3:] if r]
    assert [(r[0][:1], r[3], r[13], r[14]) for r in body if r[2] == "chain"] == [
        ("'", "ALL", "2", "30.00"), ("'", "D2", "1", "10.00"), ("'", "S1", "1", "20.00")]
    assert [(r[3], r[0], r[14]) for r in body if r[2] == "store"] == [
        ("S1", "Own: dal ₹5 off", "10.00")]
    for bad in ("start=2026-13-45", "start=2099-01-01", "start=2020-01-01&end=2026-01-01",
                "start=" + "9" * 5_000, "start=%00"):
        refused = await hub_client.get(f"/hub/reports/promotions?{bad}")
        assert refused.status_code == 400, bad
        assert 'role="alert"' in refused.text
        assert (await hub_client.get(f"/hub/reports/promotions.csv?{bad}")).status_code == 400


async def test_who_may_read_the_promotions_report(hub_client, hub_db):
    made = await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.9, lon=77.6)
    key, _secret = await add_channel(hub_db, "webshop")
    for url in ("/hub/reports/promotions", "/hub/reports/promotions.csv"):
        for token in (made.token, key):
            got = await hub_client.get(url, headers={"Authorization": f"Bearer {token}"},
                                       follow_redirects=False)
            assert got.status_code in (302, 303, 401, 403), (url, got.status_code)
            assert "Promotions" not in got.text
        anonymous = await hub_client.get(url, follow_redirects=False)
        assert anonymous.status_code in (302, 303, 401)
    await sign_in(hub_client, "Priya")  # an admin may
    assert (await hub_client.get("/hub/reports/promotions")).status_code == 200
    assert (await hub_client.get("/hub/reports/promotions.csv")).status_code == 200
    async with hub_db.write() as s:
        await s.execute(update(User).where(User.name == "Priya").values(role="cashier"))
    assert (await hub_client.get("/hub/reports/promotions")).status_code == 403
    assert (await hub_client.get("/hub/reports/promotions.csv")).status_code == 403


async def test_a_stores_own_bill_offer_covers_the_whole_bill(hub_db, hub_cfg):
    tz = hub_cfg.tz
    today = utcnow().astimezone(tz).date()
    d0 = await chain(hub_db, tz, today)
    await send(hub_db, "D2", "sale.completed", sale(
        "d3", d0 + timedelta(days=2), tz, line("DAL", 2, 9_500, ("own-bill", 250), bill=True),
        line("ATTA", 1, 9_500, ("own-bill", 250), bill=True)), "D2-e3", tz)
    r = await pr.chain_promotions(hub_db, d0, today, tz, today)
    own = next(o for o in r.own if o.id == "own-bill")
    assert own.store_id == "D2" and own.targets.everything and own.during.days == 1
    assert own.kind_words == pr.OWN_KIND_WORDS[True]
    # Its day at D2: every line of every bill (d2's atta and d3's), one bill, ₹5 off.
    assert (own.total.during.units, own.total.during.revenue_minor, own.total.bills,
            own.total.discount_minor) == (4, 28_000, 1, 500)
    # The day before it at D2 (d0 + 1): nothing sold there.
    assert own.total.before.units == 0
