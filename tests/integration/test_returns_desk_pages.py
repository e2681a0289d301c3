"""The returns desk's pages (issue #19) through the app: roles, open by order code, a
wrong barcode refused, grading with a photo (type and size checked), finishing with
and without a manager's PIN, a second finish told it is done."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from app.returns.models import OnlineReturnPhoto
from app.stock.models import StockMove
from tests.conftest import csrf_of, make_config
from tests.integration.test_online_returns import (  # noqa: F401
    dal_label,
    feed,
    requested,
    store,
    weighed,
)

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200


async def test_pickers_and_managers_only(client, login_as, db):
    await login_as("cashier")
    response = await client.get("/returns", follow_redirects=False)
    assert response.status_code in (302, 303, 401, 403)


async def test_the_desk_grades_with_a_photo_and_finishes(client, login_as, store, cfg):  # noqa: F811
    await feed(store, cfg, requested())
    await login_as("picker")
    index = await client.get("/returns")
    assert index.status_code == 200 and "RET-000012" in index.text
    token = {"_csrf_token": csrf_of(client)}
    missing = await client.post("/returns/open", data={**token, "code": "D9-999"})
    assert missing.status_code == 404 and "No return is expected" in missing.text
    opened = await client.post("/returns/open", data={**token, "code": "H-000042"},
                               follow_redirects=False)
    assert opened.status_code == 303
    desk = opened.headers["location"]
    wrong = await client.post(f"{desk}/scan", data={**token, "code": "4006381333931"})
    assert wrong.status_code == 400 and "not in return RET-000012" in wrong.text
    scanned = await client.post(f"{desk}/scan", data={**token, "code": "8901234567890"})
    assert scanned.status_code == 200 and "B-01-1" in scanned.text  # the put-away bin
    not_a_photo = await client.post(f"{desk}/grade", data={**token, "sku": "MILK",
                                                           "grade": "resellable"},
                                    files={"photo": ("x.jpg", b"<svg/>", "image/jpeg")})
    assert not_a_photo.status_code == 400 and "not a photo" in not_a_photo.text
    too_big = JPEG + b"\x00" * (cfg.returns.photo_max_kb * 1024)
    refused = await client.post(f"{desk}/grade", data={**token, "sku": "MILK",
                                                       "grade": "resellable"},
                                files={"photo": ("x.jpg", too_big, "image/jpeg")})
    assert refused.status_code == 400 and "too big" in refused.text
    ok = await client.post(f"{desk}/grade", data={**token, "sku": "MILK",
                                                  "grade": "resellable"},
                           files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    assert ok.status_code == 200, ok.text
    async with store.read() as s:
        [photo] = list(await s.scalars(select(OnlineReturnPhoto)))
    path = cfg.data_dir / photo.path
    assert path.read_bytes() == JPEG and photo.size == len(JPEG)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sum(len(files) for _, _, files in os.walk(cfg.data_dir / "return_photos")) == 1
    graded = await client.post(f"{desk}/grade", data={**token, "sku": "SALT",
                                                      "grade": "damaged"},
                               files={"photo": ("", b"", "application/octet-stream")})
    assert graded.status_code == 200, graded.text
    done = await client.post(f"{desk}/finish", data=token)
    assert done.status_code == 200 and "Return finished" in done.text
    again = await client.post(f"{desk}/finish", data=token)
    assert again.status_code == 409 and "finished already" in again.text
    async with store.read() as s:
        assert await s.scalar(select(func.count()).select_from(StockMove)
                              .where(StockMove.reason == "return")) == 2


async def test_a_big_refund_needs_the_managers_pin(client, login_as, store, cfg, staff):  # noqa: F811
    await feed(store, cfg, requested(lines=[{"sku": "MILK", "quantity": 1,
                                             "unit_price_minor": 90000,
                                             "refundable_minor": 90000}]))
    await login_as("picker")
    token = {"_csrf_token": csrf_of(client)}
    desk = (await client.post("/returns/open", data={**token, "code": "RET-000012"},
                              follow_redirects=False)).headers["location"]
    await client.post(f"{desk}/grade", data={**token, "sku": "MILK", "grade": "resellable"})
    held = await client.post(f"{desk}/finish", data=token)
    assert "Manager&#39;s PIN needed" in held.text or "Manager's PIN needed" in held.text
    wrong = await client.post(f"{desk}/finish", data={**token, "approver_id": staff["manager"],
                                                      "approver_pin": "0000",
                                                      "decision": "refund"})
    assert wrong.status_code == 400
    ok = await client.post(f"{desk}/finish", data={**token, "approver_id": staff["manager"],
                                                   "approver_pin": "4726",
                                                   "decision": "refund"})
    assert ok.status_code == 200 and "Return finished" in ok.text and "Meena" in ok.text


async def test_the_orders_timeline_shows_the_returns_steps(client, login_as, store, cfg):  # noqa: F811
    from datetime import timedelta

    from app.core.clock import utcnow
    from app.sync.protocol import Event
    from app.sync.store_apply import apply_hub_event

    async with store.write() as s:
        await apply_hub_event(s, cfg, Event(seq=1, id="o1", kind="order.assigned", at="x", data={
            "channel": "webshop", "external_id": "WEB-42", "hub_order_id": "h1",
            "customer_name": "Kavya", "customer_phone": "9876543210", "address": "1 MG Rd",
            "pincode": "560001", "promised_by": (utcnow() + timedelta(hours=1)).isoformat(),
            "lines": [{"sku": "MILK", "quantity": 2, "price_minor": 3000}]}))
    await feed(store, cfg, requested(), seq=2)
    [ret] = await returns_expected(store)
    assert ret.order_id
    await login_as("picker")
    token = {"_csrf_token": csrf_of(client)}
    await client.post(f"/returns/{ret.id}/grade", data={**token, "sku": "MILK",
                                                          "grade": "resellable"})
    order_page = await client.get(f"/orders/{ret.order_id}")
    assert order_page.status_code == 200
    assert "RET-000012: Return requested (pickup)" in order_page.text
    assert "RET-000012: 1 × MILK: back on the shelf" in order_page.text


async def returns_expected(db):
    from app.returns import service

    return await service.expected_returns(db)


async def test_the_returns_report_is_for_managers(client, login_as, store, cfg):  # noqa: F811
    await feed(store, cfg, requested())
    await login_as("manager")
    index = await client.get("/reports")
    assert 'href="/returns/report"' in index.text
    report = await client.get("/returns/report?days=7")
    assert report.status_code == 200 and "Returns: last 7 days" in report.text
    assert (await client.get(f"/returns/report?days={2**63}")).status_code == 200
    assert (await client.get("/returns/report?days=NaN")).status_code == 400


async def test_a_grade_sent_twice_counts_once(client, login_as, store, cfg):  # noqa: F811
    await feed(store, cfg, requested())
    [ret] = await returns_expected(store)
    await login_as("picker")
    form = {"_csrf_token": csrf_of(client), "sku": "MILK", "grade": "resellable",
            "request_id": "f00d"}
    first = await client.post(f"/returns/{ret.id}/grade", data=form,
                              files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    again = await client.post(f"/returns/{ret.id}/grade", data=form,
                              files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    assert first.status_code == again.status_code == 200
    assert 'data-testid="graded-MILK">1<' in again.text
    async with store.read() as s:
        assert await s.scalar(select(func.count()).select_from(OnlineReturnPhoto)) == 1
    assert sum(len(files) for _, _, files in os.walk(cfg.data_dir / "return_photos")) == 1


async def test_hostile_desk_input_changes_nothing(client, login_as, store, cfg):  # noqa: F811
    await feed(store, cfg, requested())
    [ret] = await returns_expected(store)
    await login_as("picker")
    token = {"_csrf_token": csrf_of(client)}
    for code in ("x" * 100_000, "8901234567890\x00", "", "2" * 20):
        answer = await client.post(f"/returns/{ret.id}/scan", data={**token, "code": code})
        assert answer.status_code == 400, code[:20]
    opened = await client.post("/returns/open", data={**token, "code": "\x00" * 10})
    assert opened.status_code in (400, 404)
    for grade in ("lost", "resellable\x00", "x" * 100_000):
        answer = await client.post(f"/returns/{ret.id}/grade",
                                   data={**token, "sku": "MILK", "grade": grade})
        assert answer.status_code == 400
    ghost = await client.post("/returns/nope/grade", data={**token, "sku": "MILK",
                                                           "grade": "resellable"},
                              files={"photo": ("x.jpg", JPEG, "image/jpeg")})
    assert ghost.status_code in (400, 404)
    assert not (cfg.data_dir / "return_photos").exists()
    assert (await client.get("/returns/" + "z" * 5000)).status_code == 404
    assert 'data-testid="graded-MILK">0<' in (await client.get(f"/returns/{ret.id}")).text


async def test_a_weighed_line_is_graded_by_weight_at_the_desk(client, login_as, store, cfg,  # noqa: F811
                                                               weighed):  # noqa: F811
    await login_as("picker")
    token = {"_csrf_token": csrf_of(client)}
    desk = f"/returns/{weighed.id}"
    page = await client.get(desk)
    assert "Graded" in page.text and "0 kg" in page.text and "of 0.5 kg" in page.text
    # a scale label opens the form with its weight filled in
    scanned = await client.post(f"{desk}/scan", data={**token, "code": dal_label(cfg, 200)})
    assert scanned.status_code == 200, scanned.text
    assert 'name="quantity" value="0.200"' in scanned.text and "Whole line: 0.5 kg" in scanned.text
    graded = await client.post(f"{desk}/grade", data={**token, "sku": "DAL", "grade": "resellable",
                                                      "quantity": "0.200", "request_id": "a1"})
    assert graded.status_code == 200 and "0.2 kg" in graded.text
    again = await client.post(f"{desk}/grade", data={**token, "sku": "DAL", "grade": "resellable",
                                                     "quantity": "0.200", "request_id": "a1"})
    assert again.status_code == 200  # the retried form counts once
    over = await client.post(f"{desk}/grade", data={**token, "sku": "DAL", "grade": "damaged",
                                                    "quantity": "400 g"})
    assert over.status_code == 400 and "Only 0.3 kg of DAL is left" in over.text
    assert 'data-testid="grade-form"' in over.text  # the form stays open to correct it
    for bad in ("nan", "inf", str(2**63), "-1", "abc", "\x00", "9" * 5_000):
        refused = await client.post(f"{desk}/grade", data={**token, "sku": "DAL",
                                                           "grade": "damaged", "quantity": bad})
        assert refused.status_code == 400  # the desk's message, or the app's NUL guard
        assert "Nothing changed" in refused.text or "NUL" in refused.text
    assert 'data-testid="graded-DAL">0.2 kg<' in refused.text
    typed = await client.post(f"{desk}/grade", data={**token, "sku": "DAL", "grade": "resellable",
                                                     "quantity": "100 g"})
    assert typed.status_code == 200
    whole = await client.post(f"{desk}/grade", data={**token, "sku": "DAL", "grade": "resellable",
                                                     "whole": "1"})
    assert whole.status_code == 200
    assert 'data-testid="graded-DAL">0.5 kg<' in whole.text
    done = await client.post(f"{desk}/finish", data=token)
    assert done.status_code == 200 and "Return finished" in done.text
    assert "60.00" in done.text  # Rs 60 for 500 g at Rs 120/kg
    async with store.read() as s:
        moved = await s.scalar(select(func.sum(StockMove.delta)).where(StockMove.reason == "return"))
    assert moved == 500


async def test_a_photo_just_over_the_highest_limit_gets_the_desks_message(client, login_as,
                                                                          store, cfg):  # noqa: F811
    from app.config import PHOTO_MAX_KB_LIMIT

    cfg.returns.photo_max_kb = PHOTO_MAX_KB_LIMIT  # the most the config allows
    await feed(store, cfg, requested())
    await login_as("picker")
    token = {"_csrf_token": csrf_of(client)}
    desk = (await client.post("/returns/open", data={**token, "code": "RET-000012"},
                              follow_redirects=False)).headers["location"]
    just_over = JPEG + b"\x00" * (PHOTO_MAX_KB_LIMIT * 1024 + 1 - len(JPEG))
    refused = await client.post(f"{desk}/grade", data={**token, "sku": "MILK",
                                                       "grade": "resellable"},
                                files={"photo": ("x.jpg", just_over, "image/jpeg")})
    assert refused.status_code == 400, refused.status_code  # not a bare 413
    assert f"at most {PHOTO_MAX_KB_LIMIT} KB" in refused.text
    at_limit = JPEG + b"\x00" * (PHOTO_MAX_KB_LIMIT * 1024 - len(JPEG))
    ok = await client.post(f"{desk}/grade", data={**token, "sku": "MILK", "grade": "resellable"},
                           files={"photo": ("x.jpg", at_limit, "image/jpeg")})
    assert ok.status_code == 200, ok.text[:300]


WEIGHT_RULE = '[[barcode_rules]]\nname = "Weighed item (kg)"'


@pytest.mark.parametrize("kb", [8193, 10_240, 2**63])
def test_photo_max_kb_above_what_fits_the_request_limit_is_refused(tmp_path, kb):
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="photo_max_kb"):
        make_config(tmp_path, **{WEIGHT_RULE: f"[returns]\nphoto_max_kb = {kb}\n\n{WEIGHT_RULE}"})
    fits = make_config(tmp_path, **{WEIGHT_RULE: f"[returns]\nphoto_max_kb = 8192\n\n{WEIGHT_RULE}"})
    assert fits.returns.photo_max_kb == 8192
