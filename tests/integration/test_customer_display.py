"""The customer display (issue #21): pairing a screen to a counter, its credential
(hashed, one counter, read only, revocable), the till's hook that tells the counter's
displays, what each screen shows, and the slideshow's uploads. Real SQLite."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.core.money import format_amount
from app.core.security import hash_token
from app.display import screens, service
from app.display.live import TillSignal, signal_for
from app.display.models import CustomerDisplay, DisplaySlide
from app.display.routes import COOKIE
from app.pos import pay_routes, payment
from app.pos.receipts import sale_saved
from tests.conftest import csrf_of
from tests.integration.test_pos_pages import (  # noqa: F401 (fixture)
    hx,
    open_till,
    pay_cash_and_complete,
    rows,
)
from tests.integration.test_pos_service import catalog, parsed  # noqa: F401 (fixtures)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64


async def pair(app, client, counter: str = "C1", name: str = "Front screen"):
    """As the signed-in manager on `client`: a pairing link; then a new screen (its own
    client) opens it and joins. Returns (display client, its token)."""
    page = await client.post("/display/screens", data={"counter": counter, "name": name},
                             headers={"x-csrftoken": csrf_of(client)})
    assert page.status_code == 201 or page.status_code == 200, page.text
    link = re.search(r'data-testid="pairing-link"><code>([^<]+)</code>', page.text).group(1)
    code = link.split("code=")[1]
    screen = AsyncTestClient(app=app)
    await screen.__aenter__()
    joined = await screen.get(f"/display/join?code={code}")
    assert joined.status_code == 200 and 'data-testid="join"' in joined.text
    done = await screen.post("/display/join", data={"code": code, "_csrf_token": csrf_of(screen)},
                             follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/display"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/display" in cookie and "SameSite=strict" in cookie
    return screen, screen.cookies.get(COOKIE), code


async def test_pairing_gives_a_hashed_token_bound_to_the_counter_once(app, client, login_as,
                                                                      db):
    await login_as("manager")
    screen, token, code = await pair(app, client, "C1")
    try:
        async with db.read() as s:
            row = await s.scalar(select(CustomerDisplay))
        assert row.counter == "C1" and row.token_hash == hash_token(token) != token
        assert row.pairing_hash is None  # used up
        page = await screen.get("/display")
        assert page.status_code == 200 and 'data-testid="display-idle"' in page.text
        # The code works once: a second screen with the same link is refused.
        other = AsyncTestClient(app=app)
        async with other:
            await other.get(f"/display/join?code={code}")
            again = await other.post("/display/join",
                                     data={"code": code, "_csrf_token": csrf_of(other)})
            assert again.status_code == 400 and "not valid any more" in again.text
            assert other.cookies.get(COOKIE) is None
    finally:
        await screen.__aexit__(None, None, None)


async def test_an_expired_or_hostile_code_is_refused(db, cfg, staff):
    from app.core.auth import StaffUser

    manager = StaffUser(staff["manager"], "Meena", "manager")
    row, code = await service.start_pairing(db, cfg, "C1", "Screen", manager)
    async with db.write() as s:
        found = await s.get(CustomerDisplay, row.id)
        found.pairing_expires_at = found.created_at.replace(year=2000)
    for bad in (code, "", "x" * 100_000, "abc\x00def" * 5, "' OR 1=1 --" * 3):
        with pytest.raises(service.DisplayError):
            await service.join(db, bad)
    for counter, name in (("C9", "Screen"), ("C1", ""), ("C1", "x" * 41), ("C1", "a\x00b"),
                          ("nan", "Screen"), ("C1" * 50_000, "Screen")):
        with pytest.raises(service.DisplayError):
            await service.start_pairing(db, cfg, counter, name, manager)
    assert await service.display_for_token(db, "x" * 100_000) is None
    assert await service.display_for_token(db, "") is None


async def test_a_display_opens_no_staff_page_and_staff_need_a_display(app, client, login_as):
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        for path in ("/pos", "/pos/pay", "/pos/pay/upi-qr.svg?amount=100", "/display/screens",
                     "/promotions", "/", "/orders/events", "/reports"):
            r = await screen.get(path, follow_redirects=False)
            assert r.status_code in (302, 303, 401, 403), (path, r.status_code)
            assert "image/svg" not in r.headers.get("content-type", "")
        # Posting as the display changes nothing either (no session, no CSRF token).
        r = await screen.post("/display/screens", data={"counter": "C1", "name": "x"},
                              follow_redirects=False)
        assert r.status_code in (302, 303, 401, 403)
        # A signed-in manager without the display cookie is not a display.
        assert (await client.get("/display")).status_code == 403
        assert (await client.get("/display/events")).status_code == 403
    finally:
        await screen.__aexit__(None, None, None)


async def test_revoked_display_is_refused_at_once(app, client, login_as, db):
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        assert (await screen.get("/display")).status_code == 200
        async with db.read() as s:
            row = await s.scalar(select(CustomerDisplay))
        page = await client.post(f"/display/screens/{row.id}/revoke",
                                 headers={"x-csrftoken": csrf_of(client)})
        assert "is unpaired" in page.text
        r = await screen.get("/display")
        assert r.status_code == 403 and "not paired" in r.text
        assert not await service.still_valid(db, row.id)
        bad = await client.post("/display/screens/nope/revoke",
                                headers={"x-csrftoken": csrf_of(client)})
        assert bad.status_code == 404
    finally:
        await screen.__aexit__(None, None, None)


async def test_a_display_shows_its_own_counter_only(app, client, login_as, rows, db,  # noqa: F811
                                                    cfg):
    await login_as("manager")
    screen, token, _code = await pair(app, client, "C1")
    try:
        display = await service.display_for_token(db, token)
        broker = app.state.display_broker
        # Another counter's cashier scans: the C1 display stays idle and is not woken.
        cart = await open_till(client, "C2")
        await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                          headers=hx(client))
        assert broker.feed("C2").version == 1 and broker.feed("C1").version == 0
        page = await screen.get("/display?counter=C2")
        assert 'data-testid="display-idle"' in page.text and rows[0].name not in page.text
        shown = await screens.screen_for(db, cfg, display, TillSignal())
        assert shown.template == "display/_idle.html"
    finally:
        await screen.__aexit__(None, None, None)


async def test_the_till_hook_bumps_the_cashiers_counter(app, client, login_as, rows,  # noqa: F811
                                                        db, cfg):
    await login_as("cashier")
    feed = app.state.display_broker.feed("C1")
    cart = await open_till(client, "C1")
    before = feed.version
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    assert feed.version == before + 1 and feed.signal.mode == "cart"
    # A coupon typed at the till changes the bill: the display is told too.
    await client.post("/pos/cart/coupon", data={"cart_id": cart, "code": "NOSUCH"},
                      headers=hx(client))
    assert feed.version == before + 2
    before += 1
    await client.get("/pos/search?q=a", headers=hx(client))  # changes nothing: no bump
    await client.get("/pos/printer-alerts", headers=hx(client))
    assert feed.version == before + 1
    display = service.Display("d", "C1", "x")
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.template == "display/_cart.html"
    assert shown.context["lines"][0]["name"] == rows[0].name
    total = shown.context["totals"].total

    await client.get("/pos/pay", headers=hx(client))
    assert feed.signal.mode == "pay" and not feed.signal.upi
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.context["paying"] and shown.context["upi"] is None  # UPI not chosen yet
    await client.get("/pos/pay/upi-code", headers=hx(client))
    assert feed.signal.upi and feed.signal.upi_amount == ""
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.context["upi"]["amount"] == total
    assert shown.context["upi"]["qr"] == screens.qr_image(pay_routes._store_upi_uri(cfg, total))
    pytest.importorskip("pyzbar.pyzbar", reason="pyzbar and Debian's libzbar0 (make test)")
    from tests.integration.test_lan_https import decode_qr

    read = decode_qr(shown.context["upi"]["qr"])  # what the customer's phone reads
    assert read == pay_routes._store_upi_uri(cfg, total)
    assert f"am={total // 100}.{total % 100:02d}&" in read

    # A split: the QR is for the amount typed for UPI, exactly.
    await client.get("/pos/pay/upi-code?amount=1.00", headers=hx(client))
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.context["upi"]["amount"] == 100
    await client.get("/pos/pay/upi-code?amount=nan", headers=hx(client))  # refused at the till
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.context["upi"] is None and shown.context["remaining"] == total

    await client.post("/pos/pay/tender", data={"cart_id": cart, "kind": "upi",
                                               "amount": f"{total // 100}.{total % 100:02d}"},
                      headers=hx(client))
    panel = await client.get("/pos/pay", headers=hx(client))
    key = re.search(r'name="key" value="([^"]+)"', panel.text).group(1)
    version = re.search(r'name="version" value="([^"]+)"', panel.text).group(1)
    done = await client.post("/pos/pay/complete", data={"cart_id": cart, "key": key,
                                                        "version": version},
                             headers=hx(client))
    assert done.headers["HX-Redirect"].startswith("/pos/sales/")
    assert feed.signal.mode == "done" and feed.signal.sale_id
    shown = await screens.screen_for(db, cfg, display, feed.signal)
    assert shown.template == "display/_thanks.html" and shown.changes_in > 0
    sale = shown.context["sale"]
    assert decode_qr(shown.context["receipt_qr"]) == f"{cfg.public_url}/r/{sale.receipt_token}"
    receipt = await client.get(f"/r/{sale.receipt_token}")
    assert receipt.status_code == 200 and sale.number in receipt.text
    # The thank-you screen ends by itself, back to the slideshow.
    later = time.monotonic() + cfg.display.thank_you_seconds + 1
    assert (await screens.screen_for(db, cfg, display, feed.signal, later)).template == \
        "display/_idle.html"
    # Another counter's display never shows this sale's thank-you.
    other = await screens.screen_for(db, cfg, service.Display("e", "C2", "y"), feed.signal)
    assert other.template == "display/_idle.html"


def test_signals_of_till_steps() -> None:
    assert signal_for("POST", "/pos/scan", b"", 200, "").mode == "cart"
    assert signal_for("POST", "/pos/scan", b"", 409, "") is None
    assert signal_for("GET", "/pos/search", b"q=x", 200, "") is None
    assert signal_for("GET", "/pos/pay", b"", 200, "").mode == "pay"
    upi = signal_for("GET", "/pos/pay/upi-code", b"amount=" + b"9" * 5000, 200, "")
    assert upi.upi and len(upi.upi_amount) <= 20
    done = signal_for("POST", "/pos/pay/cash-exact", b"", 303, "/pos/sales/abc-1")
    assert done.mode == "done" and done.sale_id == "abc-1"
    assert signal_for("POST", "/pos/pay/complete", b"", 200, "/elsewhere").mode == "pay"
    assert signal_for("POST", "/pos/pay/tender/x/remove", b"", 200, "").mode == "pay"


def test_the_displays_upi_link_is_the_tills() -> None:
    import tempfile
    from pathlib import Path

    from tests.conftest import make_config

    cfg = make_config(Path(tempfile.mkdtemp()))
    for amount in (1, 99, 100, 4500, 123456789):
        assert screens.upi_uri(cfg, amount) == pay_routes._store_upi_uri(cfg, amount)


# ---- the slideshow ---------------------------------------------------------------------


async def test_slides_are_checked_by_their_bytes_and_capped(db, cfg, staff):
    from app.core.auth import StaffUser

    manager = StaffUser(staff["manager"], "Meena", "manager")
    folder = cfg.data_dir / service.SLIDE_DIR
    hostile = [b"", b"<html><script>alert(1)</script></html>", b"<svg onload=alert(1)>",
               b"GIF89a" + b"\x00" * 50, b"\x00" * 100, b"RIFF\x00\x00\x00\x00AVI ",
               b"\x89PNG" + b"\x00" * (service.MAX_SLIDE_KB * 1024)]
    for data in hostile:
        with pytest.raises(service.DisplayError, match="Nothing was stored"):
            await service.add_slide(db, cfg, data, manager)
    assert not folder.exists() or not any(folder.iterdir())
    assert await service.list_slides(db) == []
    for data in (PNG, JPEG, WEBP):
        await service.add_slide(db, cfg, data, manager)
    kinds = sorted(x.kind for x in await service.list_slides(db))
    assert kinds == ["jpeg", "png", "webp"]
    for _ in range(service.MAX_SLIDES - 3):
        await service.add_slide(db, cfg, PNG, manager)
    with pytest.raises(service.DisplayError, match="at most"):
        await service.add_slide(db, cfg, PNG, manager)
    assert len(list(folder.iterdir())) == service.MAX_SLIDES
    assert all((p.stat().st_mode & 0o077) == 0 for p in folder.iterdir())  # 0600
    first = (await service.list_slides(db))[0]
    await service.remove_slide(db, cfg, first.id, manager)
    assert not (cfg.data_dir / first.file).exists()
    assert await service.slide_file(db, cfg, "../../etc/passwd") is None


async def test_slide_upload_page_and_the_display_gets_the_image(app, client, login_as, db):
    await login_as("manager")
    screen, _token, _code = await pair(app, client, "C1")
    try:
        up = await client.post("/display/slides", files={"image": ("a.png", PNG, "image/png")},
                               headers={"x-csrftoken": csrf_of(client)})
        assert up.status_code == 201 or up.status_code == 200
        assert "Image added" in up.text
        bad = await client.post("/display/slides",
                                files={"image": ("cat.png", b"<html>hi</html>", "image/png")},
                                headers={"x-csrftoken": csrf_of(client)})
        assert bad.status_code == 400 and "not a PNG, JPEG or WebP" in bad.text
        async with db.read() as s:
            slides = list(await s.scalars(select(DisplaySlide)))
        assert len(slides) == 1
        idle = await screen.get("/display")
        assert f"/display/slides/{slides[0].id}" in idle.text
        image = await screen.get(f"/display/slides/{slides[0].id}")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content == PNG
        assert (await screen.get("/display/slides/nope")).status_code == 404
    finally:
        await screen.__aexit__(None, None, None)


async def test_a_cashier_may_not_manage_displays(client, login_as):
    await login_as("cashier")
    assert (await client.get("/display/screens")).status_code == 403
    r = await client.post("/display/slides", files={"image": ("a.png", PNG, "image/png")},
                          headers={"x-csrftoken": csrf_of(client)})
    assert r.status_code == 403


async def test_the_stream_pushes_each_change_and_ends_when_unpaired(app, client, login_as,
                                                                    rows, db):  # noqa: F811
    """The display's stream itself (the generator behind /display/events): the screen as
    it is first, then each change of its counter only, then 'revoked'."""
    import asyncio
    from types import SimpleNamespace

    from app.display.routes import _screens

    await login_as("manager")
    screen, token, _code = await pair(app, client, "C1")
    await screen.__aexit__(None, None, None)
    display = await service.display_for_token(db, token)
    events = _screens(SimpleNamespace(app=app), display)  # type: ignore[arg-type]
    assert (await anext(events)).event == "hello"
    first = await anext(events)
    assert first.event == "screen" and 'data-testid="display-idle"' in first.data
    cart = await open_till(client, "C1")
    started = time.monotonic()
    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    pushed = await asyncio.wait_for(anext(events), 2)
    assert pushed.event == "screen" and rows[0].name in pushed.data
    assert time.monotonic() - started < 0.3
    # Two displays on one counter: each stream gets the change.
    second = _screens(SimpleNamespace(app=app), display)  # type: ignore[arg-type]
    assert (await anext(second)).event == "hello"
    assert rows[0].name in (await anext(second)).data
    await client.post("/pos/scan", data={"code": rows[1].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    for stream in (events, second):
        assert rows[1].name in (await asyncio.wait_for(anext(stream), 2)).data
    await client.post(f"/display/screens/{display.id}/revoke",
                      headers={"x-csrftoken": csrf_of(client)})
    ended = await asyncio.wait_for(anext(events), 2)
    assert ended.event == "revoked"
    with pytest.raises(StopAsyncIteration):
        await anext(events)
    await second.aclose()


async def test_hostile_pairing_forms_change_nothing(app, client, login_as, db):
    await login_as("manager")
    for form in ({"counter": "C1", "name": "x\x00y"}, {"counter": "C1", "name": "n" * 100_000},
                 {"counter": "C1" * 10_000, "name": "Screen"}, {"counter": "inf", "name": "S"},
                 {"counter": "", "name": ""}, {}):
        r = await client.post("/display/screens", data=form,
                              headers={"x-csrftoken": csrf_of(client)})
        assert r.status_code == 400, form  # (the app's input bounds or the page's message)
    async with db.read() as s:
        assert list(await s.scalars(select(CustomerDisplay))) == []
    screen = AsyncTestClient(app=app)
    async with screen:
        await screen.get("/display/join?code=" + "x" * 5000)
        for code in ("", "a\x00" * 20, "x" * 100_000, str(2**63)):
            r = await screen.post("/display/join", data={"code": code,
                                                         "_csrf_token": csrf_of(screen)})
            assert r.status_code == 400
            assert screen.cookies.get(COOKIE) is None
        # A forged cookie is no display.
        screen.cookies.set(COOKIE, "A" * 43, path="/display")
        assert (await screen.get("/display")).status_code == 403


async def test_one_display_may_hold_only_a_few_streams(app, client, login_as, db):
    from collections import Counter

    from app.display.routes import MAX_STREAMS_PER_DISPLAY

    await login_as("manager")
    screen, token, _code = await pair(app, client, "C1")
    try:
        display = await service.display_for_token(db, token)
        app.state.display_streams = Counter({display.id: MAX_STREAMS_PER_DISPLAY})
        r = await screen.get("/display/events")
        assert r.status_code == 429 and "too many open display pages" in r.text
    finally:
        await screen.__aexit__(None, None, None)


async def test_the_display_shows_offers_and_what_the_customer_saves(app, client, login_as,
                                                                    db, catalog):  # noqa: F811
    """A "buy 2 get 1" scanned three times: the line's offer, the offers' total and
    "You save" on the display, equal to what the receipt will say."""
    from tests.integration.test_pos_service import ATTA, barcode
    from tests.integration.test_promotions_till import BOGO

    await login_as("manager")
    made = await client.post("/promotions", data={**BOGO, "_csrf_token": csrf_of(client)})
    assert made.status_code == 200
    screen, _token, _code = await pair(app, client, "C1")
    try:
        cart = await open_till(client)
        for _ in range(3):
            await client.post("/pos/scan", data={"code": barcode(catalog, ATTA),
                                                 "cart_id": cart}, headers=hx(client))
        shown = (await screen.get("/display")).text
        assert 'data-testid="display-offer">Atta: buy 2 get 1 free −₹68.00' in shown
        assert "<span>Offers</span><span>−₹68.00</span>" in shown
        saved = re.search(r'data-testid="display-saved"><span>You save</span><span>([^<]+)<',
                          shown).group(1)
        sale_id = await pay_cash_and_complete(client, cart)
        sale = await payment.get_sale(db, sale_id)
        assert saved == format_amount(sale_saved(sale))
    finally:
        await screen.__aexit__(None, None, None)


async def test_an_upload_over_the_body_limit_is_refused_before_it_is_read(app, client,
                                                                          login_as, db, cfg):
    """A 5 MB "image" is refused with 413 and a plain message on the strength of its
    Content-Length (the route's body limit is the slide cap plus the form), not read
    into memory and then measured; nothing is stored. An image of exactly the cap
    still fits with its form."""
    from app.display.routes import add_slide

    limit = add_slide.resolve_request_max_body_size()
    assert limit is not None and service.MAX_SLIDE_KB * 1024 < limit < 3 * 1024 * 1024
    await login_as("manager")
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024)
    r = await client.post("/display/slides", files={"image": ("big.png", big, "image/png")},
                          headers={"x-csrftoken": csrf_of(client)})
    assert r.status_code == 413, r.status_code
    assert f"at most {service.MAX_SLIDE_KB} KB" in r.text and "Nothing was stored" in r.text
    assert "Request Entity Too Large" not in r.text
    assert await service.list_slides(db) == []
    folder = cfg.data_dir / service.SLIDE_DIR
    assert not folder.exists() or not any(folder.iterdir())
    # At the cap exactly, the image and its form are under the limit and stored.
    exact = b"\x89PNG\r\n\x1a\n" + b"\x00" * (service.MAX_SLIDE_KB * 1024 - 8)
    ok = await client.post("/display/slides", files={"image": ("a.png", exact, "image/png")},
                           headers={"x-csrftoken": csrf_of(client)})
    assert ok.status_code in (200, 201) and "Image added" in ok.text
    # One byte over the cap but under the body limit: the page's own message.
    over = exact + b"\x00"
    no = await client.post("/display/slides", files={"image": ("b.png", over, "image/png")},
                           headers={"x-csrftoken": csrf_of(client)})
    assert no.status_code == 400 and "too big" in no.text
    assert len(await service.list_slides(db)) == 1


async def test_a_till_step_is_priced_once_for_all_the_counters_displays(app, client, login_as,
                                                                         rows, db,  # noqa: F811
                                                                         monkeypatch):
    """Three displays' streams on one counter: one scan costs one cart read and one
    pricing (the first stream to wake draws the screen, the others reuse it) and no
    per-stream revocation query; every stream still gets the new screen. A display
    unpaired meanwhile still has its stream ended at once; the others go on."""
    import asyncio
    from types import SimpleNamespace

    from app.display.routes import _screens

    await login_as("manager")
    displays = []
    for name in ("Front", "Side", "Door"):
        screen, token, _code = await pair(app, client, "C1", name)
        await screen.__aexit__(None, None, None)
        displays.append(await service.display_for_token(db, token))
    cart = await open_till(client, "C1")
    streams = [_screens(SimpleNamespace(app=app), d) for d in displays]  # type: ignore[arg-type]
    for stream in streams:
        assert (await anext(stream)).event == "hello"
        assert (await anext(stream)).event == "screen"

    calls = Counter()

    def counted(name, real):
        async def wrapper(*args, **kwargs):
            calls[name] += 1
            return await real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(screens, "counter_cart_state",
                        counted("cart read", screens.counter_cart_state))
    monkeypatch.setattr(screens, "priced", counted("pricing", screens.priced))
    monkeypatch.setattr(service, "still_valid", counted("still_valid", service.still_valid))

    await client.post("/pos/scan", data={"code": rows[0].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    for stream in streams:
        pushed = await asyncio.wait_for(anext(stream), 2)
        assert pushed.event == "screen" and rows[0].name in pushed.data
    assert calls == {"cart read": 1, "pricing": 1}, calls

    # One display unpaired: its stream ends at once; the other two follow the next scan.
    await client.post(f"/display/screens/{displays[0].id}/revoke",
                      headers={"x-csrftoken": csrf_of(client)})
    ended = await asyncio.wait_for(anext(streams[0]), 2)
    assert ended.event == "revoked"
    with pytest.raises(StopAsyncIteration):
        await anext(streams[0])
    calls.clear()
    await client.post("/pos/scan", data={"code": rows[1].barcodes[0], "cart_id": cart},
                      headers=hx(client))
    for stream in streams[1:]:
        pushed = await asyncio.wait_for(anext(stream), 2)
        assert rows[1].name in pushed.data and rows[0].name in pushed.data
    assert calls == {"cart read": 1, "pricing": 1}, calls
    for stream in streams[1:]:
        await stream.aclose()


async def test_a_shared_screen_is_reused_only_while_it_is_current(app, db, monkeypatch):
    """The counter's shared screen is drawn again for a new version, for a stream whose
    quiet wait began after it was drawn (changes from elsewhere), and after its own end
    (the thank-you's); otherwise every stream reuses it."""
    import dataclasses
    from types import SimpleNamespace

    from app.display import routes

    drawn = []
    real = routes.screen_for

    async def counted(*args, **kwargs):
        drawn.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(routes, "screen_for", counted)
    request = SimpleNamespace(app=app)
    feed = app.state.display_broker.feed("C1")
    display = service.Display("d", "C1", "x")
    first = await routes._shown(request, feed, display, 0.0)  # type: ignore[arg-type]
    assert await routes._shown(request, feed, display, 0.0) is first  # type: ignore[arg-type]
    assert await routes._shown(request, feed, display, first.at) is first  # type: ignore[arg-type]
    assert len(drawn) == 1
    later = await routes._shown(request, feed, display, first.at + 0.001)  # type: ignore[arg-type]
    assert later is not first and len(drawn) == 2
    feed.bump()
    bumped = await routes._shown(request, feed, display, 0.0)  # type: ignore[arg-type]
    assert bumped.version == feed.version and len(drawn) == 3
    feed.shown = dataclasses.replace(bumped, ends=time.monotonic() - 1)  # a thank-you ended
    assert (await routes._shown(request, feed, display, 0.0)).ends is None  # type: ignore[arg-type]
    assert len(drawn) == 4
