"""What the page scripts write, in real Chromium (issue #22).

* A Hindi cashier's camera button, camera panel and its refusal, and the red "Not sent"
  box when the store server cannot be reached, are in Hindi: the scripts take their
  words from the page (app/core/page_words.py), not from English kept in static/js.
* On a phone, a button far down a long bill that the keyboard moves to is never under
  the sticky summary at the bottom (WCAG 2.2 SC 2.4.11: scroll-padding-bottom follows it).
* On a Mac, Option+letter types a letter: in a text field it is not taken as a till key.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import DEVICES, Server, demo_products, login, scan
from tests.e2e.test_hindi import english_sources, sign_in_in_hindi, untranslated
from tests.e2e.test_till_offline import allow_the_outage, start_again

CAMERA_REFUSED = """
    navigator.mediaDevices.getUserMedia = () =>
        Promise.reject(new DOMException("fake refusal", "NotAllowedError"));
"""


@pytest.fixture
def device_options() -> dict:
    return dict(DEVICES["phone"])


async def open_shift(page: Page, button: str) -> None:
    await page.goto("/pos")
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name=button).tap()
    await expect(page.locator("#scan-code")).to_be_focused()


async def test_the_scripts_speak_hindi_at_the_till(own_server: Server, new_page, guard) -> None:
    allow_the_outage(guard)
    page = await new_page(own_server.url)
    await page.add_init_script(CAMERA_REFUSED)
    await page.goto("/login")
    await page.get_by_test_id("lang-hi").tap()
    await sign_in_in_hindi(page, "Asha")
    await open_shift(page, "शिफ़्ट शुरू करें")

    # The camera button and its panel: named and worded in Hindi.
    camera = page.get_by_role("button", name="कैमरे से स्कैन करें")
    await expect(camera).to_have_count(1)
    await expect(camera).to_contain_text("कैमरा")
    await camera.tap()
    panel = page.get_by_role("dialog", name="कैमरा स्कैनर")
    await expect(panel).to_be_visible()
    await expect(page.get_by_test_id("camera-status")).to_have_text(
        "कैमरा बंद है: ब्राउज़र की सेटिंग में इस साइट के लिए कैमरा चालू करें, या कोड टाइप करें")
    await expect(panel.get_by_role("button", name="कैमरा बंद करें")).to_be_visible()
    assert await untranslated(page, english_sources()) == []
    await panel.get_by_role("button", name="कोड टाइप करें").tap()
    await expect(panel).to_be_hidden()

    # The store server does not answer a scan: the red box in Hindi, the code kept;
    # once it answers again the scan goes in by itself.
    product = demo_products()[40]
    own_server.stop()
    await scan(page, product.barcode)
    not_sent = page.get_by_test_id("not-sent")
    await expect(not_sent).to_contain_text("नहीं गया: स्टोर सर्वर से संपर्क नहीं हो रहा।")
    await expect(not_sent).to_contain_text(f"रुके हुए स्कैन: {product.barcode}।")
    await expect(not_sent).to_contain_text("कनेक्शन लौटते ही ये अपने-आप चले जाएँगे।")
    assert await untranslated(page, english_sources()) == []
    start_again(own_server)
    await expect(page.get_by_test_id("cart-line")).to_have_count(1, timeout=15_000)
    await expect(not_sent).to_be_hidden()


async def test_the_keyboard_never_lands_under_the_phones_sticky_summary(
        own_server: Server, new_page) -> None:
    page = await new_page(own_server.url)
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await open_shift(page, "Open shift")
    products = demo_products()[40:52]
    for n, product in enumerate(products, start=1):
        await scan(page, product.barcode)
        await expect(page.get_by_test_id("cart-line")).to_have_count(n)
    summary = page.get_by_test_id("cart-summary")
    assert await summary.evaluate("el => getComputedStyle(el).position") == "sticky"
    padding = await page.evaluate("document.documentElement.style.scrollPaddingBottom")
    assert padding.endswith("px") and float(padding[:-2]) > 60, padding

    # From the top of the page, Tab through every line's buttons: each one focused is
    # wholly above the summary (and below the top of the screen).
    await page.evaluate("window.scrollTo(0, 0)")
    await page.locator("#scan-code").focus()
    checked = 0
    for _ in range(80):
        await page.keyboard.press("Tab")
        where = await page.evaluate("""() => {
            const el = document.activeElement;
            if (!el || !el.closest("[data-testid=cart-line]")) return null;
            const r = el.getBoundingClientRect();
            const s = document.querySelector("[data-testid=cart-summary]").getBoundingClientRect();
            return [r.top, r.bottom, s.top, el.outerHTML.slice(0, 80)];
        }""")
        if where is None:
            if checked:
                break
            continue
        top, bottom, summary_top, html = where
        assert top >= 0 and bottom <= summary_top + 0.5, (
            f"{html} at {top:.0f}-{bottom:.0f} px is under the summary from {summary_top:.0f} px")
        checked += 1
    assert checked >= len(products), f"only {checked} of the lines' buttons were reached by Tab"


OPTION_KEY = """([selector, key, code]) => {
    const el = document.querySelector(selector);
    el.focus();
    const e = new KeyboardEvent("keydown",
        {key: key, code: code, altKey: true, bubbles: true, cancelable: true});
    el.dispatchEvent(e);
    return e.defaultPrevented;
}"""


@pytest.mark.parametrize("platform", ["MacIntel", "Linux armv8l"])
async def test_option_letter_on_a_mac_types_in_a_text_field(
    own_server: Server, new_page, platform: str
) -> None:
    """Alt+P is Pay. On a Mac, Option+P types "π": in the till's search field it stays
    typing (no Pay); from the scan field it is still Pay. Elsewhere Alt+P is Pay from any
    field, as before."""
    page = await new_page(own_server.url)
    await page.add_init_script(
        f"Object.defineProperty(navigator, 'platform', {{get: () => {platform!r}}});"
    )
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await open_shift(page, "Open shift")
    await scan(page, demo_products()[40].barcode)
    await expect(page.get_by_test_id("cart-line")).to_have_count(1)
    pay_panel = page.get_by_test_id("pay-panel")

    taken = await page.evaluate(OPTION_KEY, [".pos-search-input", "π", "KeyP"])
    if platform == "MacIntel":
        assert taken is False, "Option+P in the search field was taken as Pay"
        await page.wait_for_timeout(500)
        await expect(pay_panel).to_have_count(0)
        taken = await page.evaluate(OPTION_KEY, ["#scan-code", "π", "KeyP"])
    assert taken is True
    await expect(pay_panel).to_be_visible()
