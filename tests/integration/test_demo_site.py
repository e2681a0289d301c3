"""`kirana demo`'s site as it is prepared (no servers): the hub and each store agree on
what the store is called (issue #16 item 20). The banner and the running demo are
tested with real processes in test_signals.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import load_config, load_hub_config
from app.demo import DEMO_STORES, DemoSite, prepare_site
from app.hub.db import open_hub_database
from app.hub.models import HubStore


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    return prepare_site(tmp_path_factory.mktemp("demo-site"), port=8800, orders_per_minute=0)


def hub_stores(hub_config: Path) -> dict[str, HubStore]:
    cfg = load_hub_config(hub_config)

    async def read() -> dict[str, HubStore]:
        db = open_hub_database(cfg.database_url, cfg.hub)
        try:
            async with db.read() as s:
                return {st.id: st for st in await s.scalars(select(HubStore))}
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_each_store_has_one_name_at_the_hub_and_at_the_store(site: DemoSite) -> None:
    at_hub = hub_stores(site.hub_config)
    assert set(at_hub) == set(DEMO_STORES) == set(site.stores)
    for store_id, (cfg_path, _url) in site.stores.items():
        store = load_config(cfg_path).store
        assert (at_hub[store_id].name, at_hub[store_id].kind) == (store.name, store.kind)
    assert at_hub["D2"].name == "Kirana Quick, Koramangala"  # where the hub places it


def test_a_second_run_keeps_the_names(site: DemoSite) -> None:
    again = prepare_site(site.hub_config.parent.parent, port=8800, orders_per_minute=0)
    assert not again.fresh
    at_hub = hub_stores(again.hub_config)
    for store_id, (cfg_path, _url) in again.stores.items():
        assert at_hub[store_id].name == load_config(cfg_path).store.name


def store_inventory(cfg_path: Path) -> dict:
    """What the purchasing and expiry screens of a demo store would show."""
    from app.catalog.models import Product
    from app.core.clock import utcnow
    from app.core.db import Database
    from app.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
    from app.stock.models import StockLevel

    cfg = load_config(cfg_path)

    async def read() -> dict:
        db = Database(cfg.database_path)
        try:
            async with db.read() as s:
                suppliers = {name: n for name, n in (await s.execute(
                    select(Supplier.name, func.count(SupplierProduct.product_id))
                    .join(SupplierProduct, SupplierProduct.supplier_id == Supplier.id)
                    .group_by(Supplier.name))).all()}
                costs = list(await s.scalars(select(SupplierProduct.case_cost_minor)))
                orders = [(po.status, po.expected_on) for po in await s.scalars(
                    select(PurchaseOrder))]
                lines = await s.scalar(select(func.count()).select_from(PurchaseOrderLine))
                batches = (await s.execute(
                    select(Product.sku, Product.tracks_expiry, StockLevel.batch,
                           StockLevel.expiry, StockLevel.on_hand)
                    .join(StockLevel, StockLevel.product_id == Product.id)
                    .where(StockLevel.batch != ""))).all()
                tracked = set(await s.scalars(select(Product.sku).where(
                    Product.tracks_expiry.is_(True))))
                from app.stock.models import CountLine, CountTask
                count_lines = sorted((await s.execute(
                    select(CountTask.status, CountLine.status, CountLine.expected,
                           CountLine.counted)
                    .join(CountLine, CountLine.task_id == CountTask.id))).all())
        finally:
            await db.dispose()
        return {"suppliers": suppliers, "costs": costs, "orders": orders, "lines": lines,
                "batches": batches, "tracked": tracked, "count_lines": count_lines,
                "today": utcnow().astimezone(cfg.tz).date()}

    return asyncio.run(read())


@pytest.mark.parametrize("store_id", sorted(DEMO_STORES))
def test_each_store_has_suppliers_an_order_sent_and_batches_to_watch(site: DemoSite,
                                                                     store_id: str) -> None:
    from app.demo import EXPIRED, EXPIRING_SOON

    seen = store_inventory(site.stores[store_id][0])
    assert len(seen["suppliers"]) >= 3 and all(n > 0 for n in seen["suppliers"].values())
    assert seen["costs"] and all(c > 0 for c in seen["costs"])
    assert [status for status, _ in seen["orders"]] == ["sent"]
    assert seen["lines"] > 0
    today = seen["today"]
    # Products that track expiry hold their stock in batches with dates ...
    assert {"MLK-AMTZ-500ML", "BRD-HGWB-400G"} <= seen["tracked"]
    assert all(tracks and expiry is not None and qty > 0
               for _sku, tracks, _batch, expiry, qty in seen["batches"])
    assert {sku for sku, *_ in seen["batches"]} <= seen["tracked"]
    # ... one expiring within three days, one already past.
    by_sku: dict[str, list] = {}
    for sku, _t, _b, expiry, _q in seen["batches"]:
        by_sku.setdefault(sku, []).append(expiry)
    assert any(today <= e <= today + timedelta(days=3) for e in by_sku[EXPIRING_SOON])
    assert any(e < today for e in by_sku[EXPIRED])
    assert not any(e < today for sku, dates in by_sku.items() if sku != EXPIRED for e in dates)
    # A shelf was counted: one product matched, one found two short waits for a recount.
    statuses = {line_status for _task, line_status, _e, _c in seen["count_lines"]}
    assert {"matched", "todo"} <= statuses
    assert all(task == "open" for task, *_ in seen["count_lines"])
    assert any(c == e - 2 for _t, st, e, c in seen["count_lines"] if st == "todo")


def test_the_hub_s_catalogue_says_which_products_track_expiry(site: DemoSite) -> None:
    from app.catalog.models import Product

    cfg = load_hub_config(site.hub_config)

    async def read() -> set[str]:
        db = open_hub_database(cfg.database_url, cfg.hub)
        try:
            async with db.read() as s:
                return set(await s.scalars(select(Product.sku).where(
                    Product.tracks_expiry.is_(True))))
        finally:
            await db.dispose()

    at_hub = asyncio.run(read())
    assert at_hub == store_inventory(site.stores["S1"][0])["tracked"]
    assert len(at_hub) > 10


def hub_transfers(hub_config) -> list[tuple[str, str, str, list[tuple[str, int]]]]:
    from app.hub.models import HubTransfer, HubTransferLine

    cfg = load_hub_config(hub_config)

    async def read() -> list[tuple[str, str, str, list[tuple[str, int]]]]:
        db = open_hub_database(cfg.database_url, cfg.hub)
        try:
            async with db.read() as s:
                out = []
                for t in await s.scalars(select(HubTransfer)):
                    lines = (await s.execute(
                        select(HubTransferLine.sku, HubTransferLine.quantity)
                        .where(HubTransferLine.transfer_id == t.id))).all()
                    out.append((t.source, t.dest, t.state, sorted(map(tuple, lines))))
                return out
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_transfer_is_in_flight_from_s1_to_d2(site: DemoSite) -> None:
    """Issue #17: a new user sees the transfer screens with data: HQ has approved one,
    S1 picks and sends it once it has synced, D2 then receives it."""
    from app.demo import DEMO_TRANSFER

    assert hub_transfers(site.hub_config) == [
        ("S1", "D2", "approved", sorted(DEMO_TRANSFER))]


def test_a_second_run_adds_no_second_supplier_or_order(site: DemoSite) -> None:
    again = prepare_site(site.hub_config.parent.parent, port=8800, orders_per_minute=0)
    seen = store_inventory(again.stores["S1"][0])
    assert len(seen["orders"]) == 1 and len(seen["suppliers"]) == 4
    assert len(hub_transfers(again.hub_config)) == 1


# ---- issue #21: the counter store's offers and loyalty in the demo ----------------------


def store_offers(cfg_path: Path) -> list:
    from app.promotions.models import PromotionRow

    cfg = load_config(cfg_path)

    async def read() -> list:
        from app.core.db import Database

        db = Database(cfg.database_path)
        try:
            async with db.read() as s:
                return list(await s.scalars(select(PromotionRow).order_by(PromotionRow.name)))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_the_counter_store_runs_a_bogo_a_slab_a_happy_hour_and_a_coupon(site: DemoSite) -> None:
    from datetime import datetime

    from app.demo import DEMO_COUPON, DEMO_OFFERS
    from app.pos.pricing import LineInput, price_cart
    from app.promotions import service as promotions

    rows = store_offers(site.stores["S1"][0])
    assert sorted(r.name for r in rows) == sorted(o["name"] for o in DEMO_OFFERS)
    offers = promotions.load(rows)  # every one is a promotion the engine can use
    assert {p.kind for p in offers} == {"buy_x_get_y", "qty_slab", "percent_off",
                                        "bill_amount_off"}
    assert [p.coupon for p in offers if p.coupon] == [DEMO_COUPON]
    assert store_offers(site.stores["D2"][0]) == []  # the dark store has no till offers

    # A basket that meets each of them, priced by the pure engine at 6 pm (happy hour).
    cfg = load_config(site.stores["S1"][0])
    basket = [LineInput("coke", 4000, 3, sku="SFT-COKE-750ML", category="Beverages"),
              LineInput("monaco", 3500, 3, sku="BIS-PRMN-200G", category="Biscuits"),
              LineInput("bread", 4000, 1, sku="BRD-HGWB-400G", category="Bakery"),
              LineInput("atta", 28500, 1, sku="ATA-AASH-5KG", category="Atta, Rice & Dals")]
    six_pm = datetime(2026, 12, 2, 18, 0, tzinfo=cfg.tz)
    totals = price_cart(basket, None, 1, offers, six_pm, [DEMO_COUPON])
    off = {a.name: a.discount for a in totals.applied}
    assert off == {"Coca-Cola 750 ml: buy 2 get 1 free": 4000,
                   "Parle Monaco: ₹5 off each from 3": 1500,
                   "Bakery happy hour: 10% off, 5 to 8 pm": 400,
                   "Welcome: ₹50 off on ₹500": 5000}
    # Out of the happy hour and without the code, only the BOGO and the slab apply.
    noon = six_pm.replace(hour=12)
    assert {a.name for a in price_cart(basket, None, 1, offers, noon).applied} == {
        "Coca-Cola 750 ml: buy 2 get 1 free", "Parle Monaco: ₹5 off each from 3"}


def test_loyalty_is_on_in_the_demo_stores_but_not_in_the_store_only_demo(
        site: DemoSite, tmp_path: Path) -> None:
    from app.demo import write_demo_config

    for cfg_path, _url in site.stores.values():
        loyalty = load_config(cfg_path).loyalty
        assert loyalty.enabled and loyalty.points_per_100_rupees == 5
    assert not load_config(write_demo_config(tmp_path, "127.0.0.1", 8000)).loyalty.enabled


def test_a_second_run_makes_no_second_offers(site: DemoSite) -> None:
    before = [(r.id, r.name) for r in store_offers(site.stores["S1"][0])]
    again = prepare_site(site.hub_config.parent.parent, port=8800, orders_per_minute=0)
    assert [(r.id, r.name) for r in store_offers(again.stores["S1"][0])] == before
    for cfg_path, _url in again.stores.values():  # one [loyalty] table, still loadable
        assert (cfg_path.read_text().count("[loyalty]"), load_config(cfg_path).loyalty.enabled
                ) == (1, True)


def test_the_banner_names_the_demo_coupon(site: DemoSite) -> None:
    from click.testing import CliRunner

    from app.cli.demo import demo

    done = CliRunner().invoke(demo, ["--dir", str(site.hub_config.parent.parent), "--port",
                                     "8800", "--no-serve", "--no-orders"])
    assert done.exit_code == 0, done.output
    assert "coupon code WELCOME50" in " ".join(done.output.split())
