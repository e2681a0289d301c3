"""Camera barcode scanning in real Chromium with a fake camera.

Chromium plays a .y4m file (written by camera_video.py) as the rear camera.
Headless Chromium on Linux has no native BarcodeDetector, so these tests run the
vendored `barcode-detector` ponyfill and its ZXing WASM, and the Guard (every
request off 127.0.0.1 is blocked and fails the test) proves both are served
locally. A read goes through the same path as a keyboard-wedge scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, Playwright, expect

from tests.e2e.camera_video import ean13_image, qr_image, still_video
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    SHOTS,
    Guard,
    demo_products,
    login,
)

FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
WASM = "/static/vendor/barcode-detector/zxing-wasm-3.1.3/zxing_reader.wasm"
PONYFILL = "/static/vendor/barcode-detector/3.2.2/ponyfill.js"
STATIC = Path(__file__).resolve().parents[2] / "static"
PRODUCT = demo_products()[0]
BLOCKED = "Camera blocked: allow the camera for this site in the browser settings, or type the code"
MISSING = "No camera found: type the code or use the scanner gun"
TORCH_SCRIPT = """
    window.__torch = [];
    const caps = MediaStreamTrack.prototype.getCapabilities;
    MediaStreamTrack.prototype.getCapabilities = function () {
        return Object.assign({}, caps ? caps.call(this) : {}, { torch: true });
    };
    MediaStreamTrack.prototype.applyConstraints = function (c) {
        window.__torch.push(c.advanced[0].torch);
        return Promise.resolve();
    };
"""


@pytest_asyncio.fixture(loop_scope="session")
async def camera_page(playwright: Playwright, guard: Guard) -> AsyncIterator:
    """Factory: `await camera_page(base_url, video, device)` -> a Page whose camera plays `video`."""
    browsers = []

    async def make(base_url: str, video: Path, device: str = "tablet") -> Page:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, *FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"])
        browsers.append(browser)
        context = await browser.new_context(
            base_url=base_url, permissions=["camera"], **DEVICES[device])
        context.set_default_timeout(10_000)
        await guard.attach(context)
        return await context.new_page()

    yield make
    for browser in browsers:
        with contextlib.suppress(Exception):
            await browser.close()
    problems = guard.problems()
    assert not problems, "page problems:\n" + "\n".join(problems)


async def resources(page: Page) -> list[str]:
    """Paths of what the page loaded from its own server (anything else is a failure)."""
    urls = await page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    origin = await page.evaluate("location.origin")
    assert all(u.startswith(origin + "/") for u in urls), urls
    return [u.removeprefix(origin) for u in urls]


async def open_camera(page: Page, *, first: bool = True) -> None:
    """Tap the camera button beside the scan field; the ponyfill is not loaded before."""
    if first:
        assert await page.evaluate("typeof window.BarcodeDetectionAPI") == "undefined"
        assert PONYFILL not in await resources(page)
    button = page.get_by_role("button", name="Scan with the camera")
    await expect(button).to_have_count(1)
    box = await button.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, box
    await button.tap()
    await expect(page.get_by_test_id("camera-panel")).to_be_visible()


async def keep_stream(page: Page) -> None:
    await page.evaluate("window.__stream = document.querySelector('.camera-panel video').srcObject")


async def camera_stopped(page: Page) -> bool:
    return await page.evaluate("""() =>
        document.querySelector('.camera-panel video').srcObject === null
        && window.__stream.getTracks().length > 0
        && window.__stream.getTracks().every(t => t.readyState === 'ended')""")


def wasm_sha256() -> str:
    return hashlib.sha256((STATIC / WASM.removeprefix("/static/")).read_bytes()).hexdigest()


def test_vendored_ponyfill_and_wasm_are_a_pair() -> None:
    """The ponyfill records the sha256 of the wasm it was built for; ours must be that one."""
    ponyfill = (STATIC / PONYFILL.removeprefix("/static/")).read_text(encoding="utf-8")
    assert f"`{wasm_sha256()}`" in ponyfill, "zxing_reader.wasm is not the one this ponyfill needs"
    assert "`3.1.3`" in ponyfill  # ZXING_WASM_VERSION
    version = (STATIC / "vendor/barcode-detector/VERSION").read_text().split()
    assert version == ["barcode-detector@3.2.2", "zxing-wasm@3.1.3"]


async def assert_local_reader(page: Page) -> None:
    loaded = await resources(page)
    assert PONYFILL in loaded and WASM in loaded, loaded
    api = await page.evaluate("""() => ({
        detector: typeof window.BarcodeDetectionAPI.BarcodeDetector,
        sha256: window.BarcodeDetectionAPI.ZXING_WASM_SHA256,
        version: window.BarcodeDetectionAPI.ZXING_WASM_VERSION})""")
    assert api == {"detector": "function", "sha256": wasm_sha256(), "version": "3.1.3"}


async def test_till_adds_a_product_seen_by_the_camera_once(
        camera_page, own_server, tmp_path: Path) -> None:
    video = still_video(tmp_path / "ean13.y4m", ean13_image(PRODUCT.barcode), seconds=1)
    page = await camera_page(own_server.url, video, "tablet")
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/pos")
    await expect(page.get_by_role("heading", name="Start selling")).to_be_visible()
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()

    await open_camera(page)
    lines = page.get_by_test_id("cart-line")
    await expect(lines).to_have_count(1)
    await expect(lines.first).to_contain_text(PRODUCT.name)
    await expect(page.get_by_test_id("camera-status")).to_have_text(f"✓ {PRODUCT.barcode}")
    await page.screenshot(path=str(SHOTS / "camera-till-tablet.png"))
    # The label stays in view: no second add while it is still being seen.
    for _ in range(6):
        await page.wait_for_timeout(200)
        await expect(lines).to_have_count(1, timeout=1)
        await expect(lines.first.get_by_test_id("line-qty")).to_have_text("1", timeout=1)
    await assert_local_reader(page)
    # The field is left empty for the next scan (the scan queue took the code).
    await expect(page.locator("#scan-code")).to_have_value("")

    # Closing stops the camera.
    await keep_stream(page)
    await page.get_by_role("button", name="Close the camera").tap()
    await expect(page.get_by_test_id("camera-panel")).to_be_hidden()
    assert await camera_stopped(page)
    await expect(page.locator("#scan-code")).to_be_focused()


async def test_receive_reads_a_qr_code_with_the_sku(
        camera_page, own_server, tmp_path: Path) -> None:
    video = still_video(tmp_path / "qr.y4m", qr_image(PRODUCT.sku), seconds=1)
    page = await camera_page(own_server.url, video, "phone")
    # The fake camera has no torch: pretend it has one and record what is asked of it.
    await page.add_init_script(TORCH_SCRIPT)
    await page.goto("/login?next=/stock/receive")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Receive goods")).to_be_visible()

    await open_camera(page)
    step = page.locator("#step")
    await expect(step).to_contain_text(PRODUCT.name)
    await expect(step.get_by_test_id("move-product")).to_have_text(PRODUCT.name)
    await expect(page.get_by_test_id("camera-status")).to_have_text(f"✓ {PRODUCT.sku}")
    await page.screenshot(path=str(SHOTS / "camera-receive-phone.png"))
    await assert_local_reader(page)

    torch = page.get_by_role("button", name="Torch")
    await expect(torch).to_have_attribute("aria-pressed", "false")
    await torch.tap()
    await expect(torch).to_have_attribute("aria-pressed", "true")
    await torch.tap()
    await expect(torch).to_have_attribute("aria-pressed", "false")
    assert await page.evaluate("window.__torch") == [True, False]

    # The page going to the background stops the camera.
    await keep_stream(page)
    await page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
        delete document.hidden;
    }""")
    await expect(page.get_by_test_id("camera-panel")).to_be_hidden()
    assert await camera_stopped(page)

    # "Type the code" closes the camera and leaves the field ready for the keyboard.
    await open_camera(page, first=False)
    await page.get_by_role("button", name="Type the code").tap()
    await expect(page.get_by_test_id("camera-panel")).to_be_hidden()
    field = page.locator("input[data-scan-field]")
    await expect(field).to_be_focused()
    await expect(field).to_have_attribute("inputmode", "text")


@pytest.mark.parametrize(("error", "message"), [
    ("NotAllowedError", BLOCKED),
    ("NotFoundError", MISSING),
])
async def test_camera_refused_or_missing_leaves_typing(
        new_page, server: str, device: str, error: str, message: str) -> None:
    page = await new_page(server)
    await page.add_init_script(f"""
        navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("fake {error}", "{error}"));
    """)
    await page.goto("/login?next=/stock/receive")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Receive goods")).to_be_visible()

    await open_camera(page)
    await expect(page.get_by_test_id("camera-status")).to_have_text(message)
    if error == "NotAllowedError":
        await page.screenshot(path=str(SHOTS / f"camera-blocked-{device}.png"))
    await expect(page.get_by_role("button", name="Type the code")).to_be_visible()

    await page.get_by_role("button", name="Type the code").tap()
    await expect(page.get_by_test_id("camera-panel")).to_be_hidden()
    field = page.locator("input[data-scan-field]")
    await expect(field).to_be_focused()
    await page.keyboard.type(PRODUCT.sku)
    await page.keyboard.press("Enter")
    await expect(page.locator("#step").get_by_test_id("move-product")).to_have_text(
        re.compile(re.escape(PRODUCT.name)))
