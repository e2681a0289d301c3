"""The pay panel links the UPI QR as an image instead of drawing it into every panel
(issue #15: 7 ms of CPU on every tender's re-render); the image is this store's link
for the amount, drawn once per amount (pages are no-store: the LRU keeps it)."""

from __future__ import annotations

import re

from app.pos import pay_routes
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401 (fixture)


async def test_the_pay_panel_links_the_upi_qr_and_draws_it_once(client, login_as, rows,  # noqa: F811
                                                                  monkeypatch):
    drawn: list[str] = []
    real = pay_routes.qr_svg_data_uri
    monkeypatch.setattr(pay_routes, "qr_svg_data_uri", lambda uri: drawn.append(uri) or real(uri))
    pay_routes._upi_qr_svg.cache_clear()
    await login_as("cashier")
    cart = await open_till(client)
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    panel = (await client.get("/pos/pay", headers=hx(client))).text
    assert drawn == [] and "data:image/svg" not in panel  # the panel draws nothing
    src = re.search(r'<img src="([^"]+)"[^>]*data-testid="upi-qr"', panel).group(1)
    uri = re.search(r'data-upi="([^"]+)"', panel).group(1).replace("&amp;", "&")
    src = src.replace("&amp;", "&")
    for _ in range(2):
        image = await client.get(src)
        assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
        assert image.content.startswith(b"<?xml") and b"<svg" in image.content
    assert drawn == [uri]  # drawn once, for the link the panel shows


async def test_the_upi_qr_is_only_this_stores_link_for_a_real_amount(app, client, login_as):
    signed_out = await client.get("/pos/pay/upi-qr.svg?amount=100")
    assert "image/svg" not in signed_out.headers["content-type"]  # the sign-in page
    await login_as("cashier")
    for bad in ("0", "-5", "10000000001", "x", "1.5"):
        r = await client.get(f"/pos/pay/upi-qr.svg?amount={bad}")
        assert r.status_code in (400, 404), (bad, r.status_code)
    r = await client.get("/pos/pay/upi-qr.svg?amount=4500&pa=thief@upi&pn=Thief")
    assert r.status_code == 200
    store_link = pay_routes._store_upi_uri(app.state.cfg, 4500)
    assert "pa=kiranafresh%40okaxis" in store_link and "am=45.00" in store_link
    assert r.content == pay_routes._upi_qr_svg(store_link)
    assert r.content != pay_routes._upi_qr_svg(store_link.replace("45.00", "45.01"))
