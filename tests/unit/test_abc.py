"""ABC classification and count schedule (issue #17): app/stock/abc.py."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.stock.abc import AbcError, AbcThresholds, classify, due_for_count

TODAY = datetime.date(2026, 12, 1)


def ago(days: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=days)


def test_pareto_split():
    sales = [("p1", 500), ("p2", 300), ("p3", 100), ("p4", 60), ("p5", 40), ("p6", 0)]
    assert classify(sales) == {"p1": "A", "p2": "A", "p3": "B", "p4": "B", "p5": "C", "p6": "C"}


def test_the_item_crossing_the_line_is_in_the_upper_class():
    # before p2: 70 % < 80 %, so p2 is A though it takes the total to 95 %
    assert classify([("p1", 70), ("p2", 25), ("p3", 5)]) == {"p1": "A", "p2": "A", "p3": "C"}


def test_nothing_sold_is_c_and_refunds_count_as_nothing():
    assert classify([("p1", 0), ("p2", -500)]) == {"p1": "C", "p2": "C"}
    assert classify([("p1", -500), ("p2", 10)]) == {"p1": "C", "p2": "A"}
    assert classify([]) == {}


def test_thresholds_are_parameters():
    sales = [("p1", 50), ("p2", 30), ("p3", 20)]
    assert classify(sales, AbcThresholds(a_bp=5000, b_bp=3000)) == {
        "p1": "A",
        "p2": "B",
        "p3": "C",
    }


def test_ties_keep_the_given_order():
    got = classify([("x", 10), ("y", 10), ("z", 10), ("w", 10)], AbcThresholds(5000, 2500))
    assert got == {"x": "A", "y": "A", "z": "B", "w": "C"}


@pytest.mark.parametrize(
    ("rows", "words"),
    [([("p", 1), ("p", 2)], "listed twice"), ([("p", 1.5)], "whole paise")],
)
def test_bad_sales_are_refused(rows, words):
    with pytest.raises(AbcError, match=words):
        classify(rows)


@pytest.mark.parametrize(("a", "b"), [(-1, 0), (0, -1), (9000, 1001), (True, 0)])
def test_bad_thresholds_are_refused(a, b):
    with pytest.raises(AbcError):
        AbcThresholds(a, b)


def test_due_for_count():
    classes = {"a1": "A", "a2": "A", "b1": "B", "c1": "C", "c2": "C", "new": "B"}
    last = {"a1": ago(7), "a2": ago(6), "b1": ago(40), "c1": ago(89), "c2": ago(100)}
    assert list(due_for_count(classes, last, TODAY)) == ["new", "b1", "c2", "a1"]


def test_custom_intervals_and_bad_ones():
    assert list(due_for_count({"a": "A"}, {"a": ago(1)}, TODAY, {"A": 1, "B": 2, "C": 3})) == ["a"]
    with pytest.raises(AbcError, match="class B"):
        due_for_count({"a": "A"}, {}, TODAY, {"A": 1, "B": 0, "C": 3})
    with pytest.raises(AbcError, match="class C"):
        due_for_count({"a": "A"}, {}, TODAY, {"A": 1, "B": 2})


sales_lists = st.lists(
    st.tuples(st.from_regex(r"p[0-9]{1,3}", fullmatch=True), st.integers(-100, 10_000)),
    max_size=40,
    unique_by=lambda row: row[0],
)
thresholds = st.integers(0, 10_000).flatmap(
    lambda a: st.builds(AbcThresholds, st.just(a), st.integers(0, 10_000 - a))
)


@given(sales_lists, thresholds)
def test_classes_partition_and_are_ordered_by_value(sales, limits):
    got = classify(sales, limits)
    assert set(got) == {p for p, _ in sales}  # every product exactly once
    assert set(got.values()) <= {"A", "B", "C"}
    value = {p: max(v, 0) for p, v in sales}
    by_class = {c: [value[p] for p in got if got[p] == c] for c in "ABC"}
    if by_class["A"] and by_class["B"]:
        assert min(by_class["A"]) >= max(by_class["B"])
    if by_class["B"] and by_class["C"]:
        assert min(by_class["B"]) >= max(by_class["C"])
    if by_class["A"] and by_class["C"]:
        assert min(by_class["A"]) >= max(by_class["C"])
    # A holds at least its share of the value, and without its smallest item less than it
    total = sum(value.values())
    a_value = sum(by_class["A"])
    if total and limits.a_bp:
        assert a_value * 10_000 >= limits.a_bp * total
        assert (a_value - min(by_class["A"])) * 10_000 < limits.a_bp * total


@given(sales_lists)
def test_ties_are_stable(sales):
    """Equal values: an earlier product is never in a lower class than a later one."""
    got = classify(sales)
    rank = {"A": 0, "B": 1, "C": 2}
    for i, (p, v) in enumerate(sales):
        for q, w in sales[i + 1 :]:
            if max(v, 0) == max(w, 0):
                assert rank[got[p]] <= rank[got[q]]


@given(
    st.dictionaries(
        st.from_regex(r"p[0-9]{1,3}", fullmatch=True), st.sampled_from(["A", "B", "C"])
    ),
    st.data(),
)
def test_due_for_count_properties(classes, data):
    last = {
        p: data.draw(st.one_of(st.none(), st.integers(0, 200).map(ago)), label=p) for p in classes
    }
    due = list(due_for_count(classes, last, TODAY))
    every = {"A": 7, "B": 30, "C": 90}
    assert len(due) == len(set(due))
    for p, cls in classes.items():
        expected_due = last[p] is None or (TODAY - last[p]).days >= every[cls]
        assert (p in due) == expected_due
    # counted today: never due; never counted: first
    never = [p for p in due if last[p] is None]
    assert due[: len(never)] == never
