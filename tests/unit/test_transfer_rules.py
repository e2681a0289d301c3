"""The transfer state machine and its receipt rules (issue #17), with properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.stock import transfer_rules as rules
from app.stock.transfer_rules import Line, TransferRuleError

STATES = st.sampled_from(rules.STATES)
FORWARD = ("requested", "approved", "picked", "dispatched", "received")


def test_the_happy_path_and_what_may_not_follow():
    for a, b in zip(FORWARD, FORWARD[1:], strict=False):
        rules.check(a, b)
    for current in ("requested", "approved", "picked"):
        rules.check(current, "cancelled")
    with pytest.raises(TransferRuleError, match="cannot become received"):
        rules.check("approved", "received")
    with pytest.raises(TransferRuleError, match="already on its way"):
        rules.check("dispatched", "dispatched")
    with pytest.raises(TransferRuleError, match="nothing more can happen"):
        rules.check("received", "cancelled")
    with pytest.raises(TransferRuleError, match="cannot become cancelled"):
        rules.check("dispatched", "cancelled")
    with pytest.raises(TransferRuleError, match="unknown"):
        rules.check("lost", "received")


@given(STATES, STATES)
def test_a_report_only_moves_a_copy_forward_and_never_undoes_a_dispatch(current, reported):
    new = rules.after_report(current, reported)
    if new is None:
        return
    assert new == reported
    if current in ("dispatched", "received"):
        assert new == "received" and current == "dispatched"
    if reported == "cancelled":
        assert current in rules.OPEN
    # Applying the same report again changes nothing (a replayed event).
    assert rules.after_report(new, reported) is None


@given(st.lists(st.sampled_from(rules.STATES), max_size=12))
def test_copies_hearing_reports_in_any_order_agree_on_where_goods_went(reports):
    state = "requested"
    for reported in reports:
        state = rules.after_report(state, reported) or state
    if "received" in reports:
        assert state == "received"
    elif "dispatched" in reports:
        assert state == "dispatched"


@given(st.lists(st.integers(0, 1000), max_size=6), st.integers(0, 10_000))
def test_a_receipt_is_spread_over_the_batches_in_order(sent, received):
    got = rules.spread_received(sent, received)
    assert len(got) == len(sent)
    if not sent:
        return
    assert sum(got) == received
    assert all(g >= 0 for g in got)
    # Earlier batches are filled first; only the last can hold more than was sent.
    assert all(g <= s for g, s in zip(got[:-1], sent[:-1], strict=True))
    for i in range(1, len(sent)):
        if got[i] > 0:
            assert got[i - 1] == sent[i - 1]


@pytest.mark.parametrize(("text", "ok"), [
    ("12", 12), ("0", None), ("1e9", None), ("-3", None), ("2.5", None), ("NaN", None),
    ("inf", None), ("", None), ("٣", None), ("9" * 100_000, None), ("1\x00", None)])
def test_a_typed_quantity_is_a_plain_whole_number(text, ok):
    if ok is None:
        with pytest.raises(TransferRuleError):
            rules.parse_quantity(text, "SALT")
    else:
        assert rules.parse_quantity(text, "SALT") == ok
    assert rules.parse_quantity("0", "SALT", zero_ok=True) == 0


@given(st.lists(st.tuples(st.from_regex(r"[A-Z]{1,6}", fullmatch=True),
                          st.integers(-5, 2**64)), max_size=8))
def test_a_checked_request_has_each_sku_once_within_bounds(raw):
    lines = [Line(sku, qty) for sku, qty in raw]
    try:
        checked = rules.check_request("S1", "D2", lines)
    except TransferRuleError:
        skus = [sku for sku, _ in raw]
        assert (not raw or len(set(skus)) < len(skus)
                or any(not 1 <= q <= rules.MAX_QUANTITY for _, q in raw))
        return
    assert [x.sku for x in checked] == sorted({x.sku for x in lines})
    assert all(1 <= x.quantity <= rules.MAX_QUANTITY for x in checked)


def test_differences_name_short_and_excess_lines():
    diffs = rules.differences({"MILK": 8, "SALT": 5}, {"MILK": 7, "SALT": 5, "DAL": 1})
    assert [(d.sku, d.kind, d.quantity) for d in diffs] == [("DAL", "excess", 1),
                                                           ("MILK", "short", 1)]
    assert rules.transfer_number("S1", 12) == "S1-T00012"
    assert rules.NUMBER.match("HQ-T00003") and not rules.NUMBER.match("S1-000012")


def test_transfer_kinds_go_one_way():
    from app.sync import protocol as p

    def frame(kind: str) -> bytes:
        return p.encode(p.Events(events=[p.Event(seq=1, id="e1", kind=kind,
                                                 at="2026-12-01T10:00:00+00:00", data={})]))

    for kind in ("transfer.approved", "transfer.incoming", "transfer.cancelled"):
        assert kind in p.HUB_TO_STORE
        with pytest.raises(p.ProtocolError, match="not sent this way"):
            p.decode(frame(kind), expect_kinds=p.STORE_TO_HUB)  # a store may not send it
    for kind in ("transfer.requested", "transfer.picked", "transfer.dispatched",
                 "transfer.received", "transfer.withdrawn"):
        with pytest.raises(p.ProtocolError, match="not sent this way"):
            p.decode(frame(kind), expect_kinds=p.HUB_TO_STORE)


def test_more_than_expected_lists_only_the_lines_over_and_asks_plainly():
    from app.stock.transfer_rules import more_question, more_than_expected

    over = more_than_expected({"A": 4, "B": 10}, {"A": 40, "B": 10, "C": 1})
    assert [(d.sku, d.sent, d.received) for d in over] == [("A", 4, 40), ("C", 0, 1)]
    assert more_than_expected({"A": 4}, {"A": 4}) == []
    question = more_question(over, "asked")
    assert question.startswith("More than asked: A: 40 typed, 4 asked; C: 1 typed, 0 asked.")
    assert '"Yes, more than asked"' in question
    many = more_than_expected({}, {f"S{i}": 1 for i in range(8)})
    assert "and 3 more" in more_question(many, "sent")
