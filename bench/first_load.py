"""Page weight and camera speed, measured in real Chromium against a real demo store.

* bytes transferred for a first load of the till (/pos) on a fresh device, without
  opening the camera: the page and everything it loads, counted from the network
  (the service worker's background precache of the scanner's WASM is shown apart);
* time from tapping the camera button to the first decoded EAN-13, with Chromium's
  fake camera playing a video of a real demo barcode.

Run: .venv/bin/python bench/first_load.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import LOCALHOST, ServerProcess, child_env, free_port, kirana_exe
from playwright.async_api import async_playwright

from tests.e2e.camera_video import ean13_image, frame, write_y4m
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, demo_products

FAKE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


async def measure(base: str, video: Path) -> tuple[int, dict[str, int], float]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, *FAKE, f"--use-file-for-fake-video-capture={video}"])
        context = await browser.new_context(base_url=base, permissions=["camera"],
                                            viewport={"width": 1280, "height": 800})
        # Sign in and open the shift over plain HTTP (no page load, nothing cached).
        login = await (await context.request.get("/login")).text()
        user_id = re.search(r'value="([0-9a-f-]{36})"[^>]*>\s*<span class="tile-name">Asha',
                            login).group(1)
        csrf = next(c["value"] for c in await context.cookies() if c["name"] == "csrftoken")
        await context.request.post("/login", form={"user_id": user_id, "pin": "3816",
                                                   "_csrf_token": csrf})
        await context.request.post("/pos/shift/open", form={"counter": "C1", "float": "0"},
                                   headers={"x-csrftoken": csrf, "HX-Request": "true"})
        page = await context.new_page()
        cdp = await context.new_cdp_session(page)
        await cdp.send("Network.enable")
        sizes: dict[str, int] = {}
        urls: dict[str, str] = {}
        cdp.on("Network.requestWillBeSent",
               lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(
            urls.get(e["requestId"], e["requestId"]), int(e["encodedDataLength"])))
        await page.goto("/pos", wait_until="networkidle")
        await page.wait_for_selector("#scan-code")
        per_file = dict(sizes)
        start = time.perf_counter()
        await page.get_by_role("button", name="Scan with the camera").first.click()
        await page.get_by_test_id("cart-line").first.wait_for(timeout=20_000)
        decode_s = time.perf_counter() - start
        await browser.close()
    return sum(per_file.values()), per_file, decode_s


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="kirana-bench-load-"))
    try:
        subprocess.run([kirana_exe(), "demo", "--dir", str(root), "--no-serve", "--no-orders",
                        "--store-only"], check=True,
                       env=child_env(), capture_output=True, timeout=120)
        product = demo_products()[0]
        video = write_y4m(root / "ean.y4m", [frame(ean13_image(product.barcode))] * 20)
        port = free_port()
        server = ServerProcess([kirana_exe(), "serve", "--config", str(root / "store.toml"),
                                "--host", LOCALHOST, "--port", str(port)], cwd=root,
                               log_path=root / "server.log")
        try:
            server.wait_ready(f"http://{LOCALHOST}:{port}/healthz", timeout=60)
            total, per_file, decode = asyncio.run(measure(f"http://{LOCALHOST}:{port}", video))
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("first load of /pos (signed in, empty cache, camera not opened):")
    for url, size in sorted(per_file.items(), key=lambda kv: -kv[1]):
        print(f"  {size:>9,} B  {url.split('127.0.0.1')[-1]}")
    print(f"total: {total:,} bytes in {len(per_file)} responses (target under 150 KB: "
          f"{'met' if total < 150_000 else 'MISSED'})")
    print(f"camera button -> first EAN-13 in the cart: {decode * 1000:.0f} ms "
          "(includes loading the polyfill and WASM on first use)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
