"""The Stores page at a glance and a store's own page (issue #16 item 21), on SQLite
and PostgreSQL: today's sales by local hour (grouped in SQL by UTC quarter-hour, which
differs by dialect only in what the database returns), open orders, charts drawn as
inline SVG that say their figures, and the store page with its link history, events
waiting, today's orders by state; an unknown store is a plain 404."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from app.core.ids import uuid7
from app.hub import link_history, views
from app.hub import service as hub
from app.hub.models import HubOrder, HubStore
from tests.hub.conftest import sign_in
from tests.hub.test_hub_links import hello, live_hub, until  # noqa: F401 (fixture)
from tests.hub.test_hub_service import apply, edit, ev, go_online

IST = ZoneInfo("Asia/Kolkata")
DAY = date(2026, 11, 27)
OFFLINE_AFTER = timedelta(seconds=60)


def sale(seq: int, at: str, total: int, refund: bool = False):
    kind = "sale.refunded" if refund else "sale.completed"
    key = "refund_id" if refund else "sale_id"
    return ev(seq, kind, {key: f"x{seq}", "number": f"S1-{seq:06d}", "at": at, "total": total})


async def add_order(hub_db, store_id: str, status: str, created_at: datetime) -> None:
    async with hub_db.write() as s:
        n = uuid7()
        s.add(HubOrder(id=n, number=f"HQ-{n[-8:]}", channel="webshop", external_id=n,
                       status=status, store_id=store_id, customer_name="Kavya R",
                       customer_phone="9800000000", address="5th Block", pincode="560034",
                       promised_by=created_at + timedelta(minutes=30), payment="prepaid",
                       created_at=created_at, updated_at=created_at))


async def two_stores_with_a_day(hub_db) -> None:
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    await hub.add_store(hub_db, "D2", name="Koramangala", kind="darkstore", lat=12.93,
                        lon=77.62, pincodes="560034")
    await apply(hub_db, "S1", [
        sale(1, "2026-11-27T05:20:00+00:00", 10000),  # 10:50 IST: hour 10
        sale(2, "2026-11-27T05:40:00+00:00", 25000),  # 11:10 IST: hour 11
        sale(3, "2026-11-27T06:29:59+00:00", 5000),  # 11:59 IST: hour 11
        sale(4, "2026-11-27T06:31:00+00:00", 2000, refund=True),  # 12:01 IST: hour 12
        sale(5, "2026-11-26T18:29:00+00:00", 7000),  # 23:59 IST the day before
        sale(6, "2026-11-26T18:30:00+00:00", 3000),  # 00:00 IST: hour 0
    ])
    start = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 09:30 IST
    for status in ("assigned", "picking", "ready", "delivered", "cancelled"):
        await add_order(hub_db, "D2", status, start)
    await add_order(hub_db, "D2", "accepted", start - timedelta(days=1))  # open, made earlier
    await add_order(hub_db, "S1", "packed", start)


async def test_sales_fall_in_the_local_hour_and_open_orders_count(hub_db):
    await two_stores_with_a_day(hub_db)
    glance = await views.stores_at_a_glance(hub_db, DAY, IST)
    s1, d2 = glance["S1"], glance["D2"]
    expected = [0] * 24
    expected[0], expected[10], expected[11], expected[12] = 3000, 10000, 30000, -2000
    assert list(s1.hourly) == expected
    assert (s1.net, s1.bills, s1.refunds, s1.open_orders) == (41000, 4, 1, 1)
    assert s1.peak == (11, 30000)
    assert (d2.net, d2.bills, d2.open_orders, d2.peak) == (0, 0, 4, None)
    previous = await views.stores_at_a_glance(hub_db, DAY - timedelta(days=1), IST)
    assert previous["S1"].hourly[23] == 7000 and previous["S1"].net == 7000


async def test_the_stores_page_draws_a_chart_per_store_that_says_its_figures(hub_client,
                                                                            hub_db):
    await two_stores_with_a_day(hub_db)
    await go_online(hub_db, ["S1"])
    await sign_in(hub_client, "Omar")
    page = (await hub_client.get("/")).text
    assert 'href="/hub/stores/S1"' in page and 'href="/hub/stores/D2"' in page
    assert page.count('data-chart="sales"') == 2 and page.count('data-chart="orders"') == 2
    for svg in re.findall(r"<svg[^>]*data-chart[^>]*>.*?</svg>", page, re.S):
        assert 'role="img"' in svg and "aria-label=" in svg and "<title>" in svg
        assert "style=" not in svg and "<script" not in svg
    assert 'aria-label="D2: 4 open online orders"' in page
    assert 'aria-label="S1: 1 open online order (the busiest store has 4)"' in page
    fragment = await hub_client.get("/hub/stores/live")
    assert fragment.status_code == 200 and fragment.text.count('data-chart="sales"') == 2


async def test_the_chart_labels_name_the_busiest_hour(hub_client, hub_db):
    """The page's day is the hub's today: move the sales to today (local) to see them."""
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    cfg_tz = ZoneInfo("Asia/Kolkata")
    today = datetime.now(cfg_tz).date()
    at = datetime.combine(today, datetime.min.time(), tzinfo=cfg_tz) + timedelta(hours=9,
                                                                                 minutes=5)
    await apply(hub_db, "S1", [sale(1, at.isoformat(), 12345),
                               sale(2, (at + timedelta(minutes=20)).isoformat(), 5000)])
    await sign_in(hub_client)
    page = (await hub_client.get("/")).text
    assert ("S1 sales today by hour: ₹173.45 net from 2 bills; busiest hour 09:00 to "
            "10:00 with ₹173.45") in page
    assert page.count("data-hour=") == 1 and 'x="27.0"' in page  # hour 9: 9 x 72/24
    detail = (await hub_client.get("/hub/stores/s1")).text
    assert "busiest hour 09:00 to 10:00" in detail and ">12:00</text>" in detail


async def test_a_stores_own_page(hub_client, hub_db):
    await two_stores_with_a_day(hub_db)
    await hub.save_product(hub_db, edit("DAL-1KG"))  # one catalogue change for each store
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "D2")
                        .values(last_seen_at=datetime(2026, 11, 27, 4, 0, tzinfo=UTC),
                                version="kirana-store/1.3.0"))
        link_history.record_up(s, "D2", "10.0.0.7:50110", "kirana-store/1.3.0")
    await link_history.record_down(hub_db, "D2", "10.0.0.7:50110",
                                   "the store closed the link or went away (1006)")
    detail = await views.store_detail(hub_db, "d2", OFFLINE_AFTER, DAY, IST)
    assert detail is not None and detail.health.id == "D2"
    assert detail.orders_today == (("assigned", 1), ("picking", 1), ("ready", 1),
                                   ("delivered", 1), ("cancelled", 1))
    assert detail.day.open_orders == 4  # the accepted one from yesterday too
    assert detail.waiting_by_kind == (("product.upserted", 1),)
    assert [(e.connected, e.detail) for e in detail.history] == [
        (False, "the store closed the link or went away (1006) (from 10.0.0.7:50110)"),
        (True, "from 10.0.0.7:50110, kirana-store/1.3.0")]
    assert await views.store_detail(hub_db, "ZZ9", OFFLINE_AFTER, DAY, IST) is None

    await add_order(hub_db, "D2", "packed", datetime.now(UTC))  # the page's day is today
    await sign_in(hub_client, "Omar")
    page = await hub_client.get("/hub/stores/D2")
    assert page.status_code == 200
    text = page.text
    assert "D2 · Koramangala" in text and "Dark store" in text and "560034" in text
    assert "Offline" in text and "kirana-store/1.3.0" in text
    assert 'data-link="up"' in text and 'data-link="down"' in text
    assert "Disconnected: the store closed the link or went away (1006)" in text
    assert '<strong data-testid="events-waiting">1</strong>' in text
    assert "1 × catalogue changes" in text
    assert '<strong data-testid="open-orders">5</strong>' in text
    assert re.search(r'<tr data-status="packed"><td>Packed</td><td class="num">1</td>', text)
    assert "Stores do not tell the hub about their printers" in text
    assert 'href="/hub/orders?store=D2"' in text

    missing = await hub_client.get("/hub/stores/ZZ9")
    assert missing.status_code == 404 and "No store ZZ9 at this hub" in missing.text
    hostile = await hub_client.get("/hub/stores/%3Cb%3Ex")
    assert hostile.status_code == 404 and "<B>X" not in hostile.text
    assert "No store &lt;B&gt;X at this hub" in hostile.text


async def test_the_store_page_needs_a_hub_login(hub_client, hub_db):
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    response = await hub_client.get("/hub/stores/S1", follow_redirects=False)
    assert response.status_code in (302, 303)


async def test_the_link_history_records_each_connection(live_hub, hub_db):  # noqa: F811
    """A real link at a live hub: connecting writes 'up' (with address and version),
    closing writes 'down' with the reason."""
    token = (await hub.add_store(hub_db, "S1", name="Indiranagar", kind="darkstore",
                                 lat=12.97, lon=77.64)).token
    async def history_of(n: int) -> list[link_history.LinkEvent]:
        """The history once it has n entries (the hub writes 'down' after the close)."""
        for _ in range(200):
            async with hub_db.read() as s:
                history = await link_history.recent(s, "S1")
            if len(history) >= n:
                return history
            await asyncio.sleep(0.05)
        return history

    async with live_hub.link(token, "kirana-store/1.4.0") as ws:
        await ws.send(hello("a" * 16))
        await until(ws, "welcome")
        assert [e.connected for e in await history_of(1)] == [True]
    await history_of(2)
    async with live_hub.link(token, "kirana-store/1.4.0") as ws:
        await ws.send(hello("a" * 16))
        await until(ws, "welcome")
        await ws.send(json.dumps({"type": "nonsense"}))
        await until(ws, "error")
    history = await history_of(4)
    assert [e.connected for e in history] == [False, True, False, True]
    assert history[3].detail.startswith("from 127.0.0.1:") and "kirana-store/1.4.0" in (
        history[3].detail)
    assert history[2].detail.startswith("the store closed the link or went away (1000)")
    assert history[0].detail.startswith("closed by the hub (4400)")
