"""End-to-end fixtures: a real `kirana serve` process and headless Debian Chromium.

* The demo store is prepared once per session (per xdist worker) with `kirana demo`
  and copied for every server, so each server starts on the same known data.
* `server` is one shared server per worker; `own_server` gives a test its own
  (about 2 s) when it must stop the server or wants data nobody else touches.
* Every browser context blocks requests that leave 127.0.0.1/localhost and records
  them, and every page collects JS errors; both fail the test at teardown.
* Tests run in the session event loop so one Chromium serves the whole worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from pytest_asyncio import is_async_test

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
KIRANA = Path(sys.executable).with_name("kirana")
CHROMIUM = os.environ.get("KIRANA_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DEVICES = {
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "tablet": {"viewport": {"width": 1280, "height": 800}, "has_touch": True},
}
# Seconds. A hung test ends the run with every thread's stack on the terminal
# (pytest-timeout's thread method suspends pytest's capture first). The faulthandler
# watchdog used before wrote its stacks into the capture and exited 1: a test that was
# only slow (test_idle.py's 15-minute run_for) looked like a process dying with no output.
TEST_TIMEOUT = 180
CLOSE_SECONDS = 20
LOGINS = {"Asha": "3816", "Ravi": "5209", "Meena": "4726", "Arjun": "8351"}
SHOTS = Path("/tmp/kirana-shots")
SHOTS.mkdir(parents=True, exist_ok=True)


# ---- marks and event loop ------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.timeout(TEST_TIMEOUT, method="thread"))
        if is_async_test(item):
            item.add_marker(session_loop, append=False)


# ---- demo data -------------------------------------------------------------------


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    barcode: str
    price: str


def demo_products() -> list[DemoProduct]:
    """Active piece products with an ordinary (not in-store 2x) EAN-13, in file order."""
    text = (ROOT / "store_config" / "demo_catalog.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        code = row["barcodes"].split("|")[0].strip()
        if (row["unit"] == "piece" and row["active"] == "yes" and len(code) == 13
                and code.isdigit() and not code.startswith("2")):
            out.append(DemoProduct(row["sku"], row["name"], code, row["price"]))
    return out


def all_demo_barcodes() -> set[str]:
    text = (ROOT / "store_config" / "demo_catalog.csv").read_text(encoding="utf-8")
    return {c.strip() for row in csv.DictReader(text.splitlines())
            for c in row["barcodes"].split("|") if c.strip()}


def ean13(body12: str) -> str:
    """`body12` plus its GS1 mod-10 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def number(text: str) -> int:
    """The first integer in a quantity text like '37' or '37 pcs'."""
    match = re.search(r"-?\d+", text.replace(",", ""))
    assert match, f"no number in {text!r}"
    return int(match.group())


# ---- servers -----------------------------------------------------------------------


def run_beside_the_loop(work: Callable[[], Coroutine[Any, Any, Any]],
                        timeout: float = 60.0) -> None:
    """Run `work()` with asyncio.run in a thread of its own, away from the session's
    event loop (a fixture seeding a store runs beside it); its exception is re-raised here."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout)
    if failed:
        raise failed[0]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The repo root first on sys.path: the venv's editable install may resolve
    # `app` as a namespace package (see report), which breaks `kirana serve`.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if its pytest worker dies, so none is left running."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    directory: Path
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(template: Path, directory: Path, timeout: float = 30.0) -> Server:
    shutil.copytree(template, directory)
    port = _free_port()
    log_path = directory / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(KIRANA), "serve", "--config", str(directory / "store.toml"),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=directory, env=_env(), stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    log.close()
    server = Server(f"http://127.0.0.1:{port}", directory, proc, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"kirana serve exited with {proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as res:
                if res.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"kirana serve not healthy after {timeout} s:\n{server.log()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo-template")
    done = subprocess.run(
        [str(KIRANA), "demo", "--dir", str(directory), "--port", "8001", "--no-serve",
         "--no-orders", "--store-only"],
        cwd=directory, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, f"kirana demo failed:\n{done.stdout}\n{done.stderr}"
    assert (directory / "store.toml").exists() and (directory / "store.db").exists()
    return directory


@pytest.fixture(scope="session")
def shared_server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(demo_template, tmp_path_factory.mktemp("shared") / "store")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server(shared_server: Server) -> str:
    """Base URL of this worker's shared server."""
    return shared_server.url


@pytest.fixture
def own_server(demo_template: Path, tmp_path: Path) -> Iterator[Server]:
    """A server for this test alone (it may stop it)."""
    server = start_server(demo_template, tmp_path / "store")
    yield server
    server.stop()


# ---- browser -------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_SECONDS):
            await browser.close()


@pytest.fixture(params=list(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def device_options(device: str) -> dict:
    return dict(DEVICES[device])


# Every Content-Security-Policy violation (an inline script or handler, a style
# attribute, eval, a foreign URL) becomes a console error, which fails the test.
CSP_WATCH = """
    document.addEventListener("securitypolicyviolation", function (e) {
        console.error("CSP violation: " + e.violatedDirective + " blocked "
                      + (e.blockedURI || "inline") + " at " + e.sourceFile + ":"
                      + e.lineNumber + " " + (e.sample || ""));
    });
"""


@dataclass
class Guard:
    """What our pages tried that they must not: internet requests, JS errors and
    Content-Security-Policy violations."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept console errors matching `pattern` (e.g. an expected 403)."""
        self.allowed.append(re.compile(pattern))

    async def route(self, route, request) -> None:
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            await route.continue_()
        else:
            self.blocked.append(request.url)
            await route.abort("blockedbyclient")

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: self.errors.append(
            f"console.{msg.type}: {msg.text} ({msg.location.get('url', '')})")
            if msg.type == "error" else None)

    def problems(self) -> list[str]:
        errors = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        return [f"blocked non-local request: {u}" for u in self.blocked] + errors

    async def attach(self, context: BrowserContext) -> None:
        await context.route("**/*", self.route)
        await context.add_init_script(CSP_WATCH)
        context.on("page", self.watch)


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Browser, device_options: dict, guard: Guard):
    """Factory: `await new_page(base_url)` -> a Page in a fresh context for this device."""
    contexts: list[BrowserContext] = []

    async def make(base_url: str) -> Page:
        context = await browser.new_context(base_url=base_url, **device_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        await guard.attach(context)
        return await context.new_page()

    yield make
    for context in contexts:
        # A request still held by our route handler (a page navigating or polling as the
        # test ends: the idle test's sign-out) could make context.close() wait forever
        # (seen in CI as a teardown hang after test_idle). Drop the handlers first, and
        # bound the close: a context that will not close fails this test, not the run.
        with contextlib.suppress(Exception):
            await context.unroute_all(behavior="ignoreErrors")
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await context.close()
        except TimeoutError:
            guard.errors.append(f"the browser context did not close in {CLOSE_SECONDS} s")
        except Exception:
            pass  # a context the browser already dropped
    problems = guard.problems()
    assert not problems, "page problems:\n" + "\n".join(problems)


@pytest_asyncio.fixture(loop_scope="session")
async def page(new_page, server: str) -> Page:
    return await new_page(server)


# ---- page helpers ------------------------------------------------------------------


async def scan(page: Page, code: str) -> None:
    """Scan at the till like a keyboard-wedge scanner: into the scan field, fast keys,
    then Enter."""
    field = page.locator("#scan-code")
    await field.focus()
    await page.keyboard.type(code, delay=5)
    await page.keyboard.press("Enter")


async def login(page: Page, name: str, pin: str | None = None) -> None:
    """Sign in the way staff do: tap the name tile, then tap the PIN pad keys."""
    if not page.url.endswith("/login") and "/login?" not in page.url:
        await page.goto("/login")
    tile = page.locator("label.tile", has=page.locator("span.tile-name", has_text=name))
    await tile.tap()
    for key in pin or LOGINS[name]:
        await page.locator(f'[data-pinpad] button[data-key="{key}"]').tap()
    await page.get_by_role("button", name="Sign in").tap()
