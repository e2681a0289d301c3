"""price_cart with promotions (issue #21), property-tested: the engine's discounts come
off each line before the bill discount and GST, totals stay exact to the paisa, never
negative, a promotion never raises a price, a line the cashier discounted takes none,
and with no promotion the cart is priced exactly as before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.money import gst_in_inclusive
from app.pos.pricing import Discount, LineInput, price_cart
from tests.unit.test_promotions import NOON, SKUS, promotions


@st.composite
def lines(draw) -> list[LineInput]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        measured = draw(st.booleans())
        label = draw(st.one_of(st.none(), st.integers(0, 50_000)))
        discount = draw(st.one_of(st.none(), st.builds(
            Discount, st.just("percent"), st.integers(0, 10_000)), st.builds(
            Discount, st.just("amount"), st.integers(0, 20_000))))
        out.append(LineInput(
            key=f"l{i}", unit_price=draw(st.integers(0, 30_000)),
            quantity=draw(st.integers(1, 2500 if measured else 6)), measured=measured,
            gst_rate_bp=draw(st.sampled_from([0, 500, 1200, 1800, 2800])),
            label_price=label, discount=discount, sku=draw(st.sampled_from(SKUS))))
    return out


bill = st.one_of(st.none(), st.builds(Discount, st.just("percent"), st.integers(0, 10_000)),
                 st.builds(Discount, st.just("amount"), st.integers(0, 100_000)))


@given(lines(), bill, st.lists(st.integers(0, 99), min_size=0, max_size=3, unique=True),
       st.data())
def test_promotions_in_the_cart_keep_the_money_exact(items, bill_discount, ids, data):
    offers = [data.draw(promotions(f"p{i}")) for i in ids]
    without = price_cart(items, bill_discount, 100)
    t = price_cart(items, bill_discount, 100, offers, NOON)
    assert t.net == t.gross - t.line_discounts - t.promotions - t.bill_discount >= 0
    assert t.total >= 0 and t.net <= without.net or t.promotions == 0
    assert t.promotions == sum(p.promo_discount for p in t.lines)
    for item, p in zip(items, t.lines, strict=True):
        assert 0 <= p.promo_discount <= p.gross - p.line_discount
        assert p.net == p.gross - p.line_discount - p.promo_discount - p.bill_discount >= 0
        gst = gst_in_inclusive(p.net, item.gst_rate_bp)  # GST on what is charged
        assert (p.tax, p.cgst, p.sgst) == (gst.tax, gst.half, gst.half)
        if item.discount is not None and item.discount.value > 0:
            assert not p.item_offers  # (a bill offer is spread over every line)
        if not p.promo_discount:
            assert all(off == 0 for _, _, off, _ in p.offers)
    if not offers:
        assert t == without


def test_a_bogo_in_the_cart():
    items = [LineInput("a", 6800, 3, gst_rate_bp=500, sku="A")]
    assert price_cart(items, None, 100, [], NOON).total == 20400  # none: as before
    from app.core.promotions import Promotion, Target

    bogo = Promotion("p", "Buy 2 get 1 free", "buy_x_get_y", Target(skus=frozenset({"A"})),
                     buy=2, get=1, percent_bp=10_000).check()
    t = price_cart(items, Discount("amount", 1000), 100, [bogo], NOON)
    line = t.line("a")
    assert (line.promo_discount, line.bill_discount, line.net) == (6800, 1000, 12600)
    assert line.item_offers == ("Buy 2 get 1 free",) and t.discount == 7800
    assert line.tax == gst_in_inclusive(12600, 500).tax
