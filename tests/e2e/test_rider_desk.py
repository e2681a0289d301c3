"""The rider desk on a 360 px phone and a tablet (issue #16 item 10): the orders ready for
a rider are cards on a phone, with nothing running off the side ("Cash to collect" in
view), and a table on a tablet."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from tests.e2e.conftest import DEVICES, SHOTS, demo_products, login
from tests.e2e.test_fulfilment import api, api_key

__all__ = ["api_key"]  # the fixture, imported for pytest

ORDERS = (  # external id, customer, cash to collect (paise; 0: prepaid)
    ("R-1", "Venkatasubramanian Raghunathan Iyer", 123450),
    ("R-2", "Priya Sharma", 0),
    ("R-3", "Asif", 9900),
)


async def ready_orders(page: Page, url: str, key: str) -> dict[str, dict]:
    """Three orders picked, packed and labelled through the store's own pages (over HTTP
    with the signed-in picker's session: the browser flow is test_packing.py's)."""
    products = [p for p in demo_products()[:40]
                if api(url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 2][:3]
    made = {}
    for (ext, name, cod), product in zip(ORDERS, products, strict=True):
        made[ext] = api(url, key, "/api/v1/orders", {
            "channel": "app", "external_id": ext,
            "customer": {"name": name, "phone": "9876543210", "address": "HSR Layout",
                         "pincode": "560102"},
            "promised_by": (datetime.now(UTC) + timedelta(minutes=20)).isoformat(),
            "payment": "cod" if cod else "prepaid", "cod_amount_minor": cod,
            "lines": [{"sku": product.sku, "quantity": 1}]})
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    headers = {"x-csrftoken": csrf or "", "HX-Request": "true"}
    by_name = {p.name: p for p in products}
    html = await (await page.request.post("/pick/claim", headers=headers)).text()
    while 'data-testid="task"' in html:
        task_id = re.search(r"/pick/tasks/([^/]+)/scan", html).group(1)
        name = re.search(r'data-testid="task-name">([^<]*)<', html).group(1).strip()
        html = await (await page.request.post(f"/pick/tasks/{task_id}/scan", headers=headers,
                                              form={"code": by_name[name].barcode})).text()
    for product in products:
        answer = await (await page.request.post("/pack/scan", headers=headers,
                                                form={"code": product.barcode})).text()
        assert "All packed" in answer, answer
    for order in made.values():
        response = await page.request.post(f"/pack/{order['id']}", headers=headers,
                                           form={"bags": "2"})
        assert response.ok
    return made


async def test_the_rider_desk_fits_a_phone(browser, own_server, guard, api_key,
                                           device) -> None:
    context = await browser.new_context(base_url=own_server.url, **DEVICES[device])
    await guard.attach(context)
    page = await context.new_page()
    made = await ready_orders(page, own_server.url, api_key)
    await page.goto("/handover")
    width = page.viewport_size["width"]
    for ext, _name, cod in ORDERS:
        row = page.get_by_test_id(f"ready-{made[ext]['number']}")
        cash = row.get_by_test_id("cash")
        await expect(cash).to_have_text(
            re.compile(r"₹1,234\.50|₹99\.00") if cod else re.compile("None \\(prepaid\\)"))
        await cash.scroll_into_view_if_needed()
        box = await cash.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (ext, box)
        if device == "phone":  # a card: the cell says what it is
            label = await cash.evaluate("e => getComputedStyle(e, '::before').content")
            assert label == '"Cash to collect"'
            assert (await row.bounding_box())["width"] <= width
    if device == "tablet":  # a table with its header row
        await expect(page.get_by_role("columnheader", name="Cash to collect")).to_be_visible()
    await page.screenshot(path=str(SHOTS / f"rider-desk-{device}.png"), full_page=True)
    overflow = await page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth,"
        " Math.max(...[...document.querySelectorAll('.table-wrap')]"
        ".map(e => e.scrollWidth - e.clientWidth))]")
    assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow}"
    assert overflow[2] <= 0, f"the list scrolls sideways inside the page: {overflow}"
    await context.close()
