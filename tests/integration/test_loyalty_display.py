# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""A loyalty customer on the customer display (issue #21), through the real pages: the
screen facing the queue shows the number masked, the balance and what the bill uses
and earns, and after the sale what it used and earned; the whole number is never on
any screen the display is sent (the page, its live stream's screens). A cart whose
number never joined shows no points."""

from __future__ import annotations

import re

from app.display import screens, service
from app.display.live import TillSignal
from tests.integration.test_customer_display import pair
from tests.integration.test_loyalty_pages import PHONE, cfg, join, sell  # noqa: F401
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401


async def test_the_display_shows_points_with_the_number_masked(app, client, login_as, rows,
                                                               db, cfg):
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        await login_as("cashier")
        await join(client)
        cart = await open_till(client)
        panel = await sell(client, rows, cart, 5, customer=PHONE)  # ₹975: 97 points
        page = (await screen.get("/display")).text
        assert 'data-testid="display-points"' in page and "98xxxxxx10" in page
        assert 'data-testid="display-points-earn">97 points' in page
        assert 'data-testid="display-points-balance">Balance 0 points' in page
        assert PHONE not in page
        key = re.search(r'name="key" value="([^"]+)"', panel.text).group(1)
        done = await client.post("/pos/pay/cash-exact", data={"cart_id": cart, "key": key},
                                 headers=hx(client))
        sale_id = done.headers["hx-redirect"].rsplit("/", 1)[-1]
        thanks = (await screen.get("/display")).text
        assert 'data-testid="display-thanks-points"' in thanks, thanks[:2000]
        assert "earned 97 points; balance 97 points" in thanks and PHONE not in thanks
        # The next bill spends points: used and earned on the screen, masked.
        nxt = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"',
                        (await client.get("/pos")).text).group(1)
        await sell(client, rows, nxt, 2, customer=PHONE, points="97")  # ₹390: ₹97 points
        paying = (await screen.get("/display")).text
        assert 'data-testid="display-points-used">97 points' in paying
        assert 'data-testid="display-points-earn">29 points' in paying
        assert 'data-testid="display-points-balance">Balance 97 points' in paying
        assert "98xxxxxx10" in paying and PHONE not in paying
        # the live stream's screens are drawn by the same code: never the number either
        for mode in ("cart", "pay"):
            drawn = await screens.screen_for(db, cfg, service.Display("d", "C1", "Front"),
                                             TillSignal(mode))
            assert PHONE not in repr(drawn.context.get("points"))
            assert drawn.context["points"]["phone"] == "98xxxxxx10"
        assert sale_id
    finally:
        await screen.__aexit__(None, None, None)


async def test_no_points_for_a_number_that_never_joined(app, client, login_as, rows, db):
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        await login_as("cashier")
        cart = await open_till(client)
        await sell(client, rows, cart, 1, customer=PHONE)
        page = (await screen.get("/display")).text
        assert 'data-testid="display-total"' in page
        assert 'data-testid="display-points"' not in page and PHONE not in page
        assert "98xxxxxx10" not in page
    finally:
        await screen.__aexit__(None, None, None)
