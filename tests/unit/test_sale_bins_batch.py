"""SaleBins.take with the batch a scan names: that batch leaves first (expired or not),
across its bins in pick order; what it cannot cover goes FEFO; an unknown batch is as
if none was named. Pure: the levels are in memory."""

from __future__ import annotations

from datetime import date, timedelta

from app.stock.service import SaleBin, SaleBins

TODAY = date(2026, 12, 1)
A, B = SaleBin("a", "A-01-1", 10), SaleBin("b", "B-01-1", 20)


def bins() -> SaleBins:
    return SaleBins(levels={"milk": {
        (A, "OLD"): (TODAY - timedelta(days=2), 1),
        (B, "OLD"): (TODAY - timedelta(days=2), 2),
        (A, "SOON"): (TODAY + timedelta(days=1), 5),
        (B, "LATER"): (TODAY + timedelta(days=9), 5),
    }}, fallback=None, today=TODAY)


def test_the_named_batch_leaves_first_then_fefo():
    got = bins().take("milk", 5, "OLD")
    assert [(p.bin.code, p.batch, p.quantity) for p in got] == [
        ("A-01-1", "OLD", 1), ("B-01-1", "OLD", 2), ("A-01-1", "SOON", 2)]


def test_no_or_an_unknown_batch_is_plain_fefo_which_never_takes_an_expired_one():
    for batch in ("", "NOPE"):
        got = bins().take("milk", 6, batch)
        assert [(p.batch, p.quantity) for p in got] == [("SOON", 5), ("LATER", 1)]


def test_a_fresher_batch_the_customer_chose_leaves_instead_of_the_older_one():
    b = bins()
    assert [(p.batch, p.quantity) for p in b.take("milk", 2, "LATER")] == [("LATER", 2)]
    assert [(p.batch, p.quantity) for p in b.take("milk", 5, "SOON")] == [("SOON", 5)]
    assert [(p.batch, p.quantity) for p in b.take("milk", 4, "SOON")] == [("LATER", 3),
                                                                          ("", 1)]
