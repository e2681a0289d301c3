"""The customer's e-receipt page speaks the receipt's language (`[printing]
receipt_language`, issue #22), not the language of whoever opens the link."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core import i18n
from app.core.auth import StaffUser, create_user
from app.pos import cart, payment, shifts
from app.stock.service import load_bins_csv
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "english": {},
    "hindi": {"[security]": '[printing]\nreceipt_language = "hi"\n\n[security]'},
    "bilingual": {'language = "en"': 'language = "hi"',
                  "[security]": '[printing]\nreceipt_language = "bilingual"\n\n[security]'},
}


@pytest.fixture(params=list(SETTINGS))
def cfg(request, tmp_path: Path, migrated_template: Path):
    config = make_config(tmp_path, **SETTINGS[request.param])
    shutil.copy(migrated_template, config.database_path)
    return config


async def _sale(db, cfg):
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
    return await payment.complete_sale(db, cfg, "C1", view.cart.id, "lang-key-1", staff)


async def test_the_e_receipt_speaks_the_receipt_language(client, db, cfg):
    sale = await _sale(db, cfg)
    for device in ("en", "hi", "../x"):  # whatever the phone that opens it chose
        client.cookies.set(i18n.LANG_COOKIE, device)
        page = (await client.get(f"/r/{sale.receipt_token}")).text
        assert sale.number in page
        setting = cfg.printing.receipt_language
        if setting == "":
            assert "<td>TOTAL</td>" in page and "कुल" not in page
        elif setting == "hi":
            assert "<td>कुल</td>" in page and "TOTAL" not in page
            assert "हमसे खरीदारी के लिए धन्यवाद।" in page
        else:  # the store's language with the English beside each label
            assert "<td>कुल / TOTAL</td>" in page
    # the rest of the store still goes by the device's choice
    client.cookies.set(i18n.LANG_COOKIE, "en")
    assert "Tap your name" in (await client.get("/login")).text
    # an unknown link answers in the receipt's language too, and stays a 404
    missing = await client.get("/r/not-a-real-token-at-all-xx")
    assert missing.status_code == 404
