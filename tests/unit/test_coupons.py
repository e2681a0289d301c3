"""The coupon rules (app/core/coupons.py, pure): what a code is, why a use is refused
(in the cashier's words), and the hub's top-up, property-tested: however uses and
top-ups interleave, the stores' grants never add up to more than the total and a grant
never takes back a use made."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import coupons as c
from app.sync import protocol as p


@pytest.mark.parametrize("typed, code", [
    ("DIWALI50", "DIWALI50"), ("diwali50", "DIWALI50"), (" Diwali 50 ", "DIWALI50"),
    ("\tHQ-50_X\n", "HQ-50_X"),
    ("=1+1", None), ("+91", None), ("-5", None), ("@SUM(A1)", None), ("A\x00B", None),
    ("D" * 100_000, None), ("D" * 41, None), ("A", None), ("", None), ("   ", None),
    ("दिवाली", None), ("DIWALI50;DROP", None),
])
def test_normalise(typed, code):
    assert c.normalise(typed) == code


def test_a_new_code_says_what_is_allowed():
    with pytest.raises(c.CouponError, match="2 to 40 letters"):
        c.check_new_code("=1+1")
    assert c.check_new_code(" new year 25 ") == "NEWYEAR25"


TODAY = date(2026, 11, 20)


def why(**kw):
    args = {"starts": None, "ends": None, "ended": None, "today": TODAY,
            "limits": c.Limits(), "uses": c.Uses(), "phone": ""}
    return c.refusal("DIWALI50", **{**args, **kw})


def test_refusals_in_words():
    assert why() is None
    assert why(ends=date(2026, 11, 5)) == "Coupon DIWALI50 expired on 5 Nov"
    assert why(ends=TODAY) is None  # the last day counts
    assert why(starts=date(2026, 12, 1)) == "Coupon DIWALI50 starts on 1 Dec"
    assert why(ended=date(2026, 11, 18)) == "Coupon DIWALI50 ended on 18 Nov"
    assert why(limits=c.Limits(total=1), uses=c.Uses(1)) == "Coupon DIWALI50 already used"
    assert why(limits=c.Limits(total=3), uses=c.Uses(3)) == (
        "Coupon DIWALI50 is used up: all 3 uses taken")
    assert why(limits=c.Limits(total=3), uses=c.Uses(2)) is None
    assert "enter the customer's mobile" in why(limits=c.Limits(per_customer=1))
    assert why(limits=c.Limits(per_customer=1), phone="9876543210",
               uses=c.Uses(5, 1)) == "Coupon DIWALI50 already used by this customer"
    assert why(limits=c.Limits(per_customer=2), phone="9876543210",
               uses=c.Uses(5, 2)) == ("Coupon DIWALI50 already used 2 times by this "
                                      "customer (the limit)")
    assert "share of its uses is taken" in why(limits=c.Limits(total=100, allowance=4),
                                               uses=c.Uses(4))


@pytest.mark.parametrize("total, mine, store", [
    (0, None, None), (None, 0, None), (None, None, 0), (-1, None, None),
    (c.MAX_LIMIT + 1, None, None), (True, None, None), (1, 2, None), (2**63, None, None),
])
def test_bad_limits(total, mine, store):
    with pytest.raises(c.CouponError):
        c.check_limits(total, mine, store)


def test_top_up():
    assert c.top_up(total=10, per_store=3, used_here=0, held_elsewhere=0) == 3
    assert c.top_up(total=10, per_store=3, used_here=2, held_elsewhere=6) == 4
    assert c.top_up(total=10, per_store=3, used_here=4, held_elsewhere=6) == 4  # none left
    assert c.top_up(total=None, per_store=3, used_here=7, held_elsewhere=999) == 10
    assert c.top_up(total=5, per_store=3, used_here=4, held_elsewhere=9) == 4  # never below


@given(total=st.integers(1, 40), per_store=st.integers(1, 10), stores=st.integers(1, 5),
       steps=st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=80))
def test_grants_never_exceed_the_total(total, per_store, stores, steps):
    """Each step: a store uses one (if its grant allows) or gives one back, then the hub
    tops it up as on a report. The grants together stay within the total; every use
    made was within the store's grant; the total is never overshot."""
    granted, used = [0] * stores, [0] * stores
    for i in range(stores):  # the first share, as when HQ makes the coupon
        granted[i] = c.top_up(total=total, per_store=per_store, used_here=0,
                              held_elsewhere=sum(granted))
    for store, give_back in steps:
        store %= stores
        if give_back and used[store]:
            used[store] -= 1
            continue
        if used[store] >= granted[store]:
            continue  # refused at the store (its allowance is spent)
        used[store] += 1
        others = sum(granted) - granted[store]
        granted[store] = max(granted[store], c.top_up(
            total=total, per_store=per_store, used_here=used[store], held_elsewhere=others))
        assert sum(granted) <= total
        assert all(u <= g for u, g in zip(used, granted, strict=True))
    assert sum(used) <= total


def test_a_store_cannot_send_hub_kinds():
    frame = ('{"type":"events","events":[{"seq":1,"id":"e1","kind":"promotion.upserted",'
             '"at":"2026-12-01T10:00:00Z","data":{}}]}')
    with pytest.raises(p.ProtocolError, match="not sent this way"):
        p.decode(frame, expect_kinds=p.STORE_TO_HUB)
    p.decode(frame, expect_kinds=p.HUB_TO_STORE)
    for kind in ("coupon.upserted",):
        assert kind in p.HUB_TO_STORE and kind not in p.STORE_TO_HUB
    for kind in ("coupon.used", "coupon.released"):
        assert kind in p.STORE_TO_HUB and kind not in p.HUB_TO_STORE


def test_the_first_share_leaves_no_store_with_none():
    """Issue #21 review, item 2: 3 stores, total 4, 2 a store gave 2, 2, 0 (the third
    never got any, even online). Now 1 each, 1 kept back for whoever reports first."""
    assert c.first_share(total=4, per_store=2, stores=3) == 1
    assert c.first_share(total=2, per_store=5, stores=3) == 1  # 1, 1, then 0 left
    assert c.first_share(total=100, per_store=10, stores=3) == 10
    assert c.first_share(total=None, per_store=7, stores=3) == 7


def test_a_report_tops_up_every_store_under_its_allowance():
    # S3 holds nothing; S1 reports a use: S3 (the emptiest, least granted) goes first.
    grown = c.rebalance(total=4, per_store=2, grants={"S1": (2, 2), "S2": (2, 0),
                                                        "S3": (0, 0)})
    assert grown == {}  # nothing left: all 4 are held
    grown = c.rebalance(total=4, per_store=2, grants={"S1": (1, 1), "S2": (1, 0),
                                                        "S3": (1, 0)})
    assert grown == {"S1": 2}  # the one spare goes to the store with no free use
    grown = c.rebalance(total=6, per_store=2, grants={"S1": (2, 1), "S2": (1, 1),
                                                        "S3": (0, 0)})
    assert grown == {"S3": 2, "S2": 2}  # the two with no free use; S1 (1 free) waits
    assert c.rebalance(total=None, per_store=3, grants={"A": (3, 3), "B": (3, 0)}) == {
        "A": 6}


@given(total=st.integers(1, 40), per_store=st.integers(1, 10), stores=st.integers(1, 5),
       steps=st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=80))
def test_rebalancing_on_every_report_stays_within_the_total(total, per_store, stores,
                                                            steps):
    """The hub as it runs: first shares in id order, then on each store's report (a use
    or a release) every store under its allowance is topped up. The grants together
    stay within the total, every use was within its store's grant, and whenever some
    of the total is held by no store, every store has a full allowance free (no store
    is left with nothing while uses sit unheld)."""
    names = [f"S{i}" for i in range(stores)]
    granted, used = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    share = c.first_share(total=total, per_store=per_store, stores=stores)
    for n in names:
        granted[n] = c.top_up(total=total, per_store=share, used_here=0,
                              held_elsewhere=sum(granted.values()))
    assert sum(granted.values()) <= total
    for index, give_back in steps:
        store = names[index % stores]
        if give_back and used[store]:
            used[store] -= 1
        elif not give_back and used[store] < granted[store]:
            used[store] += 1
        else:
            continue  # nothing to give back, or refused at the store (allowance spent)
        granted.update(c.rebalance(total=total, per_store=per_store, grants={
            n: (granted[n], used[n]) for n in names}))
        assert sum(granted.values()) <= total
        assert all(used[n] <= granted[n] for n in names)
        if sum(granted.values()) < total:
            assert all(granted[n] - used[n] >= per_store for n in names)
    assert sum(used.values()) <= total
