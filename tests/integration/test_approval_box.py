"""The manager's PIN box at the till (issue #16 till 3): it comes with the cart (the box
stands over it, not instead of it), names the line and the amount it approves, and has
no manager chosen beforehand."""

from __future__ import annotations

import re

from app.core.money import format_amount
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401 (fixture)


def what(html: str) -> str:
    found = re.search(r'data-testid="approval-what">([^<]*)<', html)
    return found.group(1) if found else ""


def manager_options(html: str) -> list[str]:
    select = re.search(r'<select name="approver_id".*?</select>', html, re.S).group(0)
    return re.findall(r"<option[^>]*>", select)


async def test_the_box_names_what_it_approves_over_the_cart(client, login_as, rows,  # noqa: F811
                                                             staff, app):
    app.state.cfg.pos.void_approval_above_rupees = 0  # every removal needs a manager here
    await login_as("cashier")
    cart = await open_till(client)
    product = max(rows[:30], key=lambda r: r.price_minor)
    for _ in range(2):
        r = await client.post("/pos/scan", data={"code": product.barcodes[0], "cart_id": cart},
                              headers=hx(client))
    line = re.search(r"/pos/lines/([^/]+)/discount", r.text).group(1)
    gross = 2 * product.price_minor

    r = await client.post(f"/pos/lines/{line}/discount",
                          data={"cart_id": cart, "kind": "percent", "value": "25"},
                          headers=hx(client))
    assert 'data-testid="approval-overlay"' in r.text and 'aria-modal="true"' in r.text
    assert 'data-testid="cart-line"' in r.text  # the cart, still in sight behind the box
    assert 'data-testid="pos-message"' not in r.text  # the reason is said once, in the box
    assert 'id="cart-summary"' in r.text and r.text.count('id="cart-id"') == 1
    off = round(gross * 25 / 100)
    assert what(r.text) == (f"{product.name}: 25% off, {format_amount(off)} off "
                            f"{format_amount(gross)}")
    options = manager_options(r.text)
    assert options[0] == '<option value="" disabled selected>' and len(options) >= 2
    assert not any("selected" in o for o in options[1:])  # nobody chosen for the cashier

    # A wrong PIN keeps the manager who was chosen, and still says what is approved.
    r = await client.post(f"/pos/lines/{line}/discount", data={
        "cart_id": cart, "kind": "amount", "value": "50", "approver_id": staff["manager"],
        "approver_pin": "0000"}, headers=hx(client))
    assert "Wrong PIN" in r.text
    assert f'<option value="{staff["manager"]}" selected>' in r.text
    assert what(r.text) == f"{product.name}: ₹50.00 off, ₹50.00 off {format_amount(gross)}"

    r = await client.post(f"/pos/lines/{line}/qty", data={"cart_id": cart, "step": "-1"},
                          headers=hx(client))
    assert what(r.text) == f"{product.name}: quantity 2 → 1"
    r = await client.post(f"/pos/lines/{line}/void", data={"cart_id": cart}, headers=hx(client))
    assert what(r.text) == f"Remove {product.name} from the bill: {format_amount(gross)}"
    r = await client.post("/pos/cart/void", data={"cart_id": cart}, headers=hx(client))
    assert what(r.text).startswith("Void the whole bill: ₹")
    r = await client.post("/pos/cart/discount", data={"cart_id": cart, "kind": "percent",
                                                      "value": "50"}, headers=hx(client))
    assert what(r.text) == (f"The bill: 50% off, {format_amount(round(gross / 2))} off "
                            f"{format_amount(gross)}")
