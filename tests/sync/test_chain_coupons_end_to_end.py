"""Chain promotions over the real link (issue #21): a hub and a store process, hub on
SQLite and on PostgreSQL. HQ makes a coupon offer on /hub/promotions; the store gets it
(read-only, with its allowance); a sale at the store's till with the coupon reports
its use to the hub, which books it once and tops the store's allowance up."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from app.core.auth import create_user
from tests.sync.harness import Hub, make_store, wait_for

pytestmark = pytest.mark.timeout(240)
ATTA_10KG = "8907064947864"  # ₹545.00 in the demo catalogue


def csrf(client: httpx.Client) -> str:
    return client.cookies.get("csrftoken", "")


def till_client(store, pin: str = "4726") -> httpx.Client:
    client = httpx.Client(base_url=store.proc.url, timeout=10)
    page = client.get("/login").text
    user_id = re.search(r'name="user_id" value="([^"]+)"', page).group(1)
    client.post("/login", data={"user_id": user_id, "pin": pin, "next": "/",
                                "_csrf_token": csrf(client)})
    return client


def hx(client: httpx.Client) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf(client)}


async def test_a_chain_coupon_goes_out_and_its_use_comes_back(hub: Hub, tmp_path,
                                                              migrated_template) -> None:
    client = hub.client()
    save = hub.post(client, "/hub/catalog/save", {
        "sku": "ATA-AASH-10KG", "name": "Atta 10 kg", "price": "545.00", "gst": "5",
        "unit": "piece", "barcodes": ATTA_10KG, "reorder_level": "2", "active": "on"})
    assert save.status_code in (200, 303), save.text[:300]
    token = hub.add_store("S1")
    store = make_store(tmp_path / "S1", "S1", hub.ws_url, token, migrated_template)
    till = None
    try:
        store.proc.start()
        wait_for(lambda: store.sql("SELECT count(*) FROM products")[0][0] == 1,
                 what="the catalogue at the store")
        made = hub.post(client, "/hub/promotions", {
            "kind": "bill_amount_off", "name": "HQ Rs 50 off", "amount": "50",
            "min_bill": "500", "coupon": "HQ50", "coupon_total": "10",
            "coupon_per_store": "2"})
        assert made.status_code == 200 and "sent to 1 store" in made.text, made.text[:500]
        wait_for(lambda: store.sql("SELECT source, allowance FROM coupons") == [("hub", 2)],
                 what="the coupon and its allowance at the store")
        assert store.sql("SELECT source, coupon FROM promotions") == [("hub", "HQ50")]

        await create_user(store.database(), "Meena", "manager", "4726")
        till = till_client(store)
        till.post("/pos/shift/open", data={"counter": "C1", "float": "0"}, headers=hx(till))
        page = till.get("/pos").text
        cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page).group(1)
        till.post("/pos/scan", data={"code": ATTA_10KG, "cart_id": cart}, headers=hx(till))
        said = till.post("/pos/scan", data={"code": "hq50", "cart_id": cart},
                         headers=hx(till)).text
        assert "Coupon HQ50 applied: ₹50.00 off" in said
        version = re.search(r'name="version" value="(\d+)"', said).group(1)
        done = till.post("/pos/pay/cash-exact", data={
            "cart_id": cart, "key": secrets.token_urlsafe(18), "version": version},
            headers=hx(till))
        assert done.status_code in (200, 201, 303), done.text[:300]
        assert store.sql("SELECT count(*) FROM coupon_uses") == [(1,)]

        # The use reaches the hub once; the store's allowance comes back topped up.
        wait_for(lambda: store.sql("SELECT allowance FROM coupons") == [(3,)],
                 what="the hub's top-up at the store")
        page = client.get("/hub/promotions").text
        assert "coupon HQ50 · 1 used of 10" in page
    finally:
        if till is not None:
            till.close()
        client.close()
        store.proc.stop()


def sell_with_coupon(till: httpx.Client, phone: str) -> str:
    """Scan the ₹545 atta, add the customer's number, type HQ50; what the till said
    (and, when applied, the sale completed in cash)."""
    till.post("/pos/shift/open", data={"counter": "C1", "float": "0"}, headers=hx(till))
    page = till.get("/pos").text
    cart = re.search(r'id="cart-id" name="cart_id" value="([^"]+)"', page).group(1)
    till.post("/pos/scan", data={"code": ATTA_10KG, "cart_id": cart}, headers=hx(till))
    till.post("/pos/cart/customer", data={"phone": phone, "cart_id": cart}, headers=hx(till))
    said = till.post("/pos/cart/coupon", data={"code": "HQ50", "cart_id": cart},
                     headers=hx(till)).text
    if "applied" in said:
        version = re.search(r'name="version" value="(\d+)"', said).group(1)
        done = till.post("/pos/pay/cash-exact", data={
            "cart_id": cart, "key": secrets.token_urlsafe(18), "version": version},
            headers=hx(till))
        assert done.status_code in (200, 201, 303), done.text[:300]
    return said


async def test_a_customers_limit_holds_across_two_stores_over_the_link(
        hub: Hub, tmp_path, migrated_template) -> None:
    """Per customer across the chain: the customer uses HQ50 (1 a customer) at S1; at S2,
    online, the till asks the hub and refuses it; the hub's page shows no overshoot."""
    client = hub.client()
    hub.post(client, "/hub/catalog/save", {
        "sku": "ATA-AASH-10KG", "name": "Atta 10 kg", "price": "545.00", "gst": "5",
        "unit": "piece", "barcodes": ATTA_10KG, "reorder_level": "2", "active": "on"})
    stores = [make_store(tmp_path / s, s, hub.ws_url, hub.add_store(s), migrated_template)
              for s in ("S1", "S2")]
    tills: list[httpx.Client] = []
    try:
        for store in stores:
            store.proc.start()
        made = hub.post(client, "/hub/promotions", {
            "kind": "bill_amount_off", "name": "HQ Rs 50 off", "amount": "50",
            "min_bill": "500", "coupon": "HQ50", "coupon_total": "10",
            "coupon_per_customer": "1", "coupon_per_store": "2"})
        assert "sent to 2 stores" in made.text, made.text[:500]
        for store in stores:
            wait_for(lambda store=store: store.sql(
                "SELECT per_customer_limit FROM coupons") == [(1,)],
                what="the coupon at the store")
            wait_for(lambda store=store: store.sql("SELECT count(*) FROM products")[0][0] == 1,
                     what="the catalogue at the store")
            await create_user(store.database(), "Meena", "manager", "4726")
            tills.append(till_client(store))
        assert "Coupon HQ50 applied" in sell_with_coupon(tills[0], "9876543210")
        wait_for(lambda: "1 used of 10" in client.get("/hub/promotions").text,
                 what="the use booked at the hub")
        said = sell_with_coupon(tills[1], "98765 43210")
        assert "already used by this customer across the chain" in said, said[:2000]
        # Another customer is served at S2.
        assert "applied" in sell_with_coupon(tills[1], "9123456789")
        page = client.get("/hub/promotions").text
        assert "past a customer's limit" not in page
        assert "9876543210" not in stores[0].sql("SELECT data FROM outbox WHERE kind = "
                                                 "'coupon.used'")[0][0]
    finally:
        for till in tills:
            till.close()
        client.close()
        for store in stores:
            store.proc.stop()
