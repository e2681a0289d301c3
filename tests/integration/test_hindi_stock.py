"""The store's stock screens in Hindi (issue #22): the stock list, receive and adjust
(with a misread and an unknown barcode), cycle counts (the manager's pages, the counting
phone with a wrong scan, approvals and a refused self-approval), expiry, transfers (out
and in) and the stock report show no English wording to a Hindi manager; an English
manager's pages are unchanged."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.catalog.models import Product
from app.core import audit
from app.core.clock import utcnow
from app.core.models import User
from app.stock import service
from app.stock import transfers as tr
from app.stock.models import CountTask, Transfer
from app.stock.transfer_rules import Line
from tests.conftest import csrf_of
from tests.hindi import english_runs, untranslated
from tests.integration.test_cycle_counts import catalog, code, ean, with_barcodes  # noqa: F401
from tests.integration.test_transfers import approved, hub_says

# Data, not wording: the test catalogue's names, the store, the words Hindi writes in
# Latin letters.
DATA = {"Saffron tin", "Onion", "Kirana"}


async def _language(db, code_: str) -> None:
    async with db.write() as s:
        for user in (await s.scalars(select(User))).all():
            user.language = code_


def _check(page: str, allow: set[str]) -> None:
    if "<html" in page:  # a whole page, not an htmx fragment
        assert 'lang="hi"' in page
    assert english_runs(page, allow=allow) == []
    assert untranslated(page) == []


def _hx(client) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


async def _stocked(db, cfg, p) -> None:
    """Stock in two bins, P1 kept by batch: one batch past its date, one expiring soon."""
    today = utcnow().astimezone(cfg.tz).date()
    async with db.write() as s:
        await s.execute(update(Product).where(Product.sku == "P1").values(tracks_expiry=True))
    await service.receive(db, product_id=p["GOLD"].id, bin_code="A-01-2", quantity=777,
                          user_id=None)
    await service.receive(db, product_id=p["P2"].id, bin_code="A-01-1", quantity=3,
                          user_id=None)
    await service.receive(db, product_id=p["P1"].id, bin_code="A-01-1", quantity=4,
                          user_id=None, batch="OLD", expiry=today - timedelta(days=2))
    await service.receive(db, product_id=p["P1"].id, bin_code="A-01-1", quantity=6,
                          user_id=None, batch="SOON", expiry=today + timedelta(days=3))


async def _get(client, path: str, allow: set[str]) -> str:
    response = await client.get(path)
    assert response.status_code == 200, (path, response.text[:300])
    _check(response.text, allow)
    return response.text


async def test_stock_list_receive_and_adjust_in_hindi(client, db, cfg, staff, login_as,
                                                      catalog):  # noqa: F811
    p = await with_barcodes(db, catalog)
    await _stocked(db, cfg, p)
    async with db.write() as s:  # a picker's short picks: bins to count
        audit.record(s, "count_needed", "bin A-01-1 P2: Not in the bin")
        audit.record(s, "count_needed", "bin A-01-2 P3: not found")
    await _language(db, "hi")
    await login_as("manager")
    allow = DATA | {cfg.store.name}
    assert "नहीं मिला" in (await client.get("/stock")).text
    for path in ("/stock", "/stock?low=true", "/stock?q=zzzz", "/stock/receive",
                 "/stock/adjust"):
        await _get(client, path, allow)
    assert "स्टॉक" in (await client.get("/stock")).text

    # A misread barcode (wrong check digit), an unknown one, then a product found.
    body = code(p["P3"])[:-1]
    wrong = body + str((int(code(p["P3"])[-1]) + 1) % 10)
    misread = (await client.post("/stock/receive/scan", data={"code": wrong},
                                 headers=_hx(client))).text
    _check(misread, allow)
    assert "चेक अंक गलत" in misread
    unknown = (await client.post("/stock/receive/scan", data={"code": ean("890199999999")},
                                 headers=_hx(client))).text
    _check(unknown, allow)
    assert "check digit" not in unknown and "890199999999" in unknown
    for mode in ("receive", "adjust"):
        form = (await client.post(f"/stock/{mode}/scan", data={"code": code(p["P2"])},
                                  headers=_hx(client))).text
        _check(form, allow)
    product_id = re.search(r'name="product_id" value="([^"]+)"', form).group(1)
    # A bin that is not there: the form again with the reason.
    refused = (await client.post("/stock/receive", data={
        "product_id": product_id, "quantity": "2", "bin": "ZZ-9"}, headers=_hx(client))).text
    _check(refused, allow)
    assert "ZZ-9" in refused and "नहीं है; सूची से कोई चुनें" in refused
    half = (await client.post("/stock/receive", data={
        "product_id": product_id, "quantity": "1.5", "bin": "A-01-1"}, headers=_hx(client))).text
    _check(half, allow)
    assert "नग पूरी संख्या में होने चाहिए" in half
    same = (await client.post("/stock/adjust", data={
        "product_id": product_id, "reason": "count", "quantity": "3", "bin": "A-01-1"},
        headers=_hx(client))).text
    _check(same, allow)
    gone = (await client.post("/stock/adjust", data={
        "product_id": "nope", "reason": "count", "quantity": "3", "bin": "A-01-1"},
        headers=_hx(client))).text
    _check(gone, allow)
    done = (await client.post("/stock/receive", data={
        "product_id": product_id, "quantity": "2", "bin": "A-01-1"}, headers=_hx(client))).text
    _check(done, allow)
    assert 'data-testid="move-done"' in done and "स्टोर में" in done


async def test_counts_phone_and_approvals_in_hindi(client, db, cfg, staff, login_as,
                                                   catalog):  # noqa: F811
    p = await with_barcodes(db, catalog)
    await _stocked(db, cfg, p)
    await _language(db, "hi")
    await login_as("manager")
    allow = DATA | {cfg.store.name}
    await _get(client, "/stock/counts", allow)
    await client.post("/stock/counts", data={"kind": "bin", "bin": "A-01-2",
                                             "_csrf_token": csrf_of(client)})
    async with db.read() as s:
        task = await s.scalar(select(CountTask))
    again = await client.post("/stock/counts", data={"kind": "bin", "bin": "A-01-2",
                                                     "_csrf_token": csrf_of(client)})
    _check(again.text, allow)
    assert "CC-000001" in again.text
    nothing = await client.post("/stock/counts", data={"kind": "requests",
                                                       "_csrf_token": csrf_of(client)})
    _check(nothing.text, allow)
    await _get(client, f"/stock/count/{task.id}", allow)

    # The counting phone: a label that is no bin, a misread item, a count, the bin sent.
    await client.post(f"/stock/count/{task.id}/claim", data={"_csrf_token": csrf_of(client)})
    await _get(client, f"/stock/count/{task.id}/count", allow)
    no_bin = (await client.post(f"/stock/count/{task.id}/bin", data={"code": "ZZ-9"},
                                headers=_hx(client))).text
    _check(no_bin, allow)
    html = (await client.post(f"/stock/count/{task.id}/bin", data={"code": "A-01-2"},
                              headers=_hx(client))).text
    _check(html, allow)
    bin_id = re.search(r"/bins/([^/]+)/scan", html).group(1)
    wrong = code(p["GOLD"])[:-1] + str((int(code(p["GOLD"])[-1]) + 1) % 10)
    misread = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/scan",
                                 data={"code": wrong}, headers=_hx(client))).text
    _check(misread, allow)
    assert "चेक अंक गलत" in misread and "कुछ नहीं जुड़ा" in misread
    for data in ({"code": code(p["GOLD"])}, {"code": "GOLD", "quantity": "774"},
                 {"code": "ONION"}, {"code": "ONION", "quantity": "1.2.3"}):
        html = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/scan", data=data,
                                  headers=_hx(client))).text
        _check(html, allow)
    undone = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/undo",
                                headers=_hx(client))).text
    _check(undone, allow)
    html = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/scan",
                              data={"code": "GOLD", "quantity": "774"}, headers=_hx(client))).text
    assert 'data-testid="tally-GOLD">775<' in html  # two short of the book's 777
    sent = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/done",
                              headers=_hx(client))).text
    _check(sent, allow)
    assert "बिन A-01-2 भेजा गया" in sent
    twice = (await client.post(f"/stock/count/{task.id}/bins/{bin_id}/done",
                               headers=_hx(client))).text
    _check(twice, allow)

    # The manager's pages: the task with its reason, approvals, a refused self-approval.
    for path in ("/stock/counts", f"/stock/count/{task.id}", "/stock/counts/approvals",
                 "/stock/counts/due", "/stock/counts/accuracy"):
        await _get(client, path, allow)
    detail = (await client.get(f"/stock/count/{task.id}")).text
    assert "मैनेजर की मंज़ूरी चाहिए" in detail
    approvals = (await client.get("/stock/counts/approvals")).text
    line_id = re.search(r"/stock/counts/lines/([^/]+)/approve", approvals).group(1)
    own = (await client.post(f"/stock/counts/lines/{line_id}/approve",
                             headers=_hx(client))).text
    _check(own, allow)
    assert "यह सिर्फ़ आपने गिना है" in own
    rejected = (await client.post(f"/stock/counts/lines/{line_id}/reject",
                                  headers=_hx(client))).text
    _check(rejected, allow)
    assert "नामंज़ूर" in rejected
    await _get(client, "/stock/counts", allow)


async def test_expiry_transfers_and_the_stock_report_in_hindi(client, db, cfg, staff,
                                                              login_as, catalog):  # noqa: F811
    p = await with_barcodes(db, catalog)
    await _stocked(db, cfg, p)
    await _language(db, "hi")
    await login_as("manager")
    allow = DATA | {cfg.store.name}
    page = await _get(client, "/stock/expiry", allow)
    assert "OLD" in page and "SOON" in page
    await _get(client, "/stock/expiry?days=0", allow)
    refused = await client.get("/stock/expiry?days=abc")
    _check(refused.text, allow)
    form = re.search(r'action="/stock/expiry/write-off".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    written = await client.post("/stock/expiry/write-off", data=fields)
    _check(written.text, allow)
    assert "बट्टे खाते" in written.text

    # Transfers: none, a request, refused input, approved (pick), picked (send), incoming.
    await _get(client, "/stock/transfers", allow)
    bad = await client.post("/stock/transfers", data={
        "direction": "send", "other": "D2", "lines": "P2", "_csrf_token": csrf_of(client)})
    _check(bad.text, allow)
    made = await client.post("/stock/transfers", data={
        "direction": "send", "other": "D2", "lines": "P2 2", "_csrf_token": csrf_of(client)})
    _check(made.text, allow)
    async with db.read() as s:
        t = await s.scalar(select(Transfer))
    await hub_says(db, cfg, "transfer.approved", approved(t, [("P2", 2)]))
    await _get(client, f"/stock/transfers/{t.id}", allow)
    more = await client.post(f"/stock/transfers/{t.id}/pick", data={
        "pick:P2": "20", "_csrf_token": csrf_of(client)})
    _check(more.text, allow)
    assert "माँगे से ज़्यादा" in more.text
    picked = await client.post(f"/stock/transfers/{t.id}/pick", data={
        "pick:P2": "2", "_csrf_token": csrf_of(client)})
    _check(picked.text, allow)
    assert "D2 को भेजें" in picked.text
    incoming = {"transfer_id": str(uuid.uuid4()), "number": "D2-T00001", "source": "D2",
                "dest": cfg.store.id, "note": "", "at": utcnow().isoformat(),
                "lines": [{"sku": "P3", "quantity": 5, "sent": 5,
                           "parts": [{"batch": "L7", "expiry": None, "quantity": 5}]}]}
    await hub_says(db, cfg, "transfer.incoming", incoming, seq=2)
    await _get(client, "/stock/transfers", allow)
    await _get(client, f"/stock/transfers/{incoming['transfer_id']}", allow)
    await tr.request_transfer(db, cfg.store.id, source=cfg.store.id, dest="D3",
                              lines=[Line("P4", 1)])
    await _get(client, "/stock/transfers", allow)

    # The stock report, with a period for the stock-outs.
    today = utcnow().astimezone(cfg.tz).date()
    report = await _get(client, f"/reports/stock?from={today - timedelta(days=7)}&to={today}",
                        allow)
    assert "स्टॉक" in report
    days = await client.get("/reports/stock?days=x")
    assert days.status_code == 400
    _check(days.text, allow)


async def test_english_stock_pages_are_unchanged(client, db, cfg, staff, login_as,
                                                 catalog):  # noqa: F811
    p = await with_barcodes(db, catalog)
    await _stocked(db, cfg, p)
    await login_as("manager")
    assert "Low stock only" in (await client.get("/stock")).text
    assert "Stock counts" in (await client.get("/stock/counts")).text
    expiry = (await client.get("/stock/expiry")).text
    assert "Past their date: take them off the shelf" in expiry and "Expires " in expiry
    assert "Transfers with other stores" in (await client.get("/stock/transfers")).text
    report = (await client.get("/reports/stock")).text
    assert "Stock: what it is worth, what sells, what runs out" in report
    body = code(p["P3"])[:-1]
    wrong = body + str((int(code(p["P3"])[-1]) + 1) % 10)
    misread = (await client.post("/stock/receive/scan", data={"code": wrong},
                                 headers=_hx(client))).text
    assert "check digit wrong: expected" in misread
