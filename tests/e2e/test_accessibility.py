"""axe-core on every page each role reaches from its menu, plus the scan screens' key
states (a till with a line, the pay panel, the receipt, a pick task and a wrong scan,
a pack result, the rider desk's answer), on a phone (360x740) and a tablet (1280x800),
on a store and on the hub (issue #22). Any serious or critical violation fails, listed
with its rule id, the element and the page.

axe-core is vendored for the tests only (tests/e2e/vendor/axe-core, never served by the
app) and run through Playwright's evaluate, which the pages' Content-Security-Policy
does not apply to: the pages are checked exactly as staff get them.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import (
    HERE,
    KIRANA,
    LOGINS,
    Server,
    _env,
    demo_products,
    login,
    scan,
    start_server,
)
from tests.e2e.test_fulfilment import api
from tests.e2e.test_hub import hub_login
from tests.sync.harness import Hub, make_hub

AXE_JS = (HERE / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
FAIL_ON = ("serious", "critical")
# Best-practice rules axe rates moderate or minor that Kirana holds to as well: every
# screen has an h1 (visually hidden where the design shows none), no empty table header.
ALSO_FAIL = ("page-has-heading-one", "empty-table-header")
RUN_AXE = """async ([failOn, alsoFail, exclude]) => {
    const context = exclude ? {exclude: [[exclude]]} : document;
    const result = await window.axe.run(context, {
        resultTypes: ["violations"], rules: {"target-size": {enabled: true}}});
    return result.violations.filter(v => failOn.includes(v.impact) || alsoFail.includes(v.id)).map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => [n.target.join(" "), n.failureSummary.split("\\n").slice(0, 3).join(" ")]),
    }));
}"""
# Touch targets on the till, picker, packing and rider screens: at least 44x44 CSS px.
SMALL_TARGETS = """(min) => [...document.querySelectorAll(
      "main button, main .btn, main select, main input:not([type=hidden])"
      + ":not([type=checkbox]):not([type=radio])")]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden")
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width > 0 && (r.width < min || r.height < min))
    .map(([e, r]) => e.tagName.toLowerCase() + ' "'
         + (e.getAttribute("aria-label") || e.textContent).trim().slice(0, 30) + '" '
         + Math.round(r.width) + "x" + Math.round(r.height))"""
STORE_ROLES = {"cashier": "Asha", "picker": "Ravi", "manager": "Meena", "admin": "Arjun"}
HUB_ROLES = {"manager": "Meena", "admin": "Arjun"}


# ---- servers (one of each for the module) ------------------------------------------


@pytest.fixture(scope="module")
def a11y_store(demo_template: Path, tmp_path_factory) -> Iterator[Server]:
    server = start_server(demo_template, tmp_path_factory.mktemp("a11y") / "store")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def a11y_key(a11y_store: Server) -> str:
    return subprocess.run(
        [str(KIRANA), "apikey", "create", "--config", str(a11y_store.directory / "store.toml"),
         "--name", "app", "--scope", "all", "--channel", "app"], capture_output=True, text=True,
        env=_env(), check=True).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def a11y_hub(tmp_path_factory) -> Iterator[Hub]:
    made = make_hub(Path(tmp_path_factory.mktemp("a11y-hub")))
    made.add_user("Meena", "manager", "monsoon mango pickle")
    made.add_user("Arjun", "admin", "saffron kite festival")
    made.proc.start()
    made.add_store("S1", kind="counter", lat=12.9719, lon=77.6412, pincodes="560038")
    made.add_store("D2", kind="darkstore", lat=12.9352, lon=77.6245, pincodes="560034")
    yield made
    made.proc.stop()


# ---- axe ---------------------------------------------------------------------------


class Findings:
    """Violations collected over many pages, reported together at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pages = 0

    async def check(self, page: Page, what: str, exclude: str = "") -> None:
        """axe on the page (less the `exclude` selector)."""
        await page.wait_for_load_state("load")
        await page.wait_for_timeout(150)  # htmx swaps and their settle classes
        if not await page.evaluate("() => !!window.axe"):
            await page.evaluate(AXE_JS + "\n;0")
        self.pages += 1
        for v in await page.evaluate(RUN_AXE, [list(FAIL_ON), list(ALSO_FAIL), exclude]):
            for target, summary in v["nodes"]:
                self.lines.append(f"{what} [{page.url}] {v['impact']} {v['id']}: {target}"
                                  f" — {summary}")

    async def targets(self, page: Page, what: str) -> None:
        for small in await page.evaluate(SMALL_TARGETS, 44):
            self.lines.append(f"{what} [{page.url}] touch target under 44x44: {small}")

    def verdict(self) -> None:
        assert self.pages, "no page was checked"
        assert not self.lines, (f"{len(self.lines)} serious/critical axe nodes:\n"
                                + "\n".join(self.lines))


async def menu_links(page: Page) -> list[str]:
    hrefs = await page.evaluate(
        "() => [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(h for h in hrefs if h and h.startswith("/")))


async def visit_menu(page: Page, findings: Findings, label: str) -> None:
    await findings.check(page, f"{label} home")
    if page.viewport_size and page.viewport_size["width"] < 600:
        await page.get_by_test_id("menu-button").tap()
        # The page under the open menu was checked above; the menu itself now.
        await findings.check(page, f"{label} menu open", exclude="main")
        # axe cannot see a focus ring: a focused link in the white panel must not get
        # the top bar's white one.
        await page.keyboard.press("Tab")  # (by keyboard, so :focus-visible applies)
        inside, ring = await page.evaluate(
            "() => [!!document.activeElement.closest('.menu-panel'),"
            " getComputedStyle(document.activeElement).outlineColor]")
        assert inside and ring not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), (label, ring)
    for href in await menu_links(page):
        await page.goto(href)
        await findings.check(page, f"{label} {href}")


# ---- store -------------------------------------------------------------------------


def cod_order(server: Server, key: str, ext: str) -> tuple[dict, object]:
    product = next(p for p in demo_products()[:40]
                   if api(server.url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= 3)
    order = api(server.url, key, "/api/v1/orders", {
        "channel": "app", "external_id": ext,
        "customer": {"name": "Priya Sharma", "phone": "9876543210", "address": "HSR Layout",
                     "pincode": "560102"},
        "promised_by": (datetime.now(UTC) + timedelta(minutes=3)).isoformat(),
        "payment": "cod", "cod_amount_minor": 50000,
        "lines": [{"sku": product.sku, "quantity": 1}]})
    assert order["status"] == "accepted", order
    return order, product


async def cashier_states(page: Page, findings: Findings) -> None:
    product = demo_products()[40]
    await page.goto("/pos")
    if await page.get_by_role("button", name="Open shift").count():
        await findings.check(page, "cashier open shift")
        await page.locator("input[name=float]").fill("500")
        await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()
    await scan(page, product.barcode)
    await expect(page.get_by_test_id("pos-message")).to_contain_text("Added")
    # The one live region says the one-line answer, not the whole cart.
    await expect(page.locator("#scan-live")).to_have_text(re.compile(f"^Added {re.escape(product.name)}"))
    await expect(page.locator("#cart")).not_to_have_attribute("aria-live", re.compile("."))
    await findings.check(page, "till with a line")
    await findings.targets(page, "till with a line")
    # A stepper keeps the focus on itself (the scan field does not take it back).
    more = page.get_by_role("button", name=f"One more {product.name}")
    await more.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("line-qty")).to_have_text("2")
    await expect(page.get_by_role("button", name=f"One more {product.name}")).to_be_focused()
    await scan(page, "0000000000000")
    await expect(page.get_by_test_id("pos-message")).not_to_contain_text("Added")
    assert await page.get_by_test_id("pos-message").locator("svg.icon").count() == 1
    await findings.check(page, "till after an unknown code")
    # F2 is Pay, from the scan field too (an F-key types nothing).
    await page.locator("#scan-code").focus()
    await page.keyboard.press("F2")
    cash = page.get_by_label("Cash received")
    await expect(cash).to_be_visible()
    await findings.check(page, "pay panel")
    await findings.targets(page, "pay panel")
    await cash.fill("1000")
    await page.get_by_role("button", name="Take cash").tap()
    await expect(page.get_by_test_id("change-due")).to_be_visible()
    await findings.check(page, "pay panel, change due")
    await page.keyboard.press("Alt+KeyC")  # Complete sale (F4 does the same)
    await expect(page.get_by_test_id("receipt-number")).to_be_visible()
    await expect(page.locator("#scan-live")).to_contain_text("Sale complete")
    await findings.check(page, "receipt")


async def picker_states(page: Page, findings: Findings, server: Server, key: str,
                        ext: str) -> None:
    order, product = cod_order(server, key, ext)
    await page.goto("/pick")
    await page.get_by_test_id("claim").first.tap()
    await expect(page.get_by_test_id("task")).to_be_visible()
    await findings.check(page, "pick task")
    await findings.targets(page, "pick task")
    field = page.locator("#task input[name=code]").first
    await field.fill("0000000000000")
    await field.press("Enter")
    wrong = page.get_by_test_id("pick-message")
    await expect(wrong).to_be_visible()
    assert await wrong.locator("svg.icon").count() == 1  # red, an icon and words
    await expect(page.locator("#scan-live")).to_have_text(await wrong.inner_text())
    await findings.check(page, "pick task, wrong item")
    await field.fill(product.barcode)
    await field.press("Enter")
    await expect(page.get_by_test_id("task")).to_have_count(0)
    await findings.check(page, "pick batch done")
    await page.goto("/pack")
    await page.locator("#pack-code").fill(product.barcode)
    await page.locator("#pack-code").press("Enter")
    await expect(page.get_by_test_id("pack-scan-message")).to_be_visible()
    await expect(page.locator("#scan-live")).not_to_be_empty()
    await findings.check(page, "pack result")
    await findings.targets(page, "pack result")
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
    await findings.check(page, "rider desk, confirm")
    await findings.targets(page, "rider desk, confirm")
    await page.get_by_test_id("confirm-handover").tap()
    message = page.get_by_test_id("handover-message")
    await expect(message).to_contain_text("Collect ₹500.00")
    await expect(page.locator("#scan-live")).to_contain_text("Collect ₹500.00")
    await findings.check(page, "rider desk, handed over")
    # The desk's list refreshes every 5 s: that request now, as its trigger sends it.
    await page.evaluate("""() => new Promise(done => {
        document.body.addEventListener("htmx:afterSettle", done, {once: true});
        htmx.ajax("GET", "/handover", {source: "#handover", target: "#handover", swap: "innerHTML"});
    })""")
    await expect(message).to_contain_text("Collect ₹500.00")


async def login_in_hindi(page: Page, name: str) -> None:
    """`login`, on a PIN screen switched to Hindi (its button reads "साइन इन")."""
    tile = page.locator("label.tile", has=page.locator("span.tile-name", has_text=name))
    await tile.tap()
    for key in LOGINS[name]:
        await page.locator(f'[data-pinpad] button[data-key="{key}"]').tap()
    await page.locator(".login-form button[type=submit]").tap()


GREETING = {"en": "Hello", "hi": "नमस्ते"}


@pytest.mark.parametrize("lang", list(GREETING))
@pytest.mark.parametrize("role", list(STORE_ROLES))
async def test_store_pages_pass_axe(new_page, a11y_store: Server, a11y_key: str,
                                    role: str, lang: str, device: str) -> None:
    """Each role's sign-in, home and menu pages, in English and in Hindi (the PIN
    screen's toggle sets this device's language: longer words and Devanagari must not
    break contrast, targets or names). In English, the cashier's and picker's scan
    screens' states too (in Hindi: test_accessibility_hindi.py); in Hindi, the profile
    (languages and the store's default)."""
    page = await new_page(a11y_store.url)
    findings = Findings()
    label = role if lang == "en" else f"hi {role}"
    await page.goto("/login")
    if lang == "hi":
        await page.get_by_test_id("lang-hi").tap()
        await expect(page.locator("html")).to_have_attribute("lang", "hi")
    await findings.check(page, "sign-in" if lang == "en" else "hi sign-in")
    if lang == "en":
        await login(page, STORE_ROLES[role])
    else:
        await login_in_hindi(page, STORE_ROLES[role])
    await expect(page.get_by_role("heading", name=re.compile(GREETING[lang]))).to_be_visible()
    await visit_menu(page, findings, label)
    if lang == "hi":
        await page.goto("/account/pin")  # the profile: languages and the store's default
        await findings.check(page, f"{label} my PIN and language")
    elif role == "cashier":
        await page.goto("/")
        await cashier_states(page, findings)
    elif role == "picker":
        await picker_states(page, findings, a11y_store, a11y_key, f"A11Y-{device}")
    findings.verdict()


@pytest.mark.parametrize("role", list(HUB_ROLES))
async def test_hub_pages_pass_axe(new_page, a11y_hub: Hub, role: str, device: str) -> None:
    page = await new_page(a11y_hub.proc.url)
    findings = Findings()
    await page.goto("/login")
    await findings.check(page, "hub sign-in")
    await hub_login(page, a11y_hub, HUB_ROLES[role])
    await expect(page.get_by_test_id("menu-button")).to_be_attached()
    await visit_menu(page, findings, f"hub {role}")
    findings.verdict()
