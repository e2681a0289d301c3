# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""A bill's offers are judged when its first payment was taken (migration 0030), on a real
SQLite store: a happy hour that ends while the customer pays changes nothing they were
shown and paid. Before, the till priced the cart again at Complete: a card payment of the
shown total was refused ("₹54.00 is still due") and Exact cash charged the higher total."""

from __future__ import annotations

from datetime import timedelta

from app.core.clock import utcnow
from app.pos import payment, priced_cart, shifts
from app.promotions import service as promos
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    BIG,
    barcode,
    cashier,
    catalog,
    databases,
    manager,
    new_cart,
    new_key,
    parsed,
    users,
)


async def _happy_hour_bill(db, cfg, cashier, catalog, manager):
    """A 10 % happy hour from half an hour ago to half an hour from now, and a bill it
    applies to (the store's clock)."""
    now = utcnow().astimezone(cfg.tz)
    await promos.create(db, cfg, {
        "kind": "percent_off", "name": "Happy hour", "categories": "", "skus": BIG,
        "percent": "10", "since": (now - timedelta(minutes=30)).strftime("%H:%M"),
        "until": (now + timedelta(minutes=30)).strftime("%H:%M")}, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, BIG))
    assert view.totals.promotions > 0  # the happy hour is on the bill as shown
    return view


def _an_hour_later(monkeypatch):
    later = utcnow() + timedelta(hours=1)
    for module in (priced_cart, payment):
        monkeypatch.setattr(module, "utcnow", lambda: later)


async def test_a_card_paid_before_the_happy_hour_ended_completes_at_the_shown_total(
        cfg, db, catalog, cashier, manager, monkeypatch):
    view = await _happy_hour_bill(db, cfg, cashier, catalog, manager)
    shown = view.totals.total
    await payment.add_tender(db, cfg, "C1", view.cart.id, "card", shown, reference="123456")
    _an_hour_later(monkeypatch)  # the happy hour is over when the cashier taps Complete
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier)
    assert sale.total_minor == shown


async def test_a_bill_not_yet_paid_gets_the_offers_of_the_moment(
        cfg, db, catalog, cashier, manager, monkeypatch):
    view = await _happy_hour_bill(db, cfg, cashier, catalog, manager)
    shown = view.totals.total
    _an_hour_later(monkeypatch)  # no payment was taken during the happy hour
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), cashier,
                                       exact_cash=True)
    assert sale.total_minor > shown
