from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS

from app.reports.fulfilment import order_timings, orders_csv, picker_stats, stage_averages

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def order(number, steps, promised_after=300):
    return NS(number=number, state=steps[-1][0], promised_by=at(promised_after),
              transitions=[NS(to_state=s, at=at(t)) for s, t in steps])


def test_stage_times_and_on_time():
    done = order("D2-1", [("received", 0), ("accepted", 1), ("picking", 31), ("picked", 181),
                          ("packed", 240), ("ready", 241), ("handed_over", 290)])
    late = order("D2-2", [("received", 0), ("accepted", 2), ("picking", 40), ("picked", 200),
                          ("packed", 260), ("ready", 261), ("handed_over", 400)])
    open_ = order("D2-3", [("received", 0), ("accepted", 1)])
    timings = order_timings([done, late, open_])
    assert timings[0].seconds == {"Accept": 1, "Start picking": 30, "Picking": 150,
                                  "Packing": 60, "Waiting for rider": 49}
    assert (timings[0].total, timings[0].on_time) == (290, True)
    assert timings[1].on_time is False and timings[2].on_time is None
    assert timings[2].seconds["Picking"] is None
    averages = {label: (avg, n) for label, avg, n in stage_averages(timings)}
    assert averages["Accept"] == ((1 + 2 + 1) / 3, 3)
    assert averages["Picking"] == ((150 + 160) / 2, 2)
    csv_text = orders_csv(timings)
    assert csv_text.splitlines()[1] == "D2-1,handed_over,1,30,150,60,49,290,yes"
    assert csv_text.splitlines()[3].endswith(",,,,,")


def test_picker_rates():
    tasks = [NS(status="done", unit="piece", picked=3, wrong_scans=1),
             NS(status="short", unit="piece", picked=0, wrong_scans=0),
             NS(status="done", unit="kg", picked=1250, wrong_scans=0),
             NS(status="cancelled", unit="piece", picked=2, wrong_scans=5)]
    batch = NS(picker_id="u1", tasks=tasks, created_at=T0, finished_at=at(900))
    (stats,) = picker_stats([batch], {"u1": "Ravi"})
    assert (stats.picker, stats.lines, stats.items, stats.wrong_scans) == ("Ravi", 3, 4, 1)
    assert stats.lines_per_hour == 3 / 0.25 and stats.short_rate == 1 / 3
