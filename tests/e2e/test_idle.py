"""The device's side of the idle sign-out (issue #13 item 11), in real Chromium: every
htmx request says how long the device has been unused, so a page that polls does not
keep it signed in, and once the role's limit has passed the page goes back to the
server (which signs it out; tests/integration/test_idle_timeout.py checks that side)."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.e2e.conftest import login

# The jump past the limit is a fast_forward (each timer fires at most once), not a run_for:
# run_for(15 minutes) fired the page's 5-second poll 180 times, one real request each, and
# on a busy machine took about two minutes: past the e2e watchdog, which then ended the
# test process with its stacks in pytest's capture (the "died with no output" of issue 13).


async def until(condition, seconds: float = 10) -> None:
    for _ in range(int(seconds * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_polls_report_idle_time_and_the_page_leaves_after_the_limit(page, device):
    await page.clock.install()
    await login(page, "Meena")  # a manager: 15 minutes
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await page.goto("/printers")  # polls every 5 s
    assert await page.locator('meta[name="kirana-idle-seconds"]').get_attribute(
        "content") == "900"
    polls = []
    page.on("request", lambda r: polls.append(r) if r.url.endswith("/printers") and
            r.headers.get("hx-request") == "true" else None)
    await page.clock.run_for(12_000)
    await until(lambda: len(polls) > 1)
    idle = [int((await r.all_headers())["x-kirana-idle-seconds"]) for r in polls]
    assert idle == sorted(idle) and idle[-1] >= 5  # grows while nobody touches the page
    navigations = []
    page.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request()
            else None)
    await page.clock.fast_forward(15 * 60 * 1000 + 10_000)
    await until(lambda: navigations)
    assert navigations[0].endswith("/printers")
    # The reload finishes before the test ends, so no navigation is in flight at teardown.
    # (The server's clock is real, so the server does not see this device as idle: the
    # server side of the sign-out is tests/integration/test_idle_timeout.py's.)
    await page.wait_for_load_state("load")
