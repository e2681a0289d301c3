"""axe-core on the scan screens' key states and on every hub page, for a Hindi user, on a
phone and a tablet (issue #22). test_accessibility.py checks the same states in English
and the store roles' menus in Hindi; longer words and Devanagari must not break contrast,
targets or accessible names here either. The states are driven by test ids and field
names, not by their (English) wording.
"""

from __future__ import annotations

import sqlite3

import pytest
from playwright.async_api import Page, expect

from tests.e2e import test_accessibility as english
from tests.e2e.conftest import Server, demo_products, scan
from tests.e2e.test_accessibility import (
    HUB_ROLES,
    STORE_ROLES,
    Findings,
    cod_order,
    login_in_hindi,
    visit_menu,
)
from tests.sync.harness import Hub

# Hub pages one step past the menu (links on its pages): stores, forms, reports, a product.
HUB_INNER = ("/hub/stores/S1", "/hub/stores/D2", "/hub/catalog/new", "/hub/catalog/import",
             "/hub/orders-upload", "/hub/reports/gst", "/hub/reports/promotions",
             "/hub/reports/returns", "/hub/catalog/item/ATTA-1KG")

# The same module fixtures (a store with an API key, a hub with two stores), made anew here.
a11y_store = english.a11y_store
a11y_key = english.a11y_key
a11y_hub = english.a11y_hub


@pytest.fixture(scope="module")
def hindi_hub(a11y_hub: Hub) -> Hub:
    """The hub with one product, so its page (and delivery list) is checked too."""
    client = a11y_hub.client()
    a11y_hub.post(client, "/hub/catalog/save", {
        "sku": "ATTA-1KG", "name": "Chakki Atta 1 kg", "price": "62.00", "gst": "5",
        "unit": "piece", "barcodes": "", "active": "on", "reorder_level": "5"})
    client.close()
    return a11y_hub


class HindiFindings(Findings):
    """`Findings` that also holds every checked page to be in Hindi."""

    async def check(self, page: Page, what: str, exclude: str = "") -> None:
        await expect(page.locator("html"), what).to_have_attribute("lang", "hi")
        await super().check(page, what, exclude)


async def sign_in_in_hindi(page: Page, role: str) -> None:
    await page.goto("/login")
    await page.get_by_test_id("lang-hi").tap()
    await expect(page.locator("html")).to_have_attribute("lang", "hi")
    await login_in_hindi(page, STORE_ROLES[role])
    await expect(page.locator("html")).to_have_attribute("lang", "hi")
    await expect(page.get_by_test_id("menu-button")).to_be_attached()


async def till_states(page: Page, findings: Findings) -> None:
    product = demo_products()[41]
    await page.goto("/pos")
    opening = page.locator("form:has(input[name=float])")
    if await opening.count():
        await findings.check(page, "hi cashier open shift")
        await opening.locator("input[name=float]").fill("500")
        await opening.locator("button[type=submit]").tap()
    await expect(page.locator("#scan-code")).to_be_focused()
    await scan(page, product.barcode)
    await expect(page.get_by_test_id("line-qty")).to_have_text("1")
    await expect(page.get_by_test_id("pos-message")).to_be_visible()
    await findings.check(page, "hi till with a line")
    await findings.targets(page, "hi till with a line")
    await scan(page, "0000000000000")
    await expect(page.get_by_test_id("pos-message").locator("svg.icon")).to_have_count(1)
    await findings.check(page, "hi till after an unknown code")
    await page.locator("#scan-code").focus()
    await page.keyboard.press("F2")
    cash = page.get_by_test_id("pay-panel").locator("input[name=given][inputmode=decimal]")
    await expect(cash).to_be_visible()
    await findings.check(page, "hi pay panel")
    await findings.targets(page, "hi pay panel")
    await cash.fill("1000")
    await page.locator("form:has(input[name=given][inputmode=decimal]) button").tap()
    await expect(page.get_by_test_id("change-due")).to_be_visible()
    await findings.check(page, "hi pay panel, change due")
    await page.get_by_test_id("complete").tap()
    await expect(page.get_by_test_id("receipt-number")).to_be_visible()
    await findings.check(page, "hi sale done, receipt")


async def pick_pack_handover_states(page: Page, findings: Findings, server: Server, key: str,
                                    ext: str) -> None:
    order, product = cod_order(server, key, ext)
    await page.goto("/pick")
    await page.get_by_test_id("claim").first.tap()
    await expect(page.get_by_test_id("task")).to_be_visible()
    await findings.check(page, "hi pick task")
    await findings.targets(page, "hi pick task")
    field = page.locator("#task input[name=code]").first
    await field.fill("0000000000000")
    await field.press("Enter")
    await expect(page.get_by_test_id("pick-message")).to_be_visible()
    await findings.check(page, "hi pick task, wrong item")
    await field.fill(product.barcode)
    await field.press("Enter")
    await expect(page.get_by_test_id("task")).to_have_count(0)
    await findings.check(page, "hi pick batch done")
    await page.goto("/pack")
    await page.locator("#pack-code").fill(product.barcode)
    await page.locator("#pack-code").press("Enter")
    await expect(page.get_by_test_id("pack-scan-message")).to_be_visible()
    await findings.check(page, "hi pack result")
    await findings.targets(page, "hi pack result")
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = await page.request.post(f"/pack/{order['id']}", form={"bags": "1"},
                                       headers={"x-csrftoken": csrf or "", "HX-Request": "true"})
    assert response.ok
    with sqlite3.connect(server.directory / "store.db") as conn:
        code = conn.execute("SELECT handover_code FROM orders WHERE id = ?",
                            (order["id"],)).fetchone()[0]
    await page.goto("/handover")
    await page.locator("#handover-code").fill(code)
    await page.locator("#handover-code").press("Enter")
    await expect(page.get_by_test_id("handover-confirm")).to_be_visible()
    await findings.check(page, "hi rider desk, confirm")
    await findings.targets(page, "hi rider desk, confirm")
    await page.get_by_test_id("confirm-handover").tap()
    await expect(page.get_by_test_id("handover-message")).to_be_visible()
    await findings.check(page, "hi rider desk, handed over")


async def test_scan_screens_pass_axe_in_hindi(new_page, a11y_store: Server, a11y_key: str,
                                              device: str) -> None:
    findings = HindiFindings()
    cashier = await new_page(a11y_store.url)
    await sign_in_in_hindi(cashier, "cashier")
    await till_states(cashier, findings)
    picker = await new_page(a11y_store.url)
    await sign_in_in_hindi(picker, "picker")
    await pick_pack_handover_states(picker, findings, a11y_store, a11y_key, f"A11Y-HI-{device}")
    findings.verdict()


async def hub_login_in_hindi(page: Page, hub: Hub, name: str, findings: Findings) -> None:
    """`hub_login` on a sign-in page switched to Hindi (by field names, not labels)."""
    user = hub.users[name]
    await page.goto("/login")
    await page.get_by_test_id("lang-hi").tap()
    await expect(page.locator("html")).to_have_attribute("lang", "hi")
    await findings.check(page, "hi hub sign-in")
    await page.locator("input[name=name]").fill(name)
    await page.locator("input[name=password]").fill(user.password)
    await page.locator(".login-form button[type=submit]").tap()
    code = page.locator("input[name=code]")
    await expect(code).to_be_visible()
    await findings.check(page, "hi hub code")
    await code.fill(user.code())
    await page.locator(".login-form button[type=submit]").tap()
    await expect(page.get_by_test_id("menu-button")).to_be_attached()
    await expect(page.locator("html")).to_have_attribute("lang", "hi")


async def test_hub_pages_pass_axe_in_hindi(new_page, hindi_hub: Hub, device: str) -> None:
    findings = HindiFindings()
    for role, name in HUB_ROLES.items():  # manager, then admin
        page = await new_page(hindi_hub.proc.url)
        await hub_login_in_hindi(page, hindi_hub, name, findings)
        await visit_menu(page, findings, f"hi hub {role}")
        await page.goto("/account/password")
        await findings.check(page, f"hi hub {role} my password and language")
    for href in HUB_INNER:  # (as the admin, signed in last)
        response = await page.goto(href)
        assert response and response.ok, href
        await findings.check(page, f"hi hub admin {href}")
    findings.verdict()
