"""The hub's chain overview and GSTR-1 pages (issue #18): figures, SLA, stock-outs, the
map, CSV, roles. SQLite and PostgreSQL (hub_client)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.core.clock import utcnow
from app.core.models import User
from app.hub import reports
from app.hub import service as hub
from app.hub.models import (
    HubOrder,
    HubOrderLog,
    HubSkuDay,
    HubStockLevel,
    HubStore,
)
from app.hub.webhooks import add_channel
from app.sync.protocol import Event
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in

GSTIN = "29AAGCB1286Q1Z0"  # a well-formed GSTIN (check character right)


def _order(n: int, store: str, created: datetime, promised: datetime, status: str) -> dict:
    return {"id": f"o{n}", "number": f"HQ-{n:06d}", "channel": "web", "external_id": f"x{n}",
            "status": status, "store_id": store, "courier": "", "hops": 0, "tried": "",
            "reason": "", "customer_name": "K", "customer_phone": "9800000000",
            "address": "a", "pincode": "560038", "promised_by": promised, "payment": "paid",
            "cod_amount_minor": 0, "notes": "", "value_minor": 0, "created_at": created,
            "updated_at": created}


def _done(n: int, order: str, at: datetime, status: str = "handed_over") -> dict:
    return {"id": f"l{n}", "order_id": order, "at": at, "kind": "status",
            "text": "Status", "detail": json.dumps({"status": status})}


async def _sale(hub_db, store: str, sale_id: str, total: int, at: datetime, **extra) -> None:
    data = {"sale_id": sale_id, "number": f"{store}-{sale_id}", "at": at.isoformat(),
            "total": total, "tax": 0,
            "lines": [{"sku": "A", "quantity": 1, "net": total, "tax": 0, "gst_rate_bp": 0}]}
    data.update(extra)
    async with hub_db.write() as s:
        row = await s.get(HubStore, store)
        await hub.apply_store_events(s, row, (Event(seq=1, id=f"{store}-{sale_id}",
                                                    kind="sale.completed", at=data["at"],
                                                    data=data),), UTC_TZ)


UTC_TZ = UTC


async def setup(hub_db, hub_cfg):
    now = utcnow()
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    await hub.add_store(hub_db, "D2", name="=HYPERLINK(\"x\")", kind="darkstore", lat=12.93,
                        lon=77.62)
    await hub.add_store(hub_db, "S3", name="Same spot", kind="counter", lat=12.97, lon=77.64)
    tz = hub_cfg.tz
    async with hub_db.write() as s:
        row = await s.get(HubStore, "S1")
        for i, (total, at) in enumerate([(10000, now), (5000, now - timedelta(days=1))]):
            data = {"sale_id": f"s{i}", "number": f"S1-00000{i}", "at": at.isoformat(),
                    "total": total, "tax": 0, "lines": []}
            await hub.apply_store_events(s, row, (Event(seq=i + 1, id=f"S1-e{i}",
                                                        kind="sale.completed",
                                                        at=data["at"], data=data),), tz)
        await hub.apply_store_events(s, row, (Event(seq=9, id="S1-r", kind="sale.refunded",
                                                    at=now.isoformat(), data={
            "refund_id": "r1", "number": "S1-R00001", "sale": "S1-000000",
            "at": now.isoformat(), "total": 2000, "tax": 0, "lines": []}),), tz)
        d2 = await s.get(HubStore, "D2")
        await hub.apply_store_events(s, d2, (Event(seq=1, id="D2-e1", kind="sale.completed",
                                                   at=now.isoformat(), data={
            "sale_id": "d1", "number": "D2-000001", "at": now.isoformat(), "total": 30000,
            "tax": 0, "lines": []}),), tz)
        orders = [
            _order(1, "D2", now - timedelta(minutes=50), now - timedelta(minutes=20),
                   "delivered"),  # handed over on time
            _order(2, "D2", now - timedelta(minutes=50), now - timedelta(minutes=40),
                   "handed_over"),  # late
            _order(3, "D2", now - timedelta(minutes=50), now - timedelta(minutes=5),
                   "picking"),  # due, not handed over: missed
            _order(4, "D2", now - timedelta(minutes=5), now + timedelta(minutes=25),
                   "accepted"),  # not due yet
            _order(5, "D2", now - timedelta(minutes=50), now - timedelta(minutes=5),
                   "cancelled"),  # left out of the SLA
            _order(6, "S1", now - timedelta(minutes=50), now - timedelta(minutes=5),
                   "delivered"),
        ]
        for o in orders:
            s.add(HubOrder(**o))
        await s.flush()
        for entry in [_done(1, "o1", now - timedelta(minutes=30)),
                      _done(2, "o1", now - timedelta(minutes=10), "delivered"),
                      _done(3, "o2", now - timedelta(minutes=35)),
                      _done(4, "o6", now - timedelta(minutes=6), "delivered")]:
            s.add(HubOrderLog(**entry))
        today = now.astimezone(tz).date()
        s.add(HubSkuDay(store_id="D2", sku="MILK", day=(today - timedelta(days=3)).isoformat(),
                        sold=4))
        s.add(HubSkuDay(store_id="D2", sku="RICE", day=today.isoformat(), sold=1))
        s.add(HubSkuDay(store_id="D2", sku="OLD", day=(today - timedelta(days=40)).isoformat(),
                        sold=9))
        s.add(HubStockLevel(store_id="D2", sku="RICE", on_hand=5, updated_at=now))
        s.add(HubStockLevel(store_id="D2", sku="MILK", on_hand=0, updated_at=now))


async def test_the_overview_figures(hub_db, hub_cfg):
    await setup(hub_db, hub_cfg)
    now = utcnow()
    today = now.astimezone(hub_cfg.tz).date()
    o = await reports.chain_overview(hub_db, today - timedelta(days=29), today, today,
                                     hub_cfg.tz, now)
    by = {f.store_id: f for f in o.stores}
    assert (by["S1"].sales, by["S1"].bills, by["S1"].refunds) == (13000, 2, 2000)
    assert (by["D2"].orders, by["D2"].due, by["D2"].met, by["D2"].sla) == (5, 3, 1, 33.3)
    assert (by["S1"].orders, by["S1"].sla) == (1, 100.0)
    assert by["S3"].sla is None and by["S3"].sales == 0
    assert by["D2"].stock_outs == 1  # MILK: sold lately, none left; OLD sold 40 days ago
    assert by["D2"].today_orders + by["S1"].today_orders <= 6
    assert o.total.sales == 43000 and len(o.days) == 30
    assert sum(d.sales for d in o.days) == 43000 and o.days[-1].day == today
    # A period without today still shows today's orders on the map.
    old = await reports.chain_overview(hub_db, today - timedelta(days=60),
                                       today - timedelta(days=40), today, hub_cfg.tz, now)
    assert {f.store_id: f.today_orders for f in old.stores}["D2"] >= 1
    assert {f.store_id: f.sales for f in old.stores}["S1"] == 0


async def test_the_pages_csv_and_map(hub_client, hub_db, hub_cfg):
    await setup(hub_db, hub_cfg)
    await sign_in(hub_client, "Omar")
    page = await hub_client.get("/hub/reports")
    assert page.status_code == 200, page.text[:2000]
    text = page.text
    assert 'data-chart="map"' in text and text.count('role="img" aria-label="') >= 4
    assert "HYPERLINK(\"x\")" not in text and "HYPERLINK(&#34;x&#34;)" in text  # escaped
    assert "online orders today, SLA met" in text or "no orders due yet" in text
    sorted_page = await hub_client.get("/hub/reports?sort=sla&dir=asc")
    body = sorted_page.text[sorted_page.text.index('id="stores"'):]
    assert body.index('data-store="D2"') < body.index('data-store="S1"') < body.index(
        'data-store="S3"')  # 33.3 %, 100 %, then no SLA last
    got = await hub_client.get("/hub/reports.csv?sort=sales&dir=desc")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0][0] == "store" and [r[0] for r in rows[1:]] == ["D2", "S1", "S3"]
    assert rows[1][1].startswith("'=")  # a formula in a store's name stays text
    assert rows[2][3] == "130.00" and rows[1][10] == "33.3"
    wrong = await hub_client.get("/hub/reports?start=2026-11-30&end=2026-11-01")
    assert wrong.status_code == 400 and "Swap the two dates" in wrong.text
    bad = await hub_client.get("/hub/reports.csv?start=%00%00&end=x" + "9" * 5000)
    assert bad.status_code == 400


async def test_gstr1_per_store_and_per_gstin(hub_client, hub_db, hub_cfg):
    await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.97, lon=77.64)
    await hub.add_store(hub_db, "S2", name="Two", kind="counter", lat=12.90, lon=77.60)
    at = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)
    for store, sid in (("S1", "a"), ("S2", "b")):
        async with hub_db.write() as s:
            row = await s.get(HubStore, store)
            await hub.apply_store_events(s, row, (Event(seq=1, id=f"{store}-{sid}",
                                                        kind="sale.completed", at=at.isoformat(),
                                                        data={
                "sale_id": sid, "number": f"{store}-000001", "at": at.isoformat(),
                "total": 11800, "tax": 1800, "lines": [
                    {"sku": "A", "quantity": 1, "net": 11800, "tax": 1800,
                     "gst_rate_bp": 1800, "hsn": "1006"}]}),), hub_cfg.tz)
    await sign_in(hub_client, "Omar")  # a manager
    refused = await hub_client.post("/hub/reports/gst/gstin", data={
        "store": "S1", "gstin": GSTIN, "_csrf_token": csrf_of(hub_client)})
    assert refused.status_code == 403  # setting a GSTIN is an admin's
    async with hub_db.write() as s:
        await s.execute(update(HubStore).values(gstin=GSTIN))
    gst = await hub_client.get("/hub/reports/gst?month=2026-11")
    assert gst.status_code == 200 and f'data-gstin="{GSTIN}"' in gst.text
    both = await hub_client.get(f"/hub/reports/gst/file?month=2026-11&gstin={GSTIN}")
    data = json.loads(both.text)
    assert data["gstin"] == GSTIN and data["fp"] == "112026"
    assert sum(r["txval"] for r in data["b2cs"]) == 200.0  # both stores' bills together
    one = await hub_client.get("/hub/reports/gst/file?month=2026-11&store=S2&format=zip")
    names = zipfile.ZipFile(io.BytesIO(one.content)).namelist()
    assert "b2cs.csv" in names and "hsn_b2c.csv" in names
    assert (await hub_client.get("/hub/reports/gst/file?month=2026-11&store=NOPE")
            ).status_code == 404
    assert (await hub_client.get("/hub/reports/gst/file?month=2099-01&store=S1")
            ).status_code == 400
    empty = await hub_client.get("/hub/reports/gst/file?month=2026-10&store=S1")
    assert empty.status_code == 200 and json.loads(empty.text)["gstin"] == GSTIN


async def test_an_admin_sets_a_checked_gstin(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.97, lon=77.64)
    await sign_in(hub_client, "Priya")  # an admin
    bad = await hub_client.post("/hub/reports/gst/gstin", data={
        "store": "S1", "gstin": GSTIN[:-1] + "5", "month": "2026-11",
        "_csrf_token": csrf_of(hub_client)}, follow_redirects=True)
    assert "check character" in bad.text
    ok = await hub_client.post("/hub/reports/gst/gstin", data={
        "store": "S1", "gstin": GSTIN.lower(), "month": "2026-11",
        "_csrf_token": csrf_of(hub_client)}, follow_redirects=True)
    assert "GSTIN saved for S1" in ok.text
    async with hub_db.read() as s:
        assert (await s.get(HubStore, "S1")).gstin == GSTIN


async def test_who_may_read_the_reports(hub_client, hub_db):
    made = await hub.add_store(hub_db, "S1", name="One", kind="counter", lat=12.9, lon=77.6)
    key, _secret = await add_channel(hub_db, "webshop")
    for url in ("/hub/reports", "/hub/reports.csv", "/hub/reports/gst",
                "/hub/reports/gst/file?month=2026-11&store=S1"):
        for token in (made.token, key):
            got = await hub_client.get(url, headers={"Authorization": f"Bearer {token}"},
                                       follow_redirects=False)
            assert got.status_code in (302, 303, 401, 403), (url, got.status_code)
            assert "Indiranagar" not in got.text and "gstin" not in got.text.lower()
        anonymous = await hub_client.get(url, follow_redirects=False)
        assert anonymous.status_code in (302, 303, 401)
    # A signed-in person whose role is not an HQ role is refused.
    await sign_in(hub_client, "Omar")
    async with hub_db.write() as s:
        await s.execute(update(User).where(User.name == "Omar").values(role="cashier"))
    refused = await hub_client.get("/hub/reports")
    assert refused.status_code == 403


async def test_an_empty_hub_and_hostile_queries(hub_client):
    await sign_in(hub_client, "Omar")
    empty = await hub_client.get("/hub/reports")
    assert empty.status_code == 200 and "No stores to show yet" in empty.text
    assert "No stores are registered at this hub yet." in empty.text
    for query in ("sort=%3Cscript%3E&dir=sideways", "start=2026-13-01", "end=" + "9" * 5000):
        got = await hub_client.get(f"/hub/reports?{query}")
        assert got.status_code in (200, 400) and "<script>" not in got.text
    for month in ("%00", "2026-13", "9999-01", "x" * 5000):
        got = await hub_client.get(f"/hub/reports/gst?month={month}")
        assert got.status_code == 400 and "month" in got.text.lower()
