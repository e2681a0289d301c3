"""Languages over HTTP (issue #22): the PIN screen's toggle, a staff member's own
language, the English default unchanged, products' local names, printed receipts."""

from __future__ import annotations

from sqlalchemy import select

from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.models import Product
from app.catalog.service import export_rows, import_catalog
from app.core import i18n
from app.core.models import User
from app.printing.documents import PrintTemplates
from app.sync.store_apply import _product_upserted
from tests.conftest import STAFF, csrf_of, login, make_config
from tests.integration.test_pos_pages import hx, open_till, rows  # noqa: F401  (fixture)

CSV = ("sku,name,name_local,price,gst_rate,barcodes\n"
       "ATA-5,Aashirvaad Atta 5 kg,आशीर्वाद आटा 5 किलो,245.00,5,8901234567890\n")


async def _toggle(client, lang: str, next_url: str = "/login"):
    await client.get("/login")
    return await client.post("/language", data={"lang": lang, "next": next_url,
                                                "_csrf_token": csrf_of(client)},
                             follow_redirects=False)


async def test_english_by_default(client, staff):
    page = (await client.get("/login")).text
    assert "Tap your name" in page and "Sign in" in page and 'lang="en"' in page
    assert "साइन इन" not in page


async def test_the_pin_screen_toggle_sets_this_device_language(client, staff):
    response = await _toggle(client, "hi", "/login?next=/pos")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/pos"
    assert client.cookies.get(i18n.LANG_COOKIE) == "hi"
    page = (await client.get("/login")).text
    assert "अपने नाम पर टैप करें" in page and "साइन इन" in page
    assert "Tap your name" not in page
    # a wrong PIN's message in Hindi too
    await client.get("/login")
    wrong = await client.post("/login", data={"user_id": staff["cashier"], "pin": "0000",
                                              "_csrf_token": csrf_of(client)})
    assert "PIN गलत है" in wrong.text


async def test_hostile_toggle_values_are_refused(client, staff):
    for bad in ("fr", "", "../hi", "hi;", "x" * 500):
        response = await _toggle(client, bad)
        assert response.status_code == 400
        assert client.cookies.get(i18n.LANG_COOKIE) is None
    response = await _toggle(client, "hi", "https://evil.example/")
    assert response.headers["location"] == "/"  # no open redirect
    client.cookies.clear()
    client.cookies.set(i18n.LANG_COOKIE, "../../etc/passwd")
    assert "Tap your name" in (await client.get("/login")).text  # unknown: the default


async def test_without_csrf_the_toggle_is_refused(client, staff):
    await client.get("/login")
    response = await client.post("/language", data={"lang": "hi"})
    assert response.status_code == 403


async def test_a_signed_in_choice_is_saved_with_the_person(client, staff, db, login_as):
    await login_as("cashier")
    response = await _toggle(client, "hi", "/")
    assert response.status_code == 303
    async with db.read() as s:
        assert (await s.get(User, staff["cashier"])).language == "hi"
    assert "बिलिंग" in (await client.get("/")).text  # the menu's "Till"
    # on another device (no cookie) the person's own language still holds
    client.cookies.clear()
    await login(client, staff["cashier"], STAFF["cashier"][1])
    home = (await client.get("/")).text
    assert "बिलिंग" in home and ">Till<" not in home


async def test_own_language_beats_the_device_and_others_keep_english(client, staff, db):
    async with db.write() as s:
        (await s.get(User, staff["manager"])).language = "en"
    await _toggle(client, "hi")
    await login(client, staff["manager"], STAFF["manager"][1])
    home = (await client.get("/")).text
    assert ">Staff<" in home and "स्टाफ़" not in home


async def test_a_hindi_cashier_sees_the_till_in_hindi_and_amounts_in_lakhs(
        client, staff, db, login_as, rows):  # noqa: F811
    async with db.write() as s:
        (await s.get(User, staff["cashier"])).language = "hi"
    await login_as("cashier")
    await open_till(client)
    scan = await client.post("/pos/scan", data={"code": rows[0].barcodes[0]},
                             headers=hx(client))
    assert scan.status_code == 200
    till = (await client.get("/pos")).text
    assert 'lang="hi"' in till and "बिलिंग" in till
    assert "₹" in till


async def test_the_store_default_language(tmp_path, migrated_template):
    cfg = make_config(tmp_path, **{'language = "en"': 'language = "hi"'})
    assert cfg.store.language == "hi"
    import shutil

    from litestar.testing import AsyncTestClient

    from app.server import create_store_app
    shutil.copy(migrated_template, cfg.database_path)
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        assert "अपने नाम पर टैप करें" in (await client.get("/login")).text


async def test_name_local_round_trips_through_the_catalogue_csv(db, cfg):
    await import_catalog(db, parse_catalog(CSV, cfg.measure_rules))
    rows_out = await export_rows(db)
    assert rows_out[0]["name_local"] == "आशीर्वाद आटा 5 किलो"
    import io
    buffer = io.StringIO()
    write_catalog(rows_out, buffer)
    assert "name_local" in buffer.getvalue().splitlines()[0]
    # a file without the column keeps each product's local name
    await import_catalog(db, parse_catalog(
        "sku,name,price,gst_rate\nATA-5,Aashirvaad Atta 5kg,250.00,5\n", cfg.measure_rules))
    async with db.read() as s:
        assert (await s.scalar(select(Product.name_local))) == "आशीर्वाद आटा 5 किलो"
    parsed = parse_catalog("sku,name,name_local,price,gst_rate\nX-1,Salt,"
                           + "न" * 121 + ",20.00,5\n", cfg.measure_rules)
    assert parsed.errors and "name_local is longer than" in str(parsed.errors[0])


async def test_product_upserted_carries_name_local(db, cfg):
    event = {"sku": "SALT-1", "name": "Tata Salt 1 kg", "name_local": "  टाटा   नमक ",
             "price_minor": 2800, "gst_rate_bp": 0, "unit": "piece", "barcodes": []}
    async with db.write() as s:
        await _product_upserted(s, cfg, event)
    async with db.read() as s:
        assert (await s.scalar(select(Product.name_local))) == "टाटा नमक"
    for old_hub in ({k: v for k, v in event.items() if k != "name_local"},
                    {**event, "name_local": 5}):
        async with db.write() as s:
            await _product_upserted(s, cfg, old_hub)
        async with db.read() as s:
            assert (await s.scalar(select(Product.name_local))) == ""


def _receipt(cfg):
    class Line:
        name, name_local, net_minor, discount_minor, gst_rate_bp = (
            "Atta", "आटा", 12345600, 0, 500)
        item_offers: list = []

    class Sale:
        number, counter, lines, tenders = "S1-000001", "C1", [Line()], []
        discount_minor = rounding_minor = change_minor = 0
        total_minor = 12345600
        bill_offers: list = []
        from datetime import UTC, datetime
        at = datetime(2026, 12, 2, 4, 50, tzinfo=UTC)

    return PrintTemplates(cfg).render("receipt", sale=Sale(), cashier="Asha", receipt_url="",
                                      tax_rows=[], line_text=lambda line: "1 x")


def test_receipt_in_the_receipt_language(tmp_path):
    english = _receipt(make_config(tmp_path))
    assert "TOTAL||₹1,23,456.00" in english and "कुल" not in english
    hindi = _receipt(make_config(tmp_path, **{"[security]": '[printing]\n'
                                              'receipt_language = "hi"\n\n[security]'}))
    assert "[b][w][row]कुल||₹1,23,456.00" in hindi and "TOTAL" not in hindi
    assert "Atta आटा" in hindi and "धन्यवाद" in hindi
    both = _receipt(make_config(tmp_path, **{
        'language = "en"': 'language = "hi"',
        "[security]": '[printing]\nreceipt_language = "bilingual"\n\n[security]'}))
    assert "[row]कुल / TOTAL||₹1,23,456.00" in both


async def test_the_profile_page_offers_the_languages(client, staff, db, login_as):
    await login_as("picker")
    page = (await client.get("/account/pin")).text
    assert "My language" in page and 'data-testid="lang-hi"' in page
    assert 'aria-pressed="true"' in page.split('data-testid="lang-en"')[0].rsplit("<button", 1)[1]
    await _toggle(client, "hi", "/account/pin")
    page = (await client.get("/account/pin")).text
    assert "मेरी भाषा" in page and "पिकर" in page  # the role in the header too
    async with db.read() as s:
        assert (await s.get(User, staff["picker"])).language == "hi"
