"""HQ's returns report at the hub (issue #19), on SQLite and PostgreSQL: returns per
store, the return rate per product (customers' returns against units delivered, failed
deliveries apart), returns per reason, request -> completed median and p90, refunds;
the page at /hub/reports/returns, its period and who may read it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.core.clock import utcnow
from app.core.models import User
from app.hub import return_reports, returns
from app.hub.models import HubReturn
from tests.hub.conftest import sign_in
from tests.hub.test_hub_service import apply
from tests.hub.test_returns import channel, completed, delivered_order, ev
from tests.hub.test_routing import setup_stores


def test_quantile_is_the_nearest_rank_and_reasons_group_as_typed():
    values = [float(v) for v in range(10, 0, -1)]
    assert return_reports.quantile(values, 0.5) == 6.0
    assert return_reports.quantile(values, 0.9) == 10.0
    assert return_reports.quantile([], 0.5) is None
    assert return_reports.reason_key("customer", "  Torn   PACKET ") == "torn packet"
    assert return_reports.reason_key("customer", "x" * 100_000) == "x" * 60
    assert return_reports.reason_key("rto", "not at home") == "failed delivery (RTO)"


async def chain(hub_db, hub_cfg) -> tuple[str, str]:
    """Two customers' returns of RICE at S1 (one completed with ₹90 after 5 hours, one
    open) and a failed delivery; 6 units of RICE delivered in all."""
    await setup_stores(hub_db, {"S1": 20, "D2": 10})
    await channel(hub_db)
    first = await delivered_order(hub_db, hub_cfg, "W-1", qty=4)
    second = await delivered_order(hub_db, hub_cfg, "W-2", qty=2)
    undelivered = await delivered_order(hub_db, hub_cfg, "W-3", qty=1, deliver=False)
    done = await returns.request_return(hub_db, hub_cfg, first.id, returns.ReturnBody(
        return_id="R-1", reason="Torn packet", lines=[returns.ReturnLineBody("RICE", 2)]),
        "api:webshop")
    await returns.request_return(hub_db, hub_cfg, second.id, returns.ReturnBody(
        return_id="R-2", reason="torn  PACKET", lines=[returns.ReturnLineBody("RICE", 1)]),
        "api:webshop")
    await returns.mark_undelivered(hub_db, undelivered.id, "not at home", "api:webshop")
    async with hub_db.write() as s:
        await s.execute(update(HubReturn).where(HubReturn.id == done.ret.id).values(
            created_at=utcnow() - timedelta(hours=5)))
    ret = {"return_id": done.ret.id, "number": done.ret.number}
    await apply(hub_db, "S1", [ev(1, "return.completed", completed(
        ret, "S1", 9000, line={"expected": 2, "received": 2, "resellable": 2}))])
    return done.ret.number, first.id


async def test_the_chains_returns_per_store_product_and_reason(hub_db, hub_cfg):
    await chain(hub_db, hub_cfg)
    today = utcnow().astimezone(hub_cfg.tz).date()
    r = await return_reports.chain_returns(hub_db, today - timedelta(days=29), today,
                                           hub_cfg.tz)
    assert (r.returns, r.customer, r.rto, r.completed, r.open) == (3, 2, 1, 1, 2)
    assert r.refund_minor == 9000
    assert r.hours_median == 5.0 and r.hours_p90 == 5.0
    [s1] = r.stores
    assert (s1.store_id, s1.returns, s1.units, s1.received, s1.open, s1.refund_minor) == (
        "S1", 3, 4, 2, 2, 9000)
    [rice] = r.products
    # 3 of the 6 delivered units asked back; the failed delivery counts in neither.
    assert (rice.sku, rice.delivered, rice.returned, rice.rate_percent, rice.refund_minor) == (
        "RICE", 6, 3, 50.0, 9000)
    assert [(x.reason, x.returns, x.units, x.share_percent, x.refund_minor)
            for x in r.reasons] == [("torn packet", 2, 3, 66.7, 9000),
                                    ("failed delivery (RTO)", 1, 1, 33.3, 0)]
    # A period before any of it: nothing.
    old = await return_reports.chain_returns(hub_db, today - timedelta(days=40),
                                             today - timedelta(days=31), hub_cfg.tz)
    assert (old.returns, old.stores, old.products, old.reasons, old.hours_median) == (
        0, [], [], [], None)


async def test_the_returns_page_for_hq(hub_client, hub_db, hub_cfg):
    number, _order_id = await chain(hub_db, hub_cfg)
    await sign_in(hub_client)
    overview = await hub_client.get("/hub/reports")
    assert 'href="/hub/reports/returns"' in overview.text
    got = await hub_client.get("/hub/reports/returns")
    assert got.status_code == 200, got.text[:2000]
    text = got.text
    assert "torn packet" in text and "failed delivery (RTO)" in text
    assert "50.0%" in text and "66.7%" in text and "₹90.00" in text and "5.0 h" in text
    assert 'data-store="S1"' in text and 'data-sku="RICE"' in text
    for bad in ("start=2026-13-45", "start=2099-01-01", "start=2020-01-01&end=2026-01-01",
                "start=" + "9" * 5_000, "start=%00"):
        refused = await hub_client.get(f"/hub/reports/returns?{bad}")
        assert refused.status_code == 400, bad
        assert 'role="alert"' in refused.text
    # People without an HQ role, stores and channels may not read it.
    async with hub_db.write() as s:
        await s.execute(update(User).where(User.name == "Priya").values(role="cashier"))
    assert (await hub_client.get("/hub/reports/returns")).status_code == 403
    hub_client.cookies.clear()
    anonymous = await hub_client.get("/hub/reports/returns", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
