"""app.core.gst.tax_rows: the one GST table of every document (issue #14)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.gst import TaxRow, half_of, tax_rows
from app.core.money import GST_SLABS_BP, gst_in_inclusive

slabs = st.sampled_from(sorted(GST_SLABS_BP))
# A line as the till records it: (rate, amount incl. GST, the GST the rule put in it).
sold_lines = st.lists(
    st.tuples(slabs, st.integers(0, 10**8)).map(
        lambda t: (t[0], t[1], gst_in_inclusive(t[1], t[0]).tax)),
    max_size=30)
# Any recorded line, also one written before the equal-halves rule (odd GST).
any_lines = st.lists(
    st.tuples(slabs, st.integers(0, 10**8), st.integers(0, 10**6)).map(
        lambda t: (t[0], t[1], min(t[2], t[1]))),
    max_size=30)


def test_an_odd_gst_keeps_the_halves_equal_and_the_paisa_in_the_taxable_value():
    """Fails on the old code (pos.pricing.tax_table split 29.75 as 14.88 + 14.87)."""
    [row] = tax_rows([(1800, 19500, 2975)])
    assert row == TaxRow(1800, 16526, 1487, 1487)
    assert row.total == 19500 and row.tax == 2974


def test_refunds_come_in_negative_and_mirror_their_sale():
    rows = tax_rows([(1800, 19500, 2974), (500, 6800, 324), (1800, -19500, -2974)])
    assert rows == (TaxRow(500, 6476, 162, 162), TaxRow(1800, 0, 0, 0))
    assert tax_rows([(1800, -19500, -2975)]) == (TaxRow(1800, -16526, -1487, -1487),)
    assert [half_of(t) for t in (3, -3, 4, -4, 0)] == [1, -1, 2, -2, 0]


def test_no_lines_no_rows():
    assert tax_rows([]) == ()


@given(any_lines)
def test_halves_are_equal_and_rows_add_up_to_the_amount(lines):
    rows = tax_rows(lines)
    assert [r.rate_bp for r in rows] == sorted({rate for rate, _a, _t in lines})
    for row in rows:
        assert row.cgst == row.sgst
        amount = sum(a for rate, a, _t in lines if rate == row.rate_bp)
        tax = sum(t for rate, _a, t in lines if rate == row.rate_bp)
        # Documented rounding: exact to the paisa; an odd paisa of GST goes to taxable.
        assert row.total == amount
        assert row.tax in (tax, tax - 1)
        assert row.taxable >= 0 and row.cgst >= 0 and row.tax <= amount


@given(sold_lines)
def test_rows_of_sold_lines_are_the_sum_of_their_line_halves(lines):
    rows = {r.rate_bp: r for r in tax_rows(lines)}
    for rate in rows:
        halves = [gst_in_inclusive(a, rate).half for r, a, _t in lines if r == rate]
        taxables = [gst_in_inclusive(a, rate).taxable for r, a, _t in lines if r == rate]
        assert rows[rate].cgst == rows[rate].sgst == sum(halves)
        assert rows[rate].taxable == sum(taxables)


@given(any_lines, any_lines)
def test_a_report_from_sums_equals_one_from_lines_and_refunds_net_out(sales, refunds):
    """The X/Z adds lines per rate in SQL first; the table must not depend on that."""
    mixed = sales + [(r, -a, -t) for r, a, t in refunds]
    per_rate: dict[int, tuple[int, int]] = {}
    for rate, a, t in mixed:
        pa, pt = per_rate.get(rate, (0, 0))
        per_rate[rate] = (pa + a, pt + t)
    assert tax_rows(mixed) == tax_rows((r, a, t) for r, (a, t) in per_rate.items())
    assert tax_rows(sales + [(r, -a, -t) for r, a, t in sales]) == tuple(
        TaxRow(rate, 0, 0, 0) for rate in sorted({r for r, _a, _t in sales}))


def test_mixed_rows_keep_each_kind_of_supply_split_its_own_way():
    from hypothesis import given
    from hypothesis import strategies as st

    from app.core.gst import mixed_tax_rows, tax_rows

    line = st.tuples(st.sampled_from([0, 500, 1200, 1800, 2800]),
                     st.integers(-10**9, 10**9), st.integers(-10**7, 10**7), st.booleans())

    @given(st.lists(line, max_size=30))
    def check(parts):
        rows = mixed_tax_rows(parts)
        assert [r.rate_bp for r in rows] == sorted({p[0] for p in parts})
        for r in rows:
            mine = [p for p in parts if p[0] == r.rate_bp]
            intra = tax_rows((a, b, c) for a, b, c, inter in mine if not inter)
            inter = tax_rows(((a, b, c) for a, b, c, i in mine if i), inter_state=True)
            assert r.cgst == r.sgst == sum(x.cgst for x in intra)
            assert r.igst == sum(x.igst for x in inter) == sum(c for *_, c, i in mine if i)
            assert r.total == sum(b for _, b, _, _ in mine)  # nothing lost or made

    check()
    assert mixed_tax_rows([]) == ()
