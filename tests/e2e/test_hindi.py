"""A cashier's sale and a picker's batch in Hindi in real Chromium (issue #22).

The cashier switches the PIN screen to हिन्दी, signs in, opens a shift, rings up two
products with the scan field and takes exact cash. On the till and the receipt screen no
visible text is English text the catalogue translates (the DOM's text is walked against
every source string of the Hindi catalogue), amounts are written the Indian way, and the
printed receipt (the store prints it in Hindi: `[printing] receipt_language = "hi"`)
carries the right total: its layout text is read from the print job, since Devanagari
lines are printed as images (app/printing/escpos_render.py).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from app.core.money import format_amount, parse_amount
from app.locale import check
from app.printing.layout import Row, parse_layout
from tests.e2e.conftest import (
    DEVICES,
    KIRANA,
    LOGINS,
    _env,
    demo_products,
    scan,
    start_server,
)
from tests.e2e.test_fulfilment import api

INDIAN_AMOUNT = re.compile(r"^-?₹(\d{1,2},)?(\d{2},)*\d{1,3}\.\d{2}$")
PLACEHOLDER = re.compile(r"%\(|%[sd]|\{")


def english_sources() -> set[str]:
    """Every English text the Hindi catalogue translates (not the ones Hindi writes the
    same, like "UPI", nor texts with placeholders: their fixed parts are checked through
    the texts around them)."""
    out = set()
    for m in check.read_catalogue("hi"):
        if not m.id or not isinstance(m.id, str) or PLACEHOLDER.search(m.id):
            continue
        if m.string and m.string != m.id and len(m.id.strip()) >= 3:
            out.add(m.id.strip())
    return out


# The text of every element a person sees: text nodes whose element is rendered, and the
# placeholders of visible fields.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest("script, style, template, .visually-hidden")) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll("input[placeholder]")) {
    if (el.checkVisibility()) out.push(el.placeholder.trim());
  }
  return out;
}"""


async def untranslated(page: Page, sources: set[str]) -> list[str]:
    texts = await page.evaluate(VISIBLE_TEXT)
    return sorted({t for t in texts for s in sources
                   if t == s or (" " in s and re.search(rf"(?<!\w){re.escape(s)}(?!\w)", t))})


async def sign_in_in_hindi(page: Page, name: str) -> None:
    tile = page.locator("label.tile", has=page.locator("span.tile-name", has_text=name))
    await tile.tap()
    for key in LOGINS[name]:
        await page.locator(f'[data-pinpad] button[data-key="{key}"]').tap()
    await page.get_by_role("button", name="साइन इन").tap()
    await page.wait_for_url(re.compile(r"/$"))


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["tablet"])


@pytest.fixture
def hindi_receipts_server(demo_template: Path, tmp_path: Path):
    template = tmp_path / "template"
    shutil.copytree(demo_template, template)
    config = template / "store.toml"
    config.write_text(config.read_text() + '\n[printing]\nreceipt_language = "hi"\n')
    server = start_server(template, tmp_path / "store")
    yield server
    server.stop()


async def test_a_cashier_sells_in_hindi(hindi_receipts_server, new_page) -> None:
    server = hindi_receipts_server
    page = await new_page(server.url)
    sources = english_sources()
    assert {"Pay", "Complete sale", "Sign in", "Total"} <= sources

    # The PIN screen in English, then the toggle: this device speaks Hindi.
    await page.goto("/login")
    await expect(page.get_by_text("1. Tap your name")).to_be_visible()
    assert {"1. Tap your name", "Sign in"} <= set(await untranslated(page, sources))  # the walk sees
    await page.get_by_test_id("lang-hi").tap()
    await expect(page.get_by_text("1. अपने नाम पर टैप करें")).to_be_visible()
    assert await page.locator("html").get_attribute("lang") == "hi"
    assert await untranslated(page, sources) == []

    await sign_in_in_hindi(page, "Asha")
    await page.goto("/pos")
    await expect(page.get_by_role("heading", name="बिक्री शुरू करें")).to_be_visible()
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="शिफ़्ट शुरू करें").tap()
    await expect(page.locator("#scan-code")).to_be_focused()

    products = demo_products()
    soap, biscuits = products[40], products[80]
    await scan(page, soap.barcode)
    await expect(page.get_by_test_id("pos-message")).to_contain_text(f"जोड़ा गया: {soap.name}")
    await scan(page, biscuits.barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(2)
    await scan(page, "0000000000000")  # not a product: the error in Hindi too
    await expect(page.get_by_test_id("pos-message")).to_contain_text("बारकोड")

    net = parse_amount(soap.price) + parse_amount(biscuits.price)
    total = (net + 50) // 100 * 100  # bills round to the rupee
    cart_total = page.get_by_test_id("cart-total")
    await expect(cart_total).to_have_text(format_amount(total))
    assert INDIAN_AMOUNT.match(await cart_total.inner_text())
    await expect(page.get_by_test_id("cart-summary")).to_contain_text("2 सामान")
    assert await untranslated(page, sources) == []

    # The pay panel, exact cash, the receipt screen.
    await page.get_by_test_id("pay").tap()
    await expect(page.get_by_test_id("pay-panel")).to_contain_text("अभी बाकी")
    assert await untranslated(page, sources) == []
    await page.locator("button.cash-btn", has_text=format_amount(total)).first.tap()
    await expect(page.get_by_test_id("change-due")).to_have_text(format_amount(0))
    await page.get_by_test_id("complete").tap()
    await expect(page.get_by_test_id("sale-done")).to_contain_text("बिक्री पूरी: S1-000001")
    await expect(page.get_by_test_id("receipt-total")).to_have_text(format_amount(total))
    await expect(page.get_by_test_id("receipt-print-counter-1")).to_have_text("प्रिंट हो गया")
    assert await untranslated(page, sources) == []

    # The printed receipt in Hindi (the preview printer's paper, and the job's layout).
    await page.locator("details.paper-wrap > summary").tap()
    preview = page.get_by_test_id("receipt-preview")
    await expect(preview).to_contain_text("टैक्स इनवॉइस")
    await expect(preview).to_contain_text("धन्यवाद")
    with sqlite3.connect(server.directory / "store.db") as db:
        (layout,) = db.execute("SELECT layout FROM print_jobs WHERE document = 'receipt' "
                               "ORDER BY seq DESC LIMIT 1").fetchone()
    rows = {b.left: b.right for b in parse_layout(layout) if isinstance(b, Row)}
    assert rows["कुल"] == format_amount(total)
    assert rows["सामान"] == "2"
    assert "TOTAL" not in layout and "Thank you" not in layout
    assert "बिल S1-000001" in rows


@pytest.fixture
def api_key(own_server) -> str:
    return subprocess.run(
        [str(KIRANA), "apikey", "create", "--config", str(own_server.directory / "store.toml"),
         "--name", "app", "--scope", "all", "--channel", "app"], capture_output=True,
        text=True, env=_env(), check=True).stdout.strip().splitlines()[-1]


async def test_a_picker_picks_a_batch_in_hindi(own_server, api_key, new_page) -> None:
    key = api_key
    in_stock = [p for p in demo_products()[:40]
                if api(own_server.url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 2]
    a, b = in_stock[:2]
    promised = (datetime.now(UTC) + timedelta(minutes=12)).isoformat()
    order = api(own_server.url, key, "/api/v1/orders", {
        "channel": "app", "external_id": "HI-1", "promised_by": promised, "payment": "cod",
        "cod_amount_minor": 30000,
        "customer": {"name": "Priya", "phone": "9876543210", "address": "HSR Layout",
                     "pincode": "560102"},
        "lines": [{"sku": a.sku, "quantity": 1}, {"sku": b.sku, "quantity": 1}]})
    assert order["status"] == "accepted"
    sources = english_sources()

    page = await new_page(own_server.url)
    await page.goto("/login")
    await page.get_by_test_id("lang-hi").tap()
    await sign_in_in_hindi(page, "Ravi")
    await page.goto("/pick")
    await expect(page.get_by_role("heading", name="सामान चुनने के लिए तैयार")).to_be_visible()
    assert await untranslated(page, sources) == []
    await page.get_by_test_id("claim").tap()
    names = {p.name: p for p in (a, b)}
    for i in range(2):
        await expect(page.get_by_test_id("task-bin")).to_be_visible()
        product = names[(await page.get_by_test_id("task-name").inner_text()).strip()]
        assert await untranslated(page, sources) == []
        field = page.locator("#pick-code")
        if i == 0:  # the wrong item first: refused in Hindi
            other = next(p for p in (a, b) if p is not product)
            await field.focus()
            await page.keyboard.type(other.barcode)
            await page.keyboard.press("Enter")
            await expect(page.get_by_test_id("pick-message")).to_contain_text(
                f"गलत सामान ({other.name})")
        await field.focus()
        await page.keyboard.type(product.barcode)
        await page.keyboard.press("Enter")
        await expect(page.get_by_test_id("pick-message")).to_contain_text(
            f"हो गया: {product.name}")
    await expect(page.get_by_test_id("pick-message")).to_contain_text("बैच पूरा")
    assert await untranslated(page, sources) == []

    # The same picker packs the order in Hindi, then finds it at the rider desk.
    await page.goto("/pack")
    await expect(page.get_by_role("heading", name="पैकिंग")).to_be_visible()
    assert await untranslated(page, sources) == []
    message = page.get_by_test_id("pack-scan-message")
    number = order["number"]
    for product, then in ((a, ""), (b, "। सब पैक हो गया: इसके लेबल छापें।")):
        await page.locator("#pack-code").focus()
        await page.keyboard.type(product.barcode)
        await page.keyboard.press("Enter")
        await expect(message).to_contain_text(f"{product.name}: 1 में से 1 → थैला A ({number}){then}")
        assert await untranslated(page, sources) == []
    await page.locator("#pack-code").focus()
    await page.keyboard.type(a.barcode)  # one too many: refused in Hindi
    await page.keyboard.press("Enter")
    await expect(message).to_contain_text("पहले ही पैक हैं")
    await page.get_by_test_id(f"pack-{number}").get_by_role(
        "button", name="पैक हो गया: लेबल छापें").tap()
    await expect(page.get_by_test_id("pack-message")).to_have_text(
        f"ऑर्डर {number} पैक हुआ: 1 लेबल छपा")
    assert await untranslated(page, sources) == []
    await page.goto("/handover")
    await expect(page.get_by_role("heading", name="राइडर डेस्क")).to_be_visible()
    await page.get_by_test_id("find-order").fill(number.rsplit("-", 1)[-1])
    await page.get_by_test_id("find-order").press("Enter")
    await expect(page.get_by_test_id(f"found-{number}")).to_contain_text("थैला 1 / 1")
    assert await untranslated(page, sources) == []
    await page.goto("about:blank")  # its live stream ends before the server does
