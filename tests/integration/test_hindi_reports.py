"""Hindi pages of the reports, returns, promotions, loyalty and customer display (issue
#22): a Hindi manager's every page shows no catalogued English (`untranslated`) and no run
of English words nobody wrapped (`english_runs`; what is allowed is data: products,
categories, people, the store, offer names, a customer's reason, the returns history as
the hub wrote it). An English manager still gets the English page; the customer display
speaks the store's language whoever is at the till."""

from __future__ import annotations

import re

import msgspec
import pytest
from sqlalchemy import select

from app.catalog.models import Product
from app.config import LoyaltySection
from app.core import i18n
from app.core.models import User
from app.display import screens, service
from app.display.live import TillSignal
from app.returns.models import OnlineReturn
from tests.conftest import STAFF, csrf_of, make_config
from tests.hindi import english_runs, untranslated
from tests.integration.test_customer_display import pair
from tests.integration.test_online_returns import feed, requested, store  # noqa: F401
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401
from tests.integration.test_sales_report_page import HOSTILE_NAME, sold  # noqa: F401

# The customer's reason for a return, as the hub sent it.
HISTORY = {"damaged at delivery"}
OFFER = "Diwali dhamaka"


@pytest.fixture
def cfg(tmp_path, migrated_template):
    """Loyalty on, so that its pages show more than "off at this store"."""
    import shutil
    config = msgspec.structs.replace(make_config(tmp_path), loyalty=LoyaltySection(
        enabled=True, points_per_100_rupees=10, min_balance_points=10))
    shutil.copy(migrated_template, config.database_path)
    return config


async def _speak(db, staff, role: str, language: str) -> None:
    async with db.write() as s:
        (await s.get(User, staff[role])).language = language


async def _data(db, cfg) -> set[str]:
    """Texts that are data, not wording: products, categories, people, the store."""
    async with db.read() as s:
        products = (await s.execute(select(Product.name, Product.category))).all()
    names = {n for n, _c in products} | {c for _n, c in products if c}
    return names | {name for name, _pin in STAFF.values()} | {cfg.store.name, HOSTILE_NAME,
                                                                 OFFER}


def _hindi(page: str, allow: set[str]) -> None:
    # the returns desk's steps are its history, each written once as it happened
    page = re.sub(r'<ol class="timeline" data-testid="return-steps">.*?</ol>', "", page,
                  flags=re.S)
    # a chart's summary cuts a long name to fit ("24 Mantra Organic Sona Ma…")
    cut = {name[:n] + "…" for name in allow for n in range(8, len(name))}
    runs = english_runs(page, allow=cut | allow)
    assert runs == [], runs
    left = untranslated(page)
    assert left == [], left


async def _get(client, url: str) -> str:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.text[:2000])
    assert 'lang="hi"' in response.text
    return response.text


async def test_reports_and_promotions_in_hindi(client, login_as, db, cfg, staff, sold):  # noqa: F811
    await _speak(db, staff, "manager", "hi")
    await login_as("manager")
    _done, rows_sold = sold
    made = await client.post("/promotions", data={
        "kind": "percent_off", "name": OFFER, "skus": rows_sold[1].sku, "percent": "10",
        "_csrf_token": csrf_of(client)})
    assert made.status_code == 200 and OFFER in made.text
    allow = await _data(db, cfg)
    month = (await _get(client, "/reports/gstr1")).split('name="month" value="')[1][:7]
    pages = ["/reports", "/reports/sales", "/reports/sales?from=2026-01-01&to=2026-03-31",
             "/reports/fulfilment", "/reports/fulfilment?hours=168", "/reports/gstr1",
             f"/reports/gstr1?month={month}", "/reports/promotions", "/promotions"]
    for url in pages:
        _hindi(await _get(client, url), allow)
    for url, words in (("/reports/sales?from=2026-13-01", "कैलेंडर से चुनें"),
                       ("/reports/sales?from=2026-03-02&to=2026-03-01", "अवधि उलटी है"),
                       ("/reports/promotions?from=1999-01-01&to=1999-01-02", "दर्ज हो सकने"),
                       ("/reports/gstr1?month=2026-13", "GST का महीना नहीं है")):
        refused = await client.get(url)
        assert refused.status_code == 400 and words in refused.text, url
        _hindi(refused.text, allow)
    promotions = await _get(client, "/reports/promotions")
    assert "हर ऑफ़र" in promotions and OFFER in promotions
    # the sample basket and a form refused in Hindi
    preview = await client.post("/promotions/preview", data={
        "basket": f"{rows_sold[1].sku} 2", "_csrf_token": csrf_of(client)})
    assert preview.status_code == 200
    assert "ऑफ़र से" in preview.text
    refused = await client.post("/promotions", data={
        "kind": "percent_off", "name": "x", "skus": rows_sold[1].sku, "percent": "abc",
        "_csrf_token": csrf_of(client)})
    assert refused.status_code == 400
    assert "प्रतिशत 12 या 12.50 जैसी संख्या होती है" in refused.text
    _hindi(refused.text, allow)
    ended = await client.post(f"/promotions/{'0' * 36}/end", data={
        "_csrf_token": csrf_of(client)})
    assert ended.status_code == 404 and "यह ऑफ़र चालू नहीं है।" in ended.text
    _hindi(ended.text, allow)


async def test_the_returns_desk_in_hindi(client, login_as, db, cfg, staff, store):  # noqa: F811
    await feed(store, cfg, requested())
    await _speak(db, staff, "manager", "hi")
    await login_as("manager")
    allow = await _data(db, cfg) | HISTORY
    async with db.read() as s:
        rid = await s.scalar(select(OnlineReturn.id))
    for url in ("/returns", f"/returns/{rid}", "/returns/report", "/returns/report?days=7"):
        _hindi(await _get(client, url), allow)
    token = {"_csrf_token": csrf_of(client)}
    missing = await client.post("/returns/open", data={**token, "code": "D9-999"})
    assert missing.status_code == 404 and "कोई वापसी नहीं आनी है" in missing.text
    scanned = await client.post(f"/returns/{rid}/scan", data={**token, "code": "8901234567890"})
    assert scanned.status_code == 200 and "किस हाल में लौटा" in scanned.text
    _hindi(scanned.text, allow)
    graded = await client.post(f"/returns/{rid}/grade", data={**token, "sku": "MILK",
                                                              "grade": "resellable"})
    assert graded.status_code == 200 and "शेल्फ़ पर वापस" in graded.text
    finished = await client.post(f"/returns/{rid}/finish", data=token)
    assert finished.status_code == 200
    page = await _get(client, f"/returns/{rid}")
    assert "पूरी हुई" in page or "मैनेजर का PIN" in page
    # the history now holds the desk's own steps, as written at the time
    _hindi(page, allow)


async def test_loyalty_in_hindi(client, login_as, db, cfg, staff):
    await _speak(db, staff, "manager", "hi")
    await login_as("manager")
    allow = await _data(db, cfg) | {"Asha"}
    _hindi(await _get(client, "/loyalty"), allow)
    await client.get("/loyalty")
    joined = await client.post("/loyalty/join", data={
        "phone": "9812345610", "card": "KC-000123", "name": "Asha", "consent": "yes",
        "_csrf_token": csrf_of(client)}, follow_redirects=False)
    assert joined.status_code == 303
    customer = joined.headers["location"]
    _hindi(await _get(client, customer), allow)
    _hindi(await _get(client, "/loyalty?q=9812345610"), allow)
    bad_phone = await client.post("/loyalty/join", data={
        "phone": "12345", "consent": "yes", "_csrf_token": csrf_of(client)})
    assert bad_phone.status_code == 400 and "मोबाइल नंबर 10 अंकों का होता है" in bad_phone.text
    _hindi(bad_phone.text, allow)
    refused = await client.get("/loyalty?q=5610")
    assert "पूरा 10 अंकों का मोबाइल नंबर" in refused.text
    _hindi(refused.text, allow)
    wrong = await client.post(f"{customer}/erase", data={"confirm": "no",
                                                         "_csrf_token": csrf_of(client)})
    assert wrong.status_code == 400 and "erase लिखें" in wrong.text
    _hindi(wrong.text, allow)


async def test_customer_displays_in_hindi(app, client, login_as, db, cfg, staff, rows):  # noqa: F811
    await _speak(db, staff, "manager", "hi")
    await login_as("manager")
    allow = await _data(db, cfg) | {"Front screen"}
    _hindi(await _get(client, "/display/screens"), allow)
    screen, token, _code = await pair(app, client, "C1")
    try:
        listed = await _get(client, "/display/screens")
        assert "काउंटर C1" in listed
        _hindi(listed, allow)
        bad = await client.post("/display/screens", data={"counter": "C9", "name": "x"},
                                headers={"x-csrftoken": csrf_of(client)})
        assert bad.status_code == 400 and "कुछ नहीं बदला" in bad.text
        # the customer's screen speaks the store's language (English here), not the
        # Hindi manager's who happens to be signed in on this device
        shown = await screen.get("/display")
        assert 'lang="en"' in shown.text and "Welcome" in shown.text
        # a store whose language is Hindi: the customer's screens in Hindi
        display = await service.display_for_token(db, token)
        cart = await open_till(client, "C1")
        scanned = await client.post("/pos/scan", data={"code": rows[0].barcodes[0],
                                                       "cart_id": cart}, headers=hx(client))
        assert scanned.status_code == 200
        engine = app.template_engine
        for signal in (TillSignal(), TillSignal(mode="pay")):
            drawn = await screens.screen_for(db, cfg, display, signal)
            with i18n.use_language("hi"):
                html = engine.get_template(drawn.template).render(**drawn.context)
            assert "कुल" in html
            _hindi(html, allow)
        for template, context in (("display/_idle.html", {"store": cfg.store, "slides": []}),):
            with i18n.use_language("hi"):
                html = engine.get_template(template).render(**context)
            assert "स्वागत है" in html
            _hindi(html, allow)
    finally:
        await screen.__aexit__(None, None, None)
    client.cookies.clear()
    join = await client.get("/display/join?code=abc")
    assert join.status_code == 200
    client.cookies.set(i18n.LANG_COOKIE, "hi")
    for url in ("/display/join", "/display/join?code=abc"):
        page = await client.get(url)
        assert page.status_code == 200 and 'lang="hi"' in page.text
        _hindi(page.text, allow)


async def test_english_pages_are_unchanged(client, login_as, db, cfg, staff, sold):  # noqa: F811
    await login_as("manager")
    checks = {"/reports": ["Every figure comes from the bills", "Fulfilment and pickers"],
              "/reports/sales": ["Net sales (agrees with the Z reports)", "Download CSV",
                                 "Best sellers by net sales", "none in the period before"],
              "/reports/fulfilment": ["Online orders: where the minutes go", "Last 24 hours",
                                      "Waiting for rider"],
              "/reports/gstr1": ["GSTR-1: sales for the GST return", "B2C small, net of "
                                 "refunds (7)"],
              "/reports/promotions": ["Promotions: what each offer did", "Last 30 days"],
              "/promotions": ["Try them on a sample basket", "10 % off products or categories",
                              "Mon"],
              "/returns": ["Returns desk", "No returns expected."],
              "/returns/report": ["Returns: last 30 days", "back on the shelf"],
              "/loyalty": ["Find a customer", "Whole 10-digit mobile number"],
              "/display/screens": ["Customer displays", "Pair a new screen"]}
    for url, texts in checks.items():
        page = (await client.get(url)).text
        assert 'lang="en"' in page, url
        for text in texts:
            assert text in page, (url, text)
