"""The last English service messages in Hindi (issue #22): a GS1 scan the till cannot
use, a promotion the form refuses and a catalogue CSV row the product rules refuse reach
a Hindi staff member in Hindi, with no English words left; an English staff member reads
the same English as before."""

from __future__ import annotations

from sqlalchemy import select

from app.catalog.csv_io import parse_catalog
from app.core.i18n import use_language
from app.core.models import User
from tests.conftest import csrf_of
from tests.hindi import english_runs, untranslated
from tests.integration.test_pos_pages import hx, message, open_till, rows  # noqa: F401  (fixture)

BAD_EXPIRY = "(01)09506000134352(17)261340"  # month 13
OFFER = {"kind": "percent_off", "name": "Diwali", "percent": "10"}  # no product named
CSV = "sku,name,price,gst_rate,unit,barcodes\nA-1,Atta,0,5,piece,\n"  # price zero


async def _speak(db, role_ids, code: str) -> None:
    async with db.write() as s:
        for user in (await s.scalars(select(User).where(User.id.in_(role_ids)))).all():
            user.language = code


def _hindi(page: str, allow: set[str]) -> None:
    runs = english_runs(page, allow=allow)
    assert runs == [], runs
    assert untranslated(page) == []


async def test_a_gs1_scan_and_a_refused_offer_in_hindi(client, db, cfg, staff, login_as,
                                                      rows):  # noqa: F811
    await _speak(db, [staff["cashier"], staff["manager"]], "hi")
    allow = {cfg.store.name, "Kirana", BAD_EXPIRY} | {r.name for r in rows} | {
        r.category for r in rows if r.category}
    await login_as("cashier")
    await open_till(client)
    scan = await client.post("/pos/scan", data={"code": BAD_EXPIRY}, headers=hx(client))
    said = message(scan.text)
    assert said == "GS1: एक्सपायरी 17 में तारीख 261340 गलत है", said
    _hindi(scan.text, allow)

    await login_as("manager")
    refused = await client.post("/promotions", data={**OFFER, "_csrf_token": csrf_of(client)})
    assert refused.status_code == 400
    assert "बताएँ कि ऑफ़र किन सामान, ब्रांड या श्रेणियों पर है" in refused.text
    _hindi(refused.text, allow | {"Diwali"})


async def test_the_same_in_english(client, db, cfg, staff, login_as, rows):  # noqa: F811
    await login_as("cashier")
    await open_till(client)
    scan = await client.post("/pos/scan", data={"code": BAD_EXPIRY}, headers=hx(client))
    assert message(scan.text) == "GS1: expiry 17 has an invalid date 261340"
    await login_as("manager")
    refused = await client.post("/promotions", data={**OFFER, "_csrf_token": csrf_of(client)})
    assert refused.status_code == 400
    assert "say which products, brands or categories the offer is on" in refused.text


def test_a_catalogue_row_error_in_hindi_and_in_english():
    """The row errors are built while the upload's request (its language) is in force;
    the hub's import page shows them (tests/hub/test_hindi_messages.py)."""
    with use_language("hi"):
        hindi = [str(e) for e in parse_catalog(CSV).errors]
    with use_language("en"):
        english = [str(e) for e in parse_catalog(CSV).errors]
    assert english == ["line 2: price must be more than zero and at most ₹1,00,00,000"], english
    assert hindi == ["पंक्ति 2: कीमत शून्य से ज़्यादा और ज़्यादा से ज़्यादा ₹1,00,00,000 होनी "
                     "चाहिए"], hindi


def test_a_print_jobs_stored_error_is_translated_when_shown():
    """The worker stores a job's last_error in English; the printers page shows it in
    the reader's language (app.printing.status.job_error), text it does not know as is."""
    from app.printing.status import job_error

    stored = ("printer at 10.0.0.9:9100 did not answer (off, or not on this network?); "
              "the job will be sent again")
    paper = "out of paper: Load a new roll; the receipts will print by themselves."
    with use_language("en"):
        assert job_error(stored) == stored and job_error(paper) == paper
        assert job_error("layout: bad JSON") == "layout: bad JSON"
    with use_language("hi"):
        shown = job_error(stored)
        assert shown == ("10.0.0.9:9100 वाले प्रिंटर ने जवाब नहीं दिया (बंद है, या इस नेटवर्क पर "
                         "नहीं?); छपाई फिर से भेजी जाएगी"), shown
        assert english_runs(job_error(paper)) == []
        assert job_error("something odd") == "something odd"
