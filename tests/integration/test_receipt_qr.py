"""The QR code printed on a receipt takes the customer to their bill."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.auth import StaffUser, create_user
from app.core.money import format_amount
from app.pos import cart, payment, shifts
from app.printing.models import PrintJob
from app.printing.worker import render_job
from app.stock.service import load_bins_csv
from tests.unit.test_escpos_render import rasters

ROOT = Path(__file__).resolve().parents[2]


async def test_printed_qr_opens_the_e_receipt(client, db, cfg):
    zbar = pytest.importorskip("pyzbar.pyzbar", reason="pyzbar and Debian's libzbar0 (make test)")
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
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, "qr-test-key-1", staff)

    async with db.read() as s:
        job = await s.scalar(select(PrintJob).where(PrintJob.ref == sale.id))
    assert job is not None and job.document == "receipt"
    data = render_job(cfg.printers[0], job.layout)
    decoded = []
    for img in rasters(data):  # the QR is printed as a raster image
        big = img.convert("L").resize((img.width * 2, img.height * 2), Image.NEAREST)
        canvas = Image.new("L", (big.width + 80, big.height + 80), 255)
        canvas.paste(big, (40, 40))
        decoded += [d.data.decode() for d in zbar.decode(canvas) if d.type == "QRCODE"]
    assert len(decoded) == 1
    url = decoded[0]
    assert url == f"{cfg.public_url}/r/{sale.receipt_token}"

    page = await client.get(urlsplit(url).path)  # public: no sign-in
    assert page.status_code == 200
    assert sale.number in page.text
    assert format_amount(sale.total_minor) in page.text
    assert (await client.get("/r/not-a-real-token-at-all-xx")).status_code == 404
