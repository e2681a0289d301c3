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
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, Playwright, expect

from tests.e2e.camera_video import (
    ean13_image,
    frame,
    qr_image,
    shown_then_away_video,
    still_video,
    write_y4m,
)
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEVICES,
    KIRANA,
    SHOTS,
    DemoProduct,
    Guard,
    Server,
    _env,
    all_demo_barcodes,
    demo_products,
    ean13,
    login,
)
from tests.e2e.test_fulfilment import api

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

# Every sound the page makes (app.js beep(): a sine "bip" is ok, a square buzz an error)
# and every text the camera panel's status line shows, in order.
SOUNDS_SCRIPT = """
    window.__sounds = [];
    window.__statuses = [];
    const start = OscillatorNode.prototype.start;
    OscillatorNode.prototype.start = function () {
        window.__sounds.push(this.type === "square" ? "error" : "ok");
        return start.apply(this, arguments);
    };
    new MutationObserver(function () {
        const line = document.querySelector(".camera-status");
        const text = line ? line.textContent : "";
        if (text && window.__statuses[window.__statuses.length - 1] !== text) {
            window.__statuses.push(text);
        }
    }).observe(document, { subtree: true, childList: true, characterData: true });
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


async def till_with_camera(camera_page, server: Server, video: Path) -> Page:
    """The till on a tablet whose camera plays `video`, shift open, sounds recorded."""
    page = await camera_page(server.url, video, "tablet")
    await page.add_init_script(SOUNDS_SCRIPT)
    await login(page, "Asha")
    await expect(page.get_by_role("heading", name="Hello, Asha")).to_be_visible()
    await page.goto("/pos")
    await expect(page.get_by_role("heading", name="Start selling")).to_be_visible()
    await page.locator("input[name=float]").fill("0")
    await page.get_by_role("button", name="Open shift").tap()
    await expect(page.locator("#scan-code")).to_be_focused()
    return page


async def test_till_adds_a_product_seen_by_the_camera_once(
        own_server, camera_page, tmp_path: Path) -> None:
    video = still_video(tmp_path / "ean13.y4m", ean13_image(PRODUCT.barcode), seconds=1)
    page = await till_with_camera(camera_page, own_server, video)

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
    # One sound for the scan: the cart's "Added" (the camera made none of its own), and
    # the camera's status line said ✓ only after the cart answered.
    assert await page.evaluate("window.__sounds") == ["ok"]
    statuses = await page.evaluate("window.__statuses")
    assert statuses[-2:] == [f"Checking {PRODUCT.barcode}…", f"✓ {PRODUCT.barcode}"], statuses
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
    await page.add_init_script(SOUNDS_SCRIPT)
    await page.goto("/login?next=/stock/receive")
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Receive goods")).to_be_visible()

    await open_camera(page)
    step = page.locator("#step")
    await expect(step).to_contain_text(PRODUCT.name)
    await expect(step.get_by_test_id("move-product")).to_have_text(PRODUCT.name)
    await expect(page.get_by_test_id("camera-status")).to_have_text(f"✓ {PRODUCT.sku}")
    # The product step comes without a sound of its own: the camera gives the one ok.
    await page.wait_for_timeout(500)
    assert await page.evaluate("window.__sounds") == ["ok"]
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


# ---- one showing of a code counts once (issue #16 item 12) -----------------------------


async def test_a_code_counts_again_only_after_it_left_the_picture(browser, server, guard) -> None:
    """The rule itself, frame by frame: a code has left the picture when it went unread
    for 1 s over at least 5 frames read since; a shorter gap is a missed read."""
    context = await browser.new_context(base_url=server)
    await guard.attach(context)
    page = await context.new_page()
    await page.goto("/login")
    arrivals = await page.evaluate("""() => {
        const p = new window.kirana.camera.Presence(1000, 5);
        const out = {};
        out.first = p.frame(["A"], 0);
        out.stillThere = p.frame(["A"], 100);
        // 4 frames without it over 2 s (a slow phone): not proof that it left.
        [700, 1300, 1900, 2500].forEach(t => p.frame([], t));
        out.afterFourEmptyFrames = p.frame(["A"], 2600);
        // 6 frames without it, but only 0.5 s: a decoder missing a shaky label.
        [2700, 2800, 2900, 3000, 3100].forEach(t => p.frame([], t));
        out.afterHalfSecond = p.frame(["A"], 3150);
        // 5 frames over 1.05 s: it left, and coming back is a new showing.
        [3400, 3650, 3900, 4100, 4200].forEach(t => p.frame([], t));
        out.cameBack = p.frame(["A"], 4300);
        out.twoNew = p.frame(["A", "B", "C"], 4400);
        out.noneNew = p.frame(["B", "A"], 4500);
        out.twiceInOneFrame = p.frame(["D", "D"], 4600);
        return out;
    }""")
    assert arrivals == {
        "first": ["A"], "stillThere": [], "afterFourEmptyFrames": [], "afterHalfSecond": [],
        "cameBack": ["A"], "twoNew": ["B", "C"], "noneNew": [], "twiceInOneFrame": ["D"],
    }
    await context.close()


_KEYS: dict[Path, str] = {}


def api_key(server: Server) -> str:
    """An API key for `server` (made once: a name is taken only once)."""
    if server.directory not in _KEYS:
        _KEYS[server.directory] = _new_api_key(server)
    return _KEYS[server.directory]


def _new_api_key(server: Server) -> str:
    return subprocess.run(
        [str(KIRANA), "apikey", "create", "--config", str(server.directory / "store.toml"),
         "--name", "camera", "--scope", "all", "--channel", "app"],
        capture_output=True, text=True, env=_env(), check=True).stdout.strip().splitlines()[-1]


async def first_task_of_new_batch(browser, guard: Guard, server: Server,
                                  lines: list[tuple[DemoProduct, int]]) -> DemoProduct:
    """An online order with `lines`, claimed by Ravi on a plain phone: the product of the
    batch's first task (the camera's video must show that one)."""
    key = api_key(server)
    order = api(server.url, key, "/api/v1/orders", {
        "channel": "app", "external_id": f"CAM-{time.monotonic_ns()}", "payment": "prepaid",
        "promised_by": (datetime.now(UTC) + timedelta(minutes=15)).isoformat(),
        "customer": {"name": "Priya", "phone": "9876543210", "address": "HSR Layout",
                     "pincode": "560102"},
        "lines": [{"sku": p.sku, "quantity": n} for p, n in lines]})
    assert order["status"] == "accepted", order
    context = await browser.new_context(base_url=server.url, **DEVICES["phone"])
    await guard.attach(context)
    page = await context.new_page()
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/pick")
    await page.get_by_test_id("claim").tap()
    name = (await page.get_by_test_id("task-name").inner_text()).strip()
    await context.close()
    return next(p for p, _ in lines if p.name == name)


def in_stock(server: Server, count: int, at_least: int) -> list[DemoProduct]:
    key = api_key(server)
    found = [p for p in demo_products()[:40]
             if api(server.url, key, f"/api/v1/stock/{p.sku}")["on_hand"] >= at_least]
    assert len(found) >= count, found
    return found[:count]


def scan_posts(page: Page, path: re.Pattern) -> list[float]:
    """When each scan was sent (time.monotonic()), from now on."""
    sent: list[float] = []
    page.on("request", lambda r: sent.append(time.monotonic())
            if r.method == "POST" and path.search(r.url) else None)
    return sent


PICK_SCAN = re.compile(r"/pick/tasks/[^/]+/scan$")


async def test_picker_packet_held_still_counts_one_unit(
        own_server, browser, camera_page, guard, tmp_path: Path) -> None:
    """A packet held under the camera for 3 s is one unit: the order's second unit and
    the next task are left alone (no "Wrong item" alarm while it stays in view)."""
    a, b = in_stock(own_server, 2, at_least=2)
    first = await first_task_of_new_batch(browser, guard, own_server, [(a, 2), (b, 1)])
    video = still_video(tmp_path / "packet.y4m", ean13_image(first.barcode), seconds=2)
    page = await camera_page(own_server.url, video, "phone")
    await page.add_init_script(SOUNDS_SCRIPT)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/pick")
    await expect(page.get_by_test_id("task-name")).to_have_text(first.name)
    quantity = 2 if first is a else 1
    sent = scan_posts(page, PICK_SCAN)

    await open_camera(page)
    message = page.get_by_test_id("pick-message")
    if quantity == 2:
        await expect(message).to_have_text(f"{first.name}: 1 of 2")
    else:
        await expect(message).to_contain_text(f"Done: {first.name}")
    await page.wait_for_timeout(3000)  # held still
    assert len(sent) == 1, f"{len(sent)} scans sent for one packet held still"
    await expect(message).not_to_contain_text("Wrong item")
    if quantity == 2:  # the second unit is still to pick: the same task, 1 left
        await expect(page.get_by_test_id("task-name")).to_have_text(first.name)
        await expect(page.get_by_test_id("task-qty")).to_have_text("1")
    assert await page.evaluate("window.__sounds") == ["ok"]  # the page's, not the camera's too
    await page.screenshot(path=str(SHOTS / "camera-pick-phone.png"))


async def test_picker_packet_shown_again_after_it_left_counts_again(
        own_server, browser, camera_page, guard, tmp_path: Path) -> None:
    """Taking the packet out of view and showing it again is the next unit."""
    (a,) = in_stock(own_server, 1, at_least=2)
    await first_task_of_new_batch(browser, guard, own_server, [(a, 2)])
    video = shown_then_away_video(tmp_path / "twice.y4m", ean13_image(a.barcode),
                                  shown=2, away=2)
    page = await camera_page(own_server.url, video, "phone")
    await page.add_init_script(SOUNDS_SCRIPT)
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    await page.goto("/pick")
    await expect(page.get_by_test_id("task-name")).to_have_text(a.name)
    sent = scan_posts(page, PICK_SCAN)

    await open_camera(page)
    message = page.get_by_test_id("pick-message")
    await expect(message).to_have_text(f"{a.name}: 1 of 2")
    await expect(message).to_contain_text(f"Done: {a.name}", timeout=15_000)
    assert len(sent) == 2, sent
    assert sent[1] - sent[0] >= 2.0, f"sent again {sent[1] - sent[0]:.2f} s later: not a new showing"
    assert await page.evaluate("window.__sounds") == ["ok", "ok"]


async def test_till_unknown_code_seen_by_the_camera_only_buzzes(
        own_server, camera_page, tmp_path: Path) -> None:
    """A code the shop does not sell: one error buzz, no ok beep, never a green ✓."""
    unknown = next(ean13(f"89099{n:07d}") for n in range(1000)
                   if ean13(f"89099{n:07d}") not in all_demo_barcodes())
    video = still_video(tmp_path / "unknown.y4m", ean13_image(unknown), seconds=1)
    page = await till_with_camera(camera_page, own_server, video)
    sent = scan_posts(page, re.compile(r"/pos/scan$"))

    await open_camera(page)
    message = page.get_by_test_id("pos-message")
    await expect(message).to_be_visible()
    await expect(message).to_have_class(re.compile(r"alert-error"))
    status = page.get_by_test_id("camera-status")
    await expect(status).to_have_text(f"✗ {unknown}")
    await expect(status).to_have_class(re.compile(r"camera-status-error"))
    await page.wait_for_timeout(1500)  # the label stays in view
    assert len(sent) == 1, sent
    assert await page.evaluate("window.__sounds") == ["error"]
    statuses = await page.evaluate("window.__statuses")
    assert not [s for s in statuses if s.startswith("✓")], statuses
    await expect(page.get_by_test_id("cart-line")).to_have_count(0)


async def test_till_camera_scan_not_sent_buzzes_once(
        own_server, camera_page, guard, tmp_path: Path) -> None:
    """The store server does not answer the scan: one error buzz, no ok beep first."""
    video = still_video(tmp_path / "ean13.y4m", ean13_image(PRODUCT.barcode), seconds=1)
    page = await till_with_camera(camera_page, own_server, video)
    guard.allow(r"Failed to load resource: net::ERR_CONNECTION_REFUSED .*/pos/scan")
    guard.allow(r"htmx:(afterRequest|sendError), ")  # htmx logs a failed send
    sent = scan_posts(page, re.compile(r"/pos/scan$"))
    await page.route("**/pos/scan", lambda route: route.abort("connectionrefused"))

    await open_camera(page)
    await expect(page.get_by_test_id("camera-status")).to_have_text(f"✗ {PRODUCT.barcode}")
    await page.wait_for_timeout(1000)
    assert len(sent) == 1, sent
    assert await page.evaluate("window.__sounds") == ["error"]
    await expect(page.get_by_test_id("cart-line")).to_have_count(0)


async def test_till_two_products_one_after_the_other_one_sound_each(
        own_server, camera_page, tmp_path: Path) -> None:
    """A, then B straight after (no empty frame between): each scan has its own one
    sound, however the answers and the next read interleave."""
    a, b = demo_products()[1:3]
    frames = [frame(ean13_image(a.barcode))] * 15 + [frame(ean13_image(b.barcode))] * 15
    video = write_y4m(tmp_path / "a-then-b.y4m", frames)
    page = await till_with_camera(camera_page, own_server, video)
    sent = scan_posts(page, re.compile(r"/pos/scan$"))

    await open_camera(page)
    lines = page.get_by_test_id("cart-line")
    await expect(lines).to_have_count(2)
    await page.get_by_role("button", name="Close the camera").tap()
    await page.wait_for_timeout(1000)  # answers still on their way
    sounds = await page.evaluate("window.__sounds")
    assert len(sent) >= 2 and sounds == ["ok"] * len(sent), (len(sent), sounds)
