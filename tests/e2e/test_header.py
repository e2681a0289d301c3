"""The header on a 360x740 phone is one compact row with a Menu; a tablet keeps its
links in the bar. The Menu works by touch and by keyboard (issue #16 item 7)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import login

PHONE_HEADER_MAX_PX = 80  # was 263 (four rows) before issue #16


async def header_height(page: Page) -> float:
    box = await page.locator("header.topbar").bounding_box()
    assert box is not None
    return box["height"]


@pytest.mark.parametrize("who", ["Meena", "Ravi", "Asha"])
async def test_phone_header_is_one_row_with_a_menu(page: Page, device: str, who: str) -> None:
    await login(page, who)
    await expect(page.get_by_role("heading", name=f"Hello, {who}")).to_be_visible()
    menu_button = page.get_by_test_id("menu-button")
    wide_nav = page.locator("nav.nav-wide")
    if device == "tablet":
        await expect(menu_button).to_be_hidden()
        await expect(wide_nav.get_by_role("link", name="Products")).to_be_visible()
        await expect(page.locator("form.who-wide").get_by_role("button", name="Sign out")
                     ).to_be_visible()
        return
    height = await header_height(page)
    assert height < PHONE_HEADER_MAX_PX, f"header is {height} px tall on a phone"
    await expect(wide_nav).to_be_hidden()
    await expect(menu_button).to_be_visible()
    # Nothing in the bar sticks out of the screen.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Products")).to_have_count(0)  # menu closed

    await menu_button.tap()
    await expect(nav.get_by_role("link", name="Products")).to_be_visible()
    await expect(page.locator(".menu-panel").get_by_role("button", name="Sign out")
                 ).to_be_visible()
    if who == "Meena":
        await page.screenshot(path="/tmp/kirana-shots/menu-open-phone.png")
    # The open menu fits on the screen.
    box = await page.locator(".menu-panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    # A tap outside it (the strip left of the panel) closes it.
    await page.touchscreen.tap(4, box["y"] + 20)
    await expect(nav.get_by_role("link", name="Products")).to_be_hidden()

    await menu_button.tap()
    await nav.get_by_role("link", name="Products").tap()
    await expect(page).to_have_url(re.compile(r"/products$"))
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Products")
                 ).to_be_hidden()  # closed on the new page
    assert await header_height(page) < PHONE_HEADER_MAX_PX
    if who == "Ravi":
        await page.goto("/pick")
        assert await header_height(page) < PHONE_HEADER_MAX_PX
        await page.screenshot(path="/tmp/kirana-shots/pick-header-phone.png")


async def test_menu_by_keyboard(page: Page, device: str) -> None:
    """Tab to Menu, Enter opens it, Tab reaches its links, Escape closes it and puts
    focus back on Menu, Space opens it again."""
    if device != "phone":
        pytest.skip("the menu is a phone's")
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    menu_button = page.get_by_test_id("menu-button")
    await page.locator("a.brand").focus()
    for _ in range(5):  # past the link badges, if any
        await page.keyboard.press("Tab")
        if await menu_button.evaluate("el => el === document.activeElement"):
            break
    await expect(menu_button).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("details.menu")).to_have_attribute("open", "")
    await page.keyboard.press("Tab")
    first = page.locator(".menu-nav a").first
    await expect(first).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.locator("details.menu")).not_to_have_attribute("open", "")
    await expect(menu_button).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator("details.menu")).to_have_attribute("open", "")


async def test_camera_button_is_an_svg_icon(page: Page, device: str) -> None:
    """Issue #16 item 22: the emoji camera is an empty box without an emoji font; the
    button draws an SVG camera and keeps its spoken name."""
    await login(page, "Meena")
    await expect(page.get_by_role("heading", name="Hello, Meena")).to_be_visible()
    await page.goto("/stock/receive")
    button = page.get_by_role("button", name="Scan with the camera")
    await expect(button).to_be_visible()
    icon = button.locator("svg.camera-icon")
    await expect(icon).to_be_visible()
    box = await icon.bounding_box()
    assert box is not None and box["width"] >= 16 and box["height"] >= 16, box
    text = await button.inner_text()
    assert all(ord(c) < 0x1F000 for c in text), text
    if device == "phone":
        await page.screenshot(path="/tmp/kirana-shots/camera-button-phone.png")


async def test_help_from_the_menu(page: Page, device: str) -> None:
    """Issue #16 item 22: 'what to do when…' is one tap away in the Menu (in the bar on a
    tablet), opens on the person's own role and fits a phone's width."""
    await login(page, "Ravi")
    await expect(page.get_by_role("heading", name="Hello, Ravi")).to_be_visible()
    if device == "phone":
        await page.get_by_test_id("menu-button").tap()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Help").tap()
    await expect(page).to_have_url(re.compile(r"/help$"))
    await expect(page.get_by_test_id("help-picker")).to_be_visible()
    await expect(page.get_by_role("heading", name="A wrong item was scanned")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= (
        360 if device == "phone" else 1280)
    await page.get_by_role("link", name="The printer is out of paper").tap()
    await expect(page).to_have_url(re.compile(r"/help#paper$"))
    await expect(page.get_by_role("heading", name="The printer is out of paper")).to_be_in_viewport()
    await page.get_by_role("navigation", name="Help for").get_by_role("link", name="Cashier").tap()
    await expect(page.get_by_test_id("help-cashier")).to_be_visible()
    if device == "phone":
        await page.screenshot(path="/tmp/kirana-shots/help-cashier-phone.png", full_page=True)
