"""The shell and the leftover pages in Hindi (issue #22): home, the product pages, the
order board and an order, the till's overrides page, staff, sign-in locks, pairing, the
help pages and an error page show no English wording to a Hindi user of each role; an
English user's pages are unchanged; a staff member may go back to the store's default
language (no language of their own)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.core import i18n
from app.core.models import User
from tests.conftest import csrf_of
from tests.hindi import english_runs, untranslated
from tests.integration.test_orders import body, key, stocked  # noqa: F401  (fixtures)
from tests.integration.test_pos_pages import hx, open_till

# Data, not wording: the demo catalogue's names and categories, the order's customer and
# address, the store, commands and the words Hindi writes in Latin letters.
DATA = {"Priya Sharma", "Flat 12, 3rd Cross, HSR Layout", "webshop", "kirana serve",
        "kirana tls init --config …",
        "Wi-Fi", "e-receipt", "Kirana"}


async def _hindi(db, staff) -> None:
    async with db.write() as s:
        for user in (await s.scalars(select(User))).all():
            user.language = "hi"


def _allow(cfg, rows=()) -> set[str]:
    allow = set(DATA) | {cfg.store.name}
    for r in rows:
        allow |= {r.name, r.category}
    return {a for a in allow if a}


def _check(page: str, allow: set[str]) -> None:
    if "<html" in page:  # a whole page, not an htmx fragment
        assert 'lang="hi"' in page
    assert english_runs(page, allow=allow) == []
    assert untranslated(page) == []


@pytest.fixture
async def order(client, stocked, key):  # noqa: F811
    response = await client.post("/api/v1/orders", json=body(stocked), headers=key)
    assert response.status_code == 201, response.text
    return response.json()


async def _catalogue(db, cfg):
    from app.catalog.models import Product
    async with db.read() as s:
        return list((await s.scalars(select(Product))).all())


@pytest.mark.parametrize("role", ["cashier", "picker", "admin"])
async def test_each_roles_home_in_hindi(client, db, cfg, staff, login_as, role):
    await _hindi(db, staff)
    await login_as(role)
    home = (await client.get("/")).text
    _check(home, _allow(cfg))
    assert "नमस्ते" in home


async def test_home_products_help_and_errors_in_hindi(client, db, cfg, staff, login_as,
                                                      stocked):  # noqa: F811
    await _hindi(db, staff)
    await login_as("manager")
    allow = _allow(cfg, await _catalogue(db, cfg))
    home = (await client.get("/")).text
    _check(home, allow)
    assert "नमस्ते" in home
    for path in ("/products?q=atta", "/products/search?q=zzzz", f"/products/{stocked[0]}",
                 "/help/cashier", "/help/picker", "/help/manager", "/account/pin"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        _check(response.text, allow)
    # error pages (a signed-in page's 404: an unknown address has no one signed in)
    for path in ("/help/owner", "/products/NO-SUCH-SKU"):
        missing = await client.get(path)
        assert missing.status_code == 404, path
        _check(missing.text, allow)
        assert "<strong>नहीं मिला.</strong>" in missing.text


async def test_the_order_board_and_an_order_in_hindi(client, db, cfg, staff, login_as, order):
    await _hindi(db, staff)
    await login_as("picker")
    allow = _allow(cfg, await _catalogue(db, cfg)) | {order["number"]}
    board = (await client.get("/orders")).text
    _check(board, allow)
    assert "स्वीकार" in board  # the Accepted column
    fragment = (await client.get("/orders?late=true", headers={"HX-Request": "true"})).text
    assert english_runs(fragment, allow=allow) == [] and untranslated(fragment) == []
    page = await client.get(f"/orders/{order['id']}")
    assert page.status_code == 200
    _check(page.text, allow)
    gone = await client.get("/orders/no-such-order")
    assert gone.status_code == 404 and "ऐसा कोई ऑर्डर नहीं है।" in gone.text
    _check(gone.text, allow)


async def test_manager_pages_in_hindi(client, db, cfg, staff, login_as, stocked):  # noqa: F811
    await _hindi(db, staff)
    await login_as("manager")
    await open_till(client)
    await client.post("/pos/shift/cash", data={"kind": "in", "amount": "100",
                                               "reason": "float top-up"}, headers=hx(client))
    allow = _allow(cfg) | {"float top-up"}
    from app.core.models import AuditLog
    async with db.read() as s:  # the audit's detail column is data, written in English
        allow |= {a.detail for a in (await s.scalars(select(AuditLog))).all() if a.detail}
    for path in ("/pos/audit", "/staff", "/pair"):
        response = await client.get(path)
        assert response.status_code == 200, path
        # /pair's warnings about the certificate's names (app/core/cert_names.py) are
        # outside this page's wording: left out here
        page = re.sub(r'<div[^>]*data-testid="pair-problem">.*?</div>', "", response.text,
                      flags=re.S)
        _check(page, allow)
    assert "शिफ़्ट शुरू" in (await client.get("/pos/audit")).text


async def test_admin_locks_page_in_hindi(client, db, cfg, staff, login_as):
    await _hindi(db, staff)
    await login_as("admin")
    page = (await client.get("/security/locks")).text
    _check(page, _allow(cfg))
    assert "साइन-इन ताले" in page


async def test_english_pages_are_unchanged(client, db, cfg, staff, login_as, order):
    await login_as("manager")
    home = (await client.get("/")).text
    assert "<h1>Hello, Meena</h1>" in home and 'lang="en"' in home
    assert "Nothing matches “zzzz”. Try fewer letters, or scan the barcode." in (
        await client.get("/products/search?q=zzzz")).text
    board = (await client.get("/orders")).text
    assert "<h2>Accepted <span" in board and "1 line ·" not in board
    assert "Late or due in 5 min" in board
    page = (await client.get(f"/orders/{order['id']}")).text
    assert f"Order {order['number']}" in page and "promised by" in page
    assert "<dt>Customer</dt>" in page and "Prepaid" in page
    assert "<h1>What to do when…</h1>" in (await client.get("/help/manager")).text
    gone = await client.get("/orders/no-such-order")
    assert "<strong>Not found.</strong> No such order." in gone.text
    audit = (await client.get("/pos/audit")).text
    assert "<h1>Overrides and cash events</h1>" in audit


async def _toggle(client, lang: str):
    return await client.post("/language", data={"lang": lang, "next": "/account/pin",
                                                "_csrf_token": csrf_of(client)},
                             follow_redirects=False)


async def test_back_to_the_store_default(client, db, staff, login_as):
    """Own language chosen, then 'the store's default': users.language is empty again,
    the device's cookie goes, the store's language (English here) shows."""
    await login_as("cashier")
    assert (await _toggle(client, "hi")).status_code == 303
    async with db.read() as s:
        assert (await s.get(User, staff["cashier"])).language == "hi"
    profile = (await client.get("/account/pin")).text
    assert 'data-testid="lang-default"' in profile
    assert "स्टोर की अपनी भाषा (English)" in profile
    response = await _toggle(client, i18n.STORE_DEFAULT)
    assert response.status_code == 303 and response.headers["location"] == "/account/pin"
    assert i18n.LANG_COOKIE not in client.cookies or not client.cookies.get(i18n.LANG_COOKIE)
    async with db.read() as s:
        assert (await s.get(User, staff["cashier"])).language in ("", None)
    profile = (await client.get("/account/pin")).text
    assert 'lang="en"' in profile and "The store's default (English)" in profile
    pressed = profile.split('data-testid="lang-default"')[0].rsplit("<button", 1)[1]
    assert 'aria-pressed="true"' in pressed
    # signed out, the PIN screen offers no "default" (nobody's choice to take away)
    assert 'data-testid="lang-default"' not in (await client.get("/login")).text


async def test_the_default_is_refused_without_a_sign_in_choice_to_reset(client, staff):
    """Signed out, 'default' only forgets this device's choice; hostile values still 400."""
    await client.get("/login")
    await client.post("/language", data={"lang": "hi", "next": "/login",
                                         "_csrf_token": csrf_of(client)})
    assert client.cookies.get(i18n.LANG_COOKIE) == "hi"
    response = await client.post("/language", data={"lang": "default", "next": "/login",
                                                    "_csrf_token": csrf_of(client)},
                                 follow_redirects=False)
    assert response.status_code == 303
    assert not client.cookies.get(i18n.LANG_COOKIE)
    assert "Tap your name" in (await client.get("/login")).text
    for bad in ("Default", "default\x00", "store", " default"):
        r = await client.post("/language", data={"lang": bad, "_csrf_token": csrf_of(client)})
        assert r.status_code == 400, bad


async def _trust_page(language: str) -> str:
    """The plain-HTTP trust page a phone opens before it trusts the store."""
    from types import SimpleNamespace

    from app.core import lan_https
    switch = SimpleNamespace(fingerprint="AB:" * 31 + "CD", names=(), ips=(), ca_pem=b"")
    door = lan_https.PlainHttpDoor(None, switch=switch, base_url="https://store.local:8443",
                                   store_name="Sharma Kirana", language=language)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await door._plain({"type": "http", "scheme": "http", "method": "GET",
                       "path": lan_https.TRUST_PATH, "headers": []}, send)
    return b"".join(m.get("body", b"") for m in sent).decode()


async def test_the_trust_page_speaks_the_stores_language():
    hindi = await _trust_page("hi")
    assert 'lang="hi"' in hindi and "Sharma Kirana पर भरोसा करें" in hindi
    assert english_runs(hindi, allow={"Sharma Kirana", "Kirana local CA", "Wi-Fi",
                                      "Security &amp; privacy", "Security & privacy",
                                      "kirana-store-ca.crt"}) == []
    assert untranslated(hindi) == []
    english = await _trust_page("en")
    assert 'lang="en"' in english and "<h1>Trust Sharma Kirana</h1>" in english
    assert "Settings → Security &amp; privacy → More security settings" in english
    assert i18n.current_language() == "en"


def test_the_stores_own_order_reasons_are_shown_translated():
    """Stored (and sent to channels) in English; a Hindi reader reads them in Hindi; text
    a channel typed is shown as typed."""
    from app.orders.routes import shown_reason

    cases = {"every line in stock": "हर लाइन स्टॉक में", "batch B-7": "बैच B-7",
             "1 bag": "1 थैला", "3 bags": "3 थैले", "packed and labelled": "पैक और लेबल हो गया",
             "not enough stock: ATA-1 (wanted 2, have 0), DAL-2 (wanted 1, have 0)":
             "स्टॉक कम: ATA-1 (चाहिए 2, है 0), DAL-2 (चाहिए 1, है 0)",
             "customer asked, <b>twice</b>": "customer asked, <b>twice</b>",
             "not enough stock: odd text": "not enough stock: odd text"}
    for stored, hindi in cases.items():
        assert shown_reason(stored) == stored  # English as stored
        with i18n.use_language("hi"):
            assert shown_reason(stored) == hindi
