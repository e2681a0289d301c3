"""Server-drawn SVG charts (app/core/svg_charts.py): well-formed XML for any figures,
hostile labels escaped, the figures said in the title, zero/negative/huge/empty series."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.money import format_amount
from app.core.svg_charts import (
    Svg,
    bar_chart,
    compact_amount,
    hbar_chart,
    line_chart,
    nice_ticks,
    sparkline,
)

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = ['<script>alert(1)</script>', '"onload="x', "a\x00b", "&amp;", "x" * 100_000,
           "\ud800", "]]>", "Dal\u2028Chawal"]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def rects(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{NS}rect") if r.get("data-value") is not None]


def test_bars_say_their_figures_and_scale():
    svg = bar_chart(["Mon", "Tue", "Wed"], [100_00, 0, 250_00], title="Sales by day",
                    fmt=format_amount)
    assert isinstance(svg, Svg) and svg.__html__() == svg
    root = parse(svg)
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert label.startswith("Sales by day: Mon ₹100.00; Tue ₹0.00; Wed ₹250.00")
    assert root.find(f"{NS}title").text == label
    bars = rects(root)
    assert [b.get("data-value") for b in bars] == ["10000", "0", "25000"]
    heights = [float(b.get("height")) for b in bars]
    assert heights[1] == 0 and heights[2] > heights[0] > 0
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Mon" in texts and "Wed" in texts  # x axis labels
    assert "₹0.00" in texts  # y axis starts at zero


def test_previous_period_is_lighter_and_in_the_legend():
    svg = bar_chart(["1", "2"], [5, 7], previous=[3, 9], title="By hour")
    root = parse(svg)
    bars = rects(root)
    assert [(b.get("data-value"), b.get("fill")) for b in bars] == [
        ("3", "#a8cfc0"), ("5", "#0b6e4f"), ("9", "#a8cfc0"), ("7", "#0b6e4f")]
    assert "(previous period 3)" in root.get("aria-label")
    assert "Previous period" in [t.text for t in root.iter(f"{NS}text")]
    with pytest.raises(ValueError):
        bar_chart(["1"], [1], previous=[1, 2], title="x")


def test_negative_figure_hangs_below_zero_in_red():
    root = parse(bar_chart(["a", "b"], [-500, 1000], title="Net"))
    neg, pos = rects(root)
    assert neg.get("fill") == "#b3261e"
    zero_line = float(pos.get("y")) + float(pos.get("height"))
    assert abs(float(neg.get("y")) - zero_line) < 0.02 and float(neg.get("height")) > 0


@pytest.mark.parametrize("chart", [bar_chart, line_chart, hbar_chart])
def test_empty_series_says_nothing_to_show(chart):
    root = parse(chart([], [], title="Sales"))
    assert "No" in root.get("aria-label") or "Nothing" in root.get("aria-label")
    assert rects(root) == []


def test_all_zero_and_single_value():
    for chart in (bar_chart, line_chart, hbar_chart):
        parse(chart(["only"], [0], title="t"))
        parse(chart(["a", "b"], [0, 0], title="t"))
    parse(sparkline([0], title="t"))
    parse(sparkline([], title="t"))


@pytest.mark.parametrize("huge", [2**63, 10**30, -(2**63), 10**400])
def test_huge_values_do_not_overflow(huge):
    for chart in (bar_chart, line_chart, hbar_chart):
        root = parse(chart(["a", "b"], [huge, 1], title="t"))
        for r in root.iter(f"{NS}rect"):
            for attr in ("x", "y", "width", "height"):
                if r.get(attr) is not None:
                    assert math.isfinite(float(r.get(attr)))
    parse(sparkline([huge, 0, 1], title="t"))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "12", None, True])
def test_not_a_number_is_refused(bad):
    for chart in (bar_chart, line_chart, hbar_chart):
        with pytest.raises(ValueError):
            chart(["a"], [bad], title="t")
    with pytest.raises(ValueError):
        sparkline([1, bad], title="t")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_labels_are_escaped(name):
    for chart in (bar_chart, line_chart, hbar_chart):
        svg = chart([name, "ok"], [3, 4], title=name)
        root = parse(svg)  # still well-formed XML
        assert "<script" not in svg and "\x00" not in svg
        assert len(svg) < 20_000  # a 100 KB name is cut
        assert len(root.get("aria-label")) <= 4000


def test_hbar_rows_and_negative_left_of_zero():
    root = parse(hbar_chart(["Atta 5 kg", "Refunded soap"], [12_000, -300], title="Top",
                            fmt=format_amount))
    pos, neg = rects(root)
    assert neg.get("fill") == "#b3261e"
    assert float(neg.get("x")) + float(neg.get("width")) <= float(pos.get("x")) + 0.02
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Atta 5 kg" in texts and "₹120.00" in texts


def test_long_series_title_points_to_the_table():
    labels = [f"d{i}" for i in range(365)]
    root = parse(line_chart(labels, list(range(365)), title="Year"))
    assert "and 325 more in the table below" in root.get("aria-label")
    assert len(list(root.iter(f"{NS}circle"))) == 0  # no dots on a year
    shown = [t.text for t in root.iter(f"{NS}text") if t.text and t.text.startswith("d")]
    assert 3 <= len(shown) <= 12  # thinned, not 365 overlapping labels


def test_sparkline_summary():
    root = parse(sparkline([3, 9, 1, 4], title="Net"))
    assert root.get("class") == "spark"
    assert root.get("aria-label") == "Net: from 3 to 4, lowest 1, highest 9"


def test_compact_amount():
    assert compact_amount(0) == "₹0"
    assert compact_amount(5050) == "₹50.5"
    assert compact_amount(150_000) == "₹1.5k"
    assert compact_amount(12_500_000) == "₹1.25L"
    assert compact_amount(300_000_000) == "₹30L"
    assert compact_amount(3_000_000_000) == "₹3Cr"
    assert compact_amount(-150_000) == "-₹1.5k"
    assert compact_amount(10**400).endswith("Cr") or "∞" in compact_amount(10**400)


def test_nice_ticks_examples():
    assert nice_ticks(0, 0) == [0]
    assert nice_ticks(0, 100) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(-30, 97)[0] <= -30


@settings(max_examples=200)
@given(st.integers(-10**12, 10**12), st.integers(-10**12, 10**12))
def test_nice_ticks_cover_the_range_and_hold_zero(a, b):
    lo, hi = min(a, b), max(a, b)
    ticks = nice_ticks(lo, hi)
    assert 0 in ticks and ticks == sorted(ticks)
    assert ticks[0] <= min(lo, 0) and ticks[-1] >= max(hi, 0)
    assert len(ticks) <= 12


figures = st.lists(st.integers(-10**15, 10**15), min_size=0, max_size=60)


@settings(max_examples=100)
@given(figures, st.booleans())
def test_any_bars_are_well_formed_and_inside_the_box(values, with_previous):
    labels = [f"L{i}" for i in range(len(values))]
    prev = list(reversed(values)) if with_previous else None
    root = parse(bar_chart(labels, values, previous=prev, title="t", width=720, height=300))
    for r in rects(root):
        x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
        assert x >= 0 and x + w <= 720.02 and y >= 0 and y + h <= 300.02
        assert (h > 0) == (int(r.get("data-value")) != 0)


@settings(max_examples=100)
@given(figures)
def test_any_line_and_hbars_are_well_formed(values):
    labels = [f"L{i}" for i in range(len(values))]
    parse(line_chart(labels, values, title="t"))
    parse(hbar_chart(labels, values, title="t"))
    parse(sparkline(values, title="t"))
