"""The shapes of the hub's small charts (app/hub/charts.py): pure, so checked for any
figures (hypothesis), not only the ones a page happens to show."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.hub.charts import columns, share

figures = st.lists(st.integers(min_value=-10**9, max_value=10**9), min_size=1, max_size=48)


@given(figures, st.integers(min_value=10, max_value=600), st.integers(min_value=4, max_value=200))
def test_columns_fit_the_box_and_the_largest_reaches_the_top(values, width, height):
    cols = columns(values, width, height)
    assert len(cols) == len(values) and [c.value for c in cols] == values
    xs = [c.x for c in cols]
    assert xs == sorted(xs) and xs[0] == 0
    for c in cols:
        assert 0 <= c.height <= height and abs(c.y + c.height - height) < 0.02  # on the floor
        assert c.x + c.width <= width + 0.02
        assert (c.height > 0) == (c.value > 0)
        if c.value > 0:
            assert c.height >= 1  # a small figure still shows
    top = max(values)
    if top > 0:
        assert max(c.height for c in cols) == height
        # taller means more
        for a in cols:
            for b in cols:
                if a.value > b.value > 0:
                    assert a.height >= b.height


def test_columns_examples():
    cols = columns([0, 5, 10, -3], 40, 20, gap=2)
    assert [(c.x, c.width, c.height) for c in cols] == [(0, 8, 0), (10, 8, 10), (20, 8, 20),
                                                       (30, 8, 0)]
    assert columns([], 96, 24) == () and columns([1], 0, 24) == ()
    assert [c.height for c in columns([1, 10_000], 96, 24)] == [1, 24]  # never invisible


@given(st.integers(-100, 10**6), st.integers(-100, 10**6), st.integers(0, 400))
def test_a_share_stays_in_its_track(value, whole, width):
    length = share(value, whole, width)
    assert 0 <= length <= width
    assert (length > 0) == (value > 0 and whole > 0 and width > 0)


def test_share_examples():
    assert share(2, 4, 64) == 32 and share(4, 4, 64) == 64 and share(9, 4, 64) == 64
    assert share(1, 10_000, 64) == 2  # visible
    assert share(0, 4, 64) == 0
