"""Online orders per local hour against the promised time (app/reports/fulfilment.py,
issue #18): each order counts once, in the hour it came in, as on time, late or open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

from app.reports.fulfilment import order_timings, orders_by_hour

IST = ZoneInfo("Asia/Kolkata")
T0 = datetime(2026, 11, 27, 3, 45, tzinfo=UTC)  # 09:15 in India


def order(number, received_after, handed_after, promised_after):
    steps = [("received", received_after)]
    if handed_after is not None:
        steps.append(("handed_over", handed_after))
    return NS(number=number, state=steps[-1][0],
              promised_by=T0 + timedelta(seconds=promised_after),
              transitions=[NS(to_state=s, at=T0 + timedelta(seconds=t)) for s, t in steps])


def test_orders_count_in_their_local_hour():
    timings = order_timings([
        order("D-1", 0, 600, 1200),  # 09:15, on time
        order("D-2", 60, 1800, 1200),  # 09:16, late
        order("D-3", 3000, None, 4000),  # 10:05, still open
        NS(number="D-4", state="accepted", promised_by=T0, transitions=[]),  # no 'received'
    ])
    rows = orders_by_hour(timings, IST)
    assert len(rows) == 24
    assert (rows[9].received, rows[9].on_time, rows[9].late, rows[9].open) == (2, 1, 1, 0)
    assert (rows[10].received, rows[10].open) == (1, 1)
    assert sum(r.received for r in rows) == 3
    # the same orders in UTC fall in other hours
    utc_rows = orders_by_hour(timings, UTC)
    assert utc_rows[3].received == 2 and utc_rows[4].received == 1


def test_no_orders_gives_24_empty_hours():
    rows = orders_by_hour([], IST)
    assert [r.hour for r in rows] == list(range(24))
    assert not any(r.received for r in rows)
