"""The hub reports' pure rules (app/hub/report_rules.py): the map, periods, sorting, CSV,
and reading hostile GST fields. No database."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.gstr1 import Line
from app.hub import report_rules as rules
from app.hub.report_rules import StoreFigures

TODAY = date(2026, 11, 30)


def store(sid: str, lat: float, lon: float, **kw) -> StoreFigures:
    return StoreFigures(store_id=sid, name=f"Store {sid}", kind="counter", lat=lat, lon=lon,
                        **kw)


def test_the_map_with_no_store_draws_nothing():
    assert rules.store_map([]) == ()


def test_one_store_sits_in_the_middle():
    [dot] = rules.store_map([store("S1", 12.97, 77.64, today_orders=3, today_due=2,
                                   today_met=2)])
    assert (dot.x, dot.y) == (320.0, 200.0) and dot.r == 26.0
    assert dot.colour == "#0b6e4f" and "3 online orders today, SLA met 100.0%" in dot.label


def test_two_stores_at_one_point_overlap_and_both_say_their_figures():
    dots = rules.store_map([store("S1", 12.97, 77.64, today_orders=1),
                            store("S2", 12.97, 77.64)])
    assert [(d.x, d.y) for d in dots] == [(320.0, 200.0)] * 2
    assert dots[0].r > dots[1].r == 6.0  # no orders: the smallest dot
    assert "1 online order today" in dots[0].label and "S2" in dots[1].label
    assert dots[1].colour == rules.NO_SLA[0]


def test_stores_fill_the_box_north_up_and_bad_points_are_left_out():
    dots = rules.store_map([store("N", 13.0, 77.6), store("S", 12.9, 77.6),
                            store("E", 12.95, 77.7), store("X", math.nan, 77.0),
                            store("Y", 12.9, math.inf), store("Z", 95.0, 10.0)])
    by = {d.store_id: d for d in dots}
    assert set(by) == {"N", "S", "E"}
    assert by["N"].y < by["S"].y and by["E"].x > by["N"].x
    for d in dots:
        assert 36 <= d.x <= 604 and 36 <= d.y <= 364


@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180),
                          st.integers(0, 2**63)), max_size=8))
def test_every_dot_is_inside_the_picture(points):
    rows = [store(f"S{i}", lat, lon, today_orders=n) for i, (lat, lon, n) in enumerate(points)]
    for d in rules.store_map(rows):
        assert 0 <= d.x <= 640 and 0 <= d.y <= 400 and 6 <= d.r <= 26


def test_periods():
    assert rules.date_range("", "", TODAY) == (date(2026, 11, 1), TODAY)
    assert rules.date_range("2026-11-05", "2026-11-05", TODAY) == (date(2026, 11, 5),) * 2
    for start, end, words in [("2026-11-30", "2026-11-01", "Swap"),
                              ("2025-01-01", "2026-11-01", "at most 366 days"),
                              ("yesterday", "", "2026-11-30"), ("\x00", "", "calendar"),
                              ("2026-02-30", "", "calendar")]:
        with pytest.raises(rules.RangeError, match=words):
            rules.date_range(start, end, TODAY)


def test_sorting_puts_stores_without_a_figure_last():
    rows = [store("A", 0, 0, due=2, met=1), store("B", 0, 0), store("C", 0, 0, due=1, met=1)]
    assert [f.store_id for f in rules.sort_stores(rows, "sla", True)] == ["C", "A", "B"]
    assert [f.store_id for f in rules.sort_stores(rows, "sla", False)] == ["A", "C", "B"]
    assert [f.store_id for f in rules.sort_stores(rows, "<script>", False)] == ["A", "B", "C"]


def test_csv_rows_are_rupees_and_leave_escaping_to_csv_safe():
    rows = rules.csv_rows([store("S1", 0, 0, sales=-250, bills=2, refunds=300, due=3,
                                 met=2)])
    assert rows[1][:7] == ["S1", "Store S1", "counter", "-2.50", 2, "3.00", "0.25"]
    assert rows[1][10] == "66.7"


@pytest.mark.parametrize("bad", [math.nan, "NaN", 2**63, -(2**70), True, None, "1e5", [1],
                                 {"a": 1}, 1.0])
def test_hostile_numbers_are_not_read(bad):
    assert rules.whole(bad) is None
    doc = rules.document({"doc": bad, "buyer_gstin": bad, "place_of_supply": bad}, False)
    assert (doc.doc_kind, doc.buyer_gstin, doc.place_of_supply) == ("b2c", "", "")
    lines = rules.tax_lines({"lines": [{"quantity": bad, "net": 100, "tax": 0},
                                       {"quantity": 1, "net": bad},
                                       {"quantity": 1, "net": 118, "tax": bad,
                                        "gst_rate_bp": bad}]}, False, doc)
    assert lines == (Line(hsn="", unit="", quantity=1, rate_bp=0, taxable=118, cgst=0, sgst=0,
                          igst=0),)


def test_inter_state_tax_is_igst_when_the_split_was_not_sent():
    doc = rules.document({"place_of_supply": "27", "doc": "b2c"}, False)
    [line] = rules.tax_lines({"lines": [{"quantity": 1, "net": 118, "tax": 18,
                                         "gst_rate_bp": 1800, "hsn": "12345678"}]}, False, doc)
    assert (line.hsn, line.taxable, line.cgst, line.sgst, line.igst) == ("12345678", 100, 0,
                                                                         0, 18)


def test_text_is_bounded_and_clean():
    assert rules.plain_text("a\x00b" + "c" * 100_000, 80) == "abc" + "c" * 77
    assert rules.plain_text(5, 80) == ""
