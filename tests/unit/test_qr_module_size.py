"""The receipt QR's module size comes from the symbol's version alone (issue #15: building
the whole matrix to learn its side cost ~7 ms a receipt): the same size as the full build."""

from __future__ import annotations

import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st

from app.printing.escpos_render import qr_module_size


def by_full_build(data: str, requested: int, dots: int) -> int:
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M,
                       border=1, box_size=1)
    qr.add_data(data)
    qr.make(fit=True)
    return max(1, min(requested, dots // (qr.modules_count + 2)))


@settings(max_examples=60, deadline=None)
@given(data=st.text(min_size=1, max_size=400), requested=st.integers(1, 16),
       dots=st.sampled_from([384, 512, 576]))
def test_module_size_matches_the_full_build(data: str, requested: int, dots: int) -> None:
    assert qr_module_size(data, requested, dots) == by_full_build(data, requested, dots)


def test_a_receipt_link_at_each_paper_width() -> None:
    link = "https://store.example.in/r/oZ4y7dZcBt1TtjO4iN5X6D-FzE6akh87"
    for dots in (384, 504, 576):
        assert qr_module_size(link, 6, dots) == by_full_build(link, 6, dots)
