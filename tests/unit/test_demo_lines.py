"""The demo's made-up online orders: packets, and sometimes a loose item by weight, so
the weighed path of picking is seen in the demo (issue #16 item 11)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from app.orders.demo_feed import LOOSE_GRAMS, demo_lines

PIECES = [f"P{i}" for i in range(30)]
LOOSE = ["FV-APPLE", "FV-ONION", "OIL-LOOSE"]


@given(seed=st.integers(0, 2**32), pieces=st.integers(0, 30), loose=st.integers(0, 3),
       most=st.integers(1, 5))
def test_an_order_has_lines_each_product_once_and_at_most_one_loose_line(
        seed: int, pieces: int, loose: int, most: int) -> None:
    lines = demo_lines(random.Random(seed), PIECES[:pieces], LOOSE[:loose], most)
    assert bool(lines) == bool(pieces or loose)
    skus = [line.sku for line in lines]
    assert len(skus) == len(set(skus))
    weighed = [line for line in lines if line.sku in LOOSE]
    packets = [line for line in lines if line.sku not in LOOSE]
    assert len(weighed) <= 1 and len(packets) <= most
    assert all(line.quantity in LOOSE_GRAMS for line in weighed)
    assert all(line.quantity in (1, 2) for line in packets)


def test_about_a_third_of_orders_have_a_loose_item() -> None:
    rng = random.Random(16)
    orders = [demo_lines(rng, PIECES, LOOSE, most=4) for _ in range(300)]
    with_loose = sum(any(line.sku in LOOSE for line in lines) for lines in orders)
    assert 60 <= with_loose <= 150, with_loose


def test_no_loose_products_means_packets_only() -> None:
    rng = random.Random(1)
    assert all(line.sku in PIECES for _ in range(50) for line in demo_lines(rng, PIECES, [], 4))
