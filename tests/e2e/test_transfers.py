"""A transfer from S1 to D2 in real Chromium (issue #17), with a real hub and two real
store processes: S1's manager asks on a phone, HQ approves on the hub's page, S1 picks
and sends, the hub shows the stock in transit, and D2's manager receives it on a phone;
the hub then shows it received."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.core.auth import create_user
from app.stock import service as stock
from tests.e2e.conftest import SHOTS, login
from tests.e2e.test_hub import hub_login, no_sideways_scroll
from tests.sync.harness import Hub, Store, make_hub, make_store, wait_for


@pytest.fixture
def device() -> str:
    return "phone"


@pytest.fixture
def network(tmp_path: Path, migrated_template: Path) -> Iterator[tuple[Hub, dict[str, Store]]]:
    hub = make_hub(tmp_path / "hub")
    hub.add_user("Meena", "manager", "monsoon mango pickle")
    hub.proc.start()
    stores: dict[str, Store] = {}
    try:
        client = hub.client("Meena")
        for sku, name in (("MILK-500", "Toned Milk 500 ml"), ("ATTA-5KG", "Chakki Atta 5 kg")):
            saved = hub.post(client, "/hub/catalog/save", {
                "sku": sku, "name": name, "price": "30.00", "gst": "5", "unit": "piece",
                "barcodes": "", "active": "on", "reorder_level": "2"})
            assert saved.status_code in (200, 303), saved.text[:300]
        client.close()
        for sid, kind in (("S1", "counter"), ("D2", "darkstore")):
            token = hub.add_store(sid, kind=kind)
            stores[sid] = make_store(tmp_path / sid, sid, hub.ws_url, token, migrated_template,
                                     kind)
            stores[sid].proc.start()
            wait_for(lambda st=stores[sid]: st.sql("SELECT count(*) FROM products")[0][0] == 2,
                     what=f"{sid}'s catalogue")
        yield hub, stores
    finally:
        for store in stores.values():
            store.proc.stop()
        hub.proc.stop()


async def _staff_and_stock(stores: dict[str, Store]) -> None:
    for sid, store in stores.items():
        db = store.database()
        try:
            await create_user(db, "Meena", "manager", "4726")
            await stock.load_bins_csv(db, "code,zone,aisle,shelf,pick_seq\nA-01,A,1,1,1\n")
            if sid == "S1":
                pid = store.sql("SELECT id FROM products WHERE sku = 'MILK-500'")[0][0]
                await stock.receive(db, product_id=pid, bin_code="A-01", quantity=20,
                                    user_id=None, batch="L7", expiry=None)
        finally:
            await db.dispose()


async def _until_text(page: Page, url: str, text: str, tries: int = 60) -> None:
    """Reload `url` until the page says `text` (the other side's step came by sync)."""
    for _ in range(tries):
        await page.goto(url)
        if text in await page.locator("main").inner_text():
            return
        await asyncio.sleep(0.5)
    await expect(page.locator("main")).to_contain_text(text)


async def test_a_transfer_from_s1_reaches_d2_through_the_hub(new_page, network) -> None:
    hub, stores = network
    await _staff_and_stock(stores)

    s1 = await new_page(stores["S1"].proc.url)
    await login(s1, "Meena")
    await expect(s1.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await s1.goto("/stock/transfers")
    form = s1.locator("#new-transfer")
    await form.locator("select[name=direction]").select_option("send")
    await form.get_by_label("Other store").fill("D2")
    await form.get_by_label("Products, one a line").fill("MILK-500 6")
    await form.get_by_role("button", name="Send the request to HQ").tap()
    await expect(s1.locator("h1")).to_contain_text("S1-T00001")
    await expect(s1.get_by_test_id("transfer-state")).to_have_text("Waiting for HQ")
    transfer_url = s1.url
    await no_sideways_scroll(s1)

    hq = await new_page(hub.proc.url)
    await hub_login(hq, hub, "Meena")
    await expect(hq.locator("#store-table")).to_be_visible()
    await _until_text(hq, "/hub/transfers", "S1-T00001")
    await hq.get_by_role("link", name="S1-T00001").tap()
    await hq.get_by_role("button", name="Approve").tap()
    await expect(hq.locator("#transfer-state")).to_have_text("Approved: to pick")

    await _until_text(s1, transfer_url, "Approved: to pick")
    await s1.get_by_label("Picked of MILK-500").fill("6")
    await s1.get_by_role("button", name="Picked").tap()
    await s1.get_by_role("button", name="Send to D2").tap()
    await expect(s1.get_by_test_id("transfer-state")).to_have_text("On its way")
    assert stores["S1"].sql("SELECT sum(on_hand) FROM stock_levels") == [(14,)]

    await _until_text(hq, "/hub/transfers", "MILK-500")
    await expect(hq.locator("#in-transit")).to_contain_text("MILK-500")
    await expect(hq.locator("#in-transit tbody tr").first).to_contain_text("6")
    await hq.screenshot(path=SHOTS / "hub-transfers-in-transit-phone.png", full_page=True)

    d2 = await new_page(stores["D2"].proc.url)
    await login(d2, "Meena")
    await expect(d2.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await _until_text(d2, "/stock/transfers", "S1-T00001 from S1")
    await d2.get_by_role("link", name=re.compile("S1-T00001 from S1")).tap()
    await expect(d2.get_by_test_id("transfer-state")).to_have_text("On its way")
    await expect(d2.locator("#receive-form")).to_contain_text("batch L7")
    await d2.get_by_label("Received of MILK-500").fill("5")
    await d2.get_by_label("Why different (MILK-500)").select_option("damaged")
    await d2.get_by_role("button", name="Received").tap()
    await expect(d2.get_by_test_id("transfer-state")).to_have_text("Received")
    await expect(d2.locator('tr[data-sku="MILK-500"]')).to_contain_text("damaged")
    await no_sideways_scroll(d2)
    assert stores["D2"].sql("SELECT batch, on_hand FROM stock_levels") == [("L7", 5)]

    await _until_text(hq, "/hub/transfers", "Nothing is on the road")
    await hq.goto("/hub/transfers?state=received")
    await hq.get_by_role("link", name="S1-T00001").tap()
    await expect(hq.locator("#transfer-state")).to_have_text("Received")
    await expect(hq.locator("#transfer-lines")).to_contain_text("short 1")
