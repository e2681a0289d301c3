"""The UPI QR carries the amount the cashier types for a split (issue #16 till 4), not
all that is due: the customer's app must ask for what the till will record."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from app.pos import pay_routes
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401 (fixture)


def upi_of(html: str) -> tuple[str, str]:
    """(amount in the UPI link, the QR image's address) of a pay panel or UPI fragment."""
    uri = re.search(r'data-upi="([^"]+)"', html).group(1).replace("&amp;", "&")
    src = re.search(r'<img src="([^"]+)"[^>]*data-testid="upi-qr"', html).group(1)
    return parse_qs(urlsplit(uri).query)["am"][0], src.replace("&amp;", "&")


async def test_the_upi_qr_follows_the_amount_typed(app, client, login_as, rows):  # noqa: F811
    await login_as("cashier")
    cart = await open_till(client)
    for _ in range(3):  # three of one product: well over ₹10 due
        await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
    panel = (await client.get("/pos/pay", headers=hx(client))).text
    due = re.search(r'data-testid="still-due">₹([0-9,.]+)<', panel).group(1).replace(",", "")
    assert upi_of(panel)[0] == due  # untouched, the QR asks for all that is due
    assert 'hx-get="/pos/pay/upi-code"' in panel

    part = await client.get("/pos/pay/upi-code?amount=10", headers=hx(client))
    amount, src = upi_of(part.text)
    assert amount == "10.00" and src == "/pos/pay/upi-qr.svg?amount=1000"
    assert 'data-testid="upi-amount">₹10.00<' in part.text
    image = await client.get(src)
    store_link = pay_routes._store_upi_uri(app.state.cfg, 1000)
    assert image.content == pay_routes._upi_qr_svg(store_link) and "am=10.00" in store_link

    # What the UPI tender would refuse gets no QR, and says why.
    for bad, why in (("0", "more than zero"), ("abc", "abc"), ("-5", ""),
                     (str(int(float(due)) + 1), "more than the")):
        r = await client.get(f"/pos/pay/upi-code?amount={bad}", headers=hx(client))
        assert r.status_code == 200 and 'data-testid="upi-qr"' not in r.text, bad
        assert 'data-testid="upi-refused"' in r.text and why in r.text, (bad, r.text)

    # After ₹10 by UPI, the next QR asks for what is left.
    r = await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "upi",
                                                   "amount": "10"}, headers=hx(client))
    left = f"{float(due) - 10:.2f}"
    assert upi_of(r.text)[0] == left
    assert upi_of((await client.get("/pos/pay/upi-code?amount=", headers=hx(client))).text
                  )[0] == left
