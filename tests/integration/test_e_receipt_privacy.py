"""E-receipt links stay out of the logs and expire (issue #13 item 22, ASVS 4.0.3 V7.1.1,
V3.5.x): the access log of a live uvicorn store shows `/r/…`, never the token; a link
older than [receipts] e_receipt_days answers 410 with a plain page."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.auth import StaffUser, create_user
from app.core.clock import utcnow
from app.core.db import Database
from app.core.secret_file import attach_pepper
from app.pos import cart, payment, shifts
from app.pos.models import Sale
from app.stock.service import load_bins_csv
from tests.conftest import make_config
from tests.sync.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
EXPIRED = "This receipt link has expired; ask the store for a copy"


async def make_sale(db: Database, cfg) -> Sale:
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    user = await create_user(db, "Asha", "cashier", "3816")
    staff = StaffUser(user.id, user.name, user.role)
    await shifts.open_shift(db, cfg, "C1", staff, 0)
    view = await cart.current_cart(db, cfg, "C1", staff)
    code = next(r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.barcodes)
    await cart.add_scan(db, cfg, "C1", staff, view.cart.id, code, cfg.measure_rules)
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None)
    return await payment.complete_sale(db, cfg, "C1", view.cart.id, "privacy-key-1", staff)


async def age_sale(db: Database, sale: Sale, days: float) -> None:
    async with db.write() as s:
        await s.execute(update(Sale).where(Sale.id == sale.id)
                        .values(at=utcnow() - timedelta(days=days)))


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_access_log_never_shows_a_receipt_token(app, db, cfg):
    sale = await make_sale(db, cfg)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started
    seen = Lines()
    logging.getLogger("uvicorn.access").addHandler(seen)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            page = await client.get(f"/r/{sale.receipt_token}")
            assert page.status_code == 200 and sale.number in page.text
            assert (await client.get(f"/r/{sale.receipt_token}?x=1")).status_code == 200
            assert (await client.get("/r/not-a-real-token-at-all-xx")).status_code == 404
    finally:
        logging.getLogger("uvicorn.access").removeHandler(seen)
        server.should_exit = True
        await asyncio.wait_for(task, 20)
    receipt_lines = [line for line in seen.lines if "/r/" in line]
    assert len(receipt_lines) == 3, seen.lines
    assert all("/r/…" in line for line in receipt_lines), receipt_lines
    assert not any(sale.receipt_token in line for line in seen.lines)


async def test_a_receipt_link_expires_after_the_default_90_days(client, db, cfg):
    assert cfg.receipts.e_receipt_days == 90
    sale = await make_sale(db, cfg)
    await age_sale(db, sale, 89)
    assert (await client.get(f"/r/{sale.receipt_token}")).status_code == 200
    await age_sale(db, sale, 91)
    page = await client.get(f"/r/{sale.receipt_token}")
    assert page.status_code == 410
    assert EXPIRED in page.text and sale.number not in page.text


async def test_the_lifetime_is_configurable(tmp_path, migrated_template):
    from app.server import create_store_app

    cfg = make_config(tmp_path, **{"[pos]": "[receipts]\ne_receipt_days = 30\n\n[pos]"})
    assert cfg.receipts.e_receipt_days == 30
    shutil.copy(migrated_template, cfg.database_path)
    db = attach_pepper(Database(cfg.database_path), cfg.data_dir)
    try:
        sale = await make_sale(db, cfg)
        await age_sale(db, sale, 31)
    finally:
        await db.dispose()
    async with AsyncTestClient(app=create_store_app(cfg)) as client:
        page = await client.get(f"/r/{sale.receipt_token}")
    assert page.status_code == 410 and EXPIRED in page.text


@pytest.mark.parametrize("days", [0, 5000])
def test_a_lifetime_out_of_range_is_refused(tmp_path, days):
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="receipts.e_receipt_days"):
        make_config(tmp_path, **{"[pos]": f"[receipts]\ne_receipt_days = {days}\n\n[pos]"})


def test_every_logger_that_prints_paths_redacts_tokens():
    from app.core import log_redact

    log_redact.install()
    for name in log_redact.LOGGERS:
        record = logging.LogRecord(name, logging.ERROR, __file__, 1,
                                   "unhandled error on %s %s", ("GET", "/r/AbC_123-xyz?x=1"),
                                   None)
        assert all(f.filter(record) for f in logging.getLogger(name).filters)
        assert record.getMessage() == "unhandled error on GET /r/…?x=1"
