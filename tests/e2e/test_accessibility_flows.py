"""axe-core on the inner states of the store's features, past their menu pages (issue
#22): a form open, a form refused with its error, a result shown, a record's own page.
test_accessibility.py checks every menu page and the scan screens; this file adds

- the counter: the customer display's pairing (the manager's page with its code), the
  screen's join page, idle, a line as it is scanned and its thank-you; loyalty's join
  refused and accepted, the customer's page before and after a sale with points;
- promotions: a new-offer form open, refused with its error, the offer saved and
  listed, the sample basket's result, the promotions report with the offer;
- stock: the returns desk (a return open, an item's grade form, the return finished),
  a purchase order, a receiving screen with its scan step and a line, a count task
  and the counting phone (its bins, a bin open, an item counted);
- reports: sales (after a sale: its charts) and stock (its charts).

Each on a phone and a tablet, on a store whose screens are in English and on one in
Hindi ([store] language, for staff who chose none: the customer display always speaks
it). The flows are driven by test ids and field names, not by their wording; every
checked page must be in the store's language. Same rules as test_accessibility.py:
serious and critical violations fail, and `page-has-heading-one`, `empty-table-header`.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.config import load_config
from app.core.db import Database
from app.sync.protocol import Event
from app.sync.store_apply import apply_hub_event
from tests.e2e.conftest import ROOT, Server, demo_products, run_beside_the_loop, start_server
from tests.e2e.test_accessibility import Findings, login_in_hindi

LANGS = ("en", "hi")
LOYALTY = "\n[loyalty]\nenabled = true\npoints_per_100_rupees = 10\nmin_balance_points = 1\n"
# One return from the hub per device (each run finishes its own).
RETURNS = {"phone": ("RET-000081", "1"), "tablet": ("RET-000082", "2")}
RETURNED = demo_products()[3]
OFFER = demo_products()[5]
# A product on the demo's purchase order PO-000001 (received), and bins to count, one per
# device: each run makes its own count (a task counts on one phone only), away from the
# received product's bin (a bin with goods of an open receipt is not counted).
RECEIVED_SKU = "RIC-24SM-5KG"
COUNT_BIN = {"phone": ("A-03-1", "MSL-CTCD-200G"), "tablet": ("A-01-1", "DAL-24RJ-500G")}
PHONES = {"phone": "9845012311", "tablet": "9845012322"}  # loyalty customers


@dataclass
class Store:
    server: Server
    lang: str


# ---- the store (one per language for the module) -------------------------------------


async def _seed_returns(cfg_path: Path) -> None:
    """A `return.requested` per device, fed through the store's sync apply path as the
    hub sends it (as tests/e2e/test_returns_desk.py does)."""
    cfg = load_config(cfg_path)
    db = Database(cfg.database_path)
    try:
        for seq, (number, n) in enumerate(RETURNS.values(), start=10_000):
            async with db.write() as s:
                await apply_hub_event(s, cfg, Event(
                    seq=seq, id=f"a11y-return-{n}", kind="return.requested",
                    at="2026-12-01T10:00:00+00:00", data={
                        "return_id": f"0190e2e0-0000-7000-8000-00000000a1{n}0",
                        "number": number, "kind": "customer", "mode": "walk_in",
                        "hub_order_id": f"0190e2e0-0000-7000-8000-00000000a1{n}1",
                        "order_number": f"H-00008{n}", "channel": "webshop",
                        "external_id": f"WEB-8{n}", "channel_return_id": f"CR-8{n}",
                        "reason": "arrived broken", "exchange": False,
                        "at": "2026-12-01T10:00:00+00:00",
                        "lines": [{"sku": RETURNED.sku, "quantity": 1,
                                   "unit_price_minor": 4000, "refundable_minor": 4000}]}))
    finally:
        await db.dispose()




@pytest.fixture(scope="module", params=LANGS)
def store(request: pytest.FixtureRequest, demo_template: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The demo store with loyalty on, two returns expected, its screens in `lang`."""
    lang = request.param
    template = tmp_path_factory.mktemp(f"a11y-flows-{lang}") / "template"
    shutil.copytree(demo_template, template)
    toml = template / "store.toml"
    text, found = re.subn(r'(?m)^language = "en"', f'language = "{lang}"', toml.read_text())
    assert found == 1, "the demo's store.toml has no [store] language line"
    toml.write_text(text + LOYALTY)
    run_beside_the_loop(lambda: _seed_returns(toml))
    server = start_server(template, template.parent / "store")
    yield Store(server, lang)
    server.stop()


class LangFindings(Findings):
    """`Findings` that also holds every checked page to be in the store's language."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    async def check(self, page: Page, what: str, exclude: str = "") -> None:
        await expect(page.locator("html"), what).to_have_attribute("lang", self.lang)
        await super().check(page, f"{self.lang} {what}", exclude)


async def sign_in(page: Page, store: Store, name: str) -> None:
    """The PIN screen in the store's language (by test ids and field names)."""
    await page.goto("/login")
    await expect(page.locator("html")).to_have_attribute("lang", store.lang)
    await login_in_hindi(page, name)
    await expect(page.get_by_test_id("menu-button")).to_be_attached()


async def submit(form) -> None:
    await form.locator("button[type=submit]").first.tap()


def barcode(sku: str) -> str:
    import csv

    text = (ROOT / "store_config" / "demo_catalog.csv").read_text(encoding="utf-8")
    row = next(r for r in csv.DictReader(text.splitlines()) if r["sku"] == sku)
    return row["barcodes"].split("|")[0].strip()


async def scan_into(page: Page, field: str, code: str) -> None:
    """A keyboard-wedge scan: fast keys into `field`, then Enter."""
    await page.locator(field).focus()
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


# ---- the counter: customer display and loyalty ----------------------------------------


async def pair_display(manager: Page, display: Page, findings: Findings, device: str) -> None:
    await manager.goto("/display/screens")
    await findings.check(manager, "display screens")
    await manager.get_by_test_id("pair-counter").select_option("C1")
    await manager.get_by_test_id("pair-name").fill(f"Screen {device}")
    await manager.get_by_test_id("pair-start").tap()
    await expect(manager.get_by_test_id("pairing-qr")).to_be_visible()
    await findings.check(manager, "display screens, pairing code shown")
    link = await manager.get_by_test_id("pairing-link").get_attribute("href")
    found = re.search(r"code=([A-Za-z0-9_-]+)", link or "")
    assert found, link
    await display.goto(f"/display/join?code={found.group(1)}")
    await findings.check(display, "display join")
    await display.get_by_test_id("join").tap()
    await display.wait_for_url(re.compile(r"/display$"))
    # Idle, or the counter's last thank-you (a screen paired after a sale shows it).
    await expect(display.locator("[data-testid=display-idle], [data-testid=display-thanks]")
                 ).to_be_visible()
    await findings.check(display, "display, just paired")


async def test_counter_flows_pass_axe(new_page, guard, store: Store, device: str) -> None:
    guard.allow(r"status of 400 .*/loyalty/join\)")  # the join without consent, refused
    findings = LangFindings(store.lang)
    url = store.server.url
    manager, display, till = await new_page(url), await new_page(url), await new_page(url)
    await sign_in(manager, store, "Meena")
    await pair_display(manager, display, findings, device)

    # Loyalty: a join refused (no consent), then accepted: the customer's page.
    await sign_in(till, store, "Asha")
    await till.goto("/loyalty")
    phone = PHONES[device]
    await till.get_by_test_id("join-phone").fill(phone)
    await till.get_by_test_id("join-submit").tap()
    await expect(till.get_by_test_id("join-error")).to_be_visible()
    await findings.check(till, "loyalty join refused")
    await till.get_by_test_id("join-phone").fill(phone)
    await till.get_by_test_id("join-consent").check()
    await till.get_by_test_id("join-submit").tap()
    await till.wait_for_url(re.compile(r"/loyalty/customers/"))
    customer = till.url
    await findings.check(till, "loyalty customer, just joined")

    # A sale at counter C1 with the customer's number: the display follows it.
    product = demo_products()[40]
    await till.goto("/pos")
    opening = till.locator("form:has(input[name=float])")
    if await opening.count():
        await opening.locator("input[name=float]").fill("500")
        await submit(opening)
    await expect(till.locator("#scan-code")).to_be_focused()
    await scan_into(till, "#scan-code", product.barcode)
    await expect(till.get_by_test_id("line-qty")).to_have_text("1")
    await expect(display.get_by_test_id("display-line")).to_have_count(1)
    await findings.check(display, "display with a line")
    await till.get_by_test_id("pay").tap()
    await till.get_by_test_id("loyalty-customer").fill(phone)
    await submit(till.locator("form:has([data-testid=loyalty-customer])"))
    await expect(till.get_by_test_id("loyalty-phone")).to_be_visible()
    masked = f"{phone[:2]}xxxxxx{phone[-2:]}"
    await expect(display.get_by_test_id("display-screen")).to_contain_text(masked)
    await findings.check(display, "display, the customer's points")
    await till.get_by_test_id("cash-exact").tap()  # paid and complete
    await expect(till.get_by_test_id("receipt-number")).to_be_visible()
    await expect(display.get_by_test_id("display-thanks")).to_be_visible()
    await findings.check(display, "display thanks")
    await till.goto(customer)
    await expect(till.locator("main table tbody tr, main .list li").first).to_be_visible()
    await findings.check(till, "loyalty customer with a sale's points")
    findings.verdict()


# ---- promotions --------------------------------------------------------------------


async def test_promotion_flows_pass_axe(new_page, guard, store: Store, device: str) -> None:
    guard.allow(r"status of 400 .*/promotions\)")  # the refused offer
    findings = LangFindings(store.lang)
    page = await new_page(store.server.url)
    await sign_in(page, store, "Meena")
    await page.goto("/promotions")
    kind = page.get_by_test_id("new-percent_off")
    await kind.locator("summary").first.tap()
    form = kind.locator("form")
    await expect(form.locator("input[name=percent]")).to_be_visible()
    await findings.check(page, "new offer form open")
    # Refused: no product or category to take it off.
    await form.locator("input[name=name]").fill(f"Nothing {device}")
    await form.locator("input[name=percent]").fill("10")
    await submit(form)
    await expect(page.get_by_test_id("promotion-error")).to_be_visible()
    await expect(page.get_by_test_id("new-percent_off")).to_have_attribute("open", "")
    await findings.check(page, "new offer refused, its error shown")
    form = page.get_by_test_id("new-percent_off").locator("form")
    await form.locator("input[name=name]").fill(f"Offer {device}")
    await form.locator("input[name=skus]").fill(OFFER.sku)
    await form.locator("input[name=percent]").fill("10")
    await submit(form)
    await expect(page.get_by_test_id("promotion-saved")).to_be_visible()
    await expect(page.get_by_test_id("promotions-running").get_by_test_id("promotion-row")
                 .first).to_be_visible()
    await findings.check(page, "offer saved, running offers listed")
    preview = page.get_by_test_id("preview")
    await preview.locator("textarea[name=basket]").fill(f"{OFFER.sku} 2")
    await submit(preview.locator("form"))
    await expect(page.get_by_test_id("preview-result")).to_be_visible()
    await expect(page.get_by_test_id("preview-offer").first).to_be_visible()
    await findings.check(page, "sample basket's result")
    await page.goto("/reports/promotions")
    await findings.check(page, "promotions report with the offer")
    findings.verdict()


# ---- stock: returns desk, purchase order, receiving, counting -------------------------


async def returns_desk(page: Page, findings: Findings, device: str) -> None:
    number, _n = RETURNS[device]
    await page.goto("/returns")
    await scan_into(page, "[data-testid=return-open-code]", number)
    await expect(page.get_by_test_id("return-number")).to_have_text(number)
    await findings.check(page, "return open")
    await scan_into(page, "[data-testid=return-scan]", RETURNED.barcode)
    await expect(page.get_by_test_id("grade-form")).to_be_visible()
    await findings.check(page, "return, an item's grade form")
    await page.get_by_test_id("grade-resellable").tap()
    await expect(page.get_by_test_id(f"graded-{RETURNED.sku}")).to_have_text("1")
    await page.get_by_test_id("finish").tap()
    await expect(page.get_by_test_id("return-done")).to_be_visible()
    await findings.check(page, "return finished")


async def purchase_order_and_receiving(page: Page, findings: Findings) -> None:
    await page.goto("/purchasing/receive")
    row = page.locator("[data-order]").first
    await submit(row)
    await expect(page.get_by_test_id("grn-status")).to_be_visible()
    await findings.check(page, "receiving")
    po = page.locator("main a[href^='/purchasing/orders/']").first
    receiving = page.url
    await po.tap()
    await expect(page.get_by_test_id("po-status")).to_be_visible()
    await findings.check(page, "purchase order")
    await page.goto(receiving)
    await scan_into(page, "#scan-code", barcode(RECEIVED_SKU))
    step = page.get_by_test_id("grn-step")
    await expect(step.get_by_test_id("grn-product")).to_be_visible()
    await findings.check(page, "receiving, a scanned item's step")
    await step.get_by_test_id("grn-count").fill("1")
    await submit(step)
    await expect(page.get_by_test_id("grn-added")).to_be_visible()
    await findings.check(page, "receiving with a line")


async def counting(page: Page, findings: Findings, device: str) -> None:
    bin_code, sku = COUNT_BIN[device]
    await page.goto("/stock/counts")
    await page.locator("input[name=kind][value=bin]").check()
    await page.locator("input[name=bin]").fill(bin_code)
    await page.get_by_test_id("new-count").tap()
    await page.wait_for_url(re.compile(r"/stock/count/[^/]+$"))
    await findings.check(page, "count task")
    heading = await page.locator("h1").first.inner_text()
    found = re.search(r"CC-[0-9]{6}", heading)
    assert found, heading
    await page.goto("/stock/counts")
    await page.get_by_test_id(f"start-{found.group(0)}").tap()
    await expect(page.get_by_test_id("count-bins")).to_be_visible()
    await findings.check(page, "counting phone, bins to count")
    await scan_into(page, "#count-bin-code", bin_code)
    await expect(page.get_by_test_id("count-bin")).to_have_text(bin_code)
    await findings.check(page, "counting phone, a bin open")
    await scan_into(page, "#count-code", barcode(sku))
    await expect(page.get_by_test_id(f"tally-{sku}")).to_have_text("1")
    await findings.check(page, "counting phone, an item counted")


async def test_stock_flows_pass_axe(new_page, store: Store, device: str) -> None:
    findings = LangFindings(store.lang)
    page = await new_page(store.server.url)
    await sign_in(page, store, "Meena")
    await returns_desk(page, findings, device)
    await purchase_order_and_receiving(page, findings)
    await counting(page, findings, device)
    findings.verdict()


# ---- reports -----------------------------------------------------------------------


def sales_today(server: Server) -> int:
    with sqlite3.connect(server.directory / "store.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0]


async def test_reports_pass_axe(new_page, store: Store, device: str) -> None:
    """The sales report after a sale (the counter test makes one; alone, this test sells
    a bill first) and the stock report, with their charts."""
    findings = LangFindings(store.lang)
    page = await new_page(store.server.url)
    if not sales_today(store.server):
        await sign_in(page, store, "Asha")
        await page.goto("/pos")
        opening = page.locator("form:has(input[name=float])")
        if await opening.count():
            await opening.locator("input[name=float]").fill("500")
            await submit(opening)
        await scan_into(page, "#scan-code", demo_products()[41].barcode)
        await expect(page.get_by_test_id("line-qty")).to_have_text("1")
        await page.get_by_test_id("cash-exact").tap()  # paid and complete
        await expect(page.get_by_test_id("receipt-number")).to_be_visible()
        page = await new_page(store.server.url)
    await sign_in(page, store, "Meena")
    await page.goto("/reports/sales")
    await expect(page.locator("main svg").first).to_be_visible()
    await findings.check(page, "sales report with charts")
    await page.goto("/reports/stock")
    await expect(page.get_by_test_id("category-chart").locator("svg")).to_be_visible()
    await findings.check(page, "stock report with charts")
    findings.verdict()
