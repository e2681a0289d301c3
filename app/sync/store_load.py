"""The store's live load, for the hub's routing (issue #24): sent in `status.load` on a
v3 link (app/sync/client.py), used by the hub while fresh (docs/routing.md).

- pickers signed in now: the store keeps no list of live sessions (they are signed
  files, not rows, and a phone left signed in says nothing), and shifts are the tills'
  only. What it does know: who signed in (users.last_login_at), who holds an open pick
  batch, and who picked a line lately. So a picker "signed in now" is any person with an
  open batch, or one who picked within ACTIVE_WINDOW, or a user with the picker role
  who signed in within it (just arrived, no batch yet). Batches older than
  BATCH_LOOKBACK are left out (an abandoned batch does not keep a picker on the floor).
- open online orders by state: received .. ready (not yet with a rider).
- picks per hour: lines picked (status done) within ACTIVE_WINDOW, per hour.

One statement (`read_load`) against indexes only: orders by state
(ix_orders_state_promised), batches by their uuid7 id (time-ordered, so "created since"
is a range of the primary key), their tasks by batch, users by role (a handful of rows).
`live_load` is the pure part: clamps what the counts say into a `protocol.Load`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.core.clock import utcnow
from app.core.db import Database
from app.sync import protocol as p

ACTIVE_WINDOW = timedelta(minutes=15)
BATCH_LOOKBACK = timedelta(hours=12)
OPEN_STATES = ("received", "accepted", "picking", "picked", "packed", "ready")
MAX_COUNT = 1_000_000  # protocol.LoadCount's bound
MAX_STATES = 16


def _count(value: Any) -> int:
    """A count as the protocol takes it: a whole number from 0 to MAX_COUNT."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # None, NaN, inf
        return 0
    return max(0, min(MAX_COUNT, number))


def live_load(orders: Mapping[str, Any], pickers: Any, picks: Any,
              window: timedelta = ACTIVE_WINDOW) -> p.Load:
    """The load from the counts read: open orders by state (states with none left out,
    names the protocol cannot carry dropped), pickers, and lines picked in `window`
    turned into picks per hour. Any figure out of range is clamped (never refused:
    the status must go out)."""
    states: dict[str, int] = {}
    for state, n in orders.items():
        count = _count(n)
        if (count and isinstance(state, str) and 1 <= len(state) <= 16
                and all("a" <= ch <= "z" or ch == "_" for ch in state)
                and len(states) < MAX_STATES):
            states[state] = count
    seconds = max(window.total_seconds(), 1.0)
    per_hour = _count(round(_count(picks) * 3600 / seconds))
    return p.Load(pickers=_count(pickers), orders=states, picks_per_hour=per_hour)


def uuid7_floor(at: datetime) -> str:
    """The smallest uuid7 of a row made at `at` (ids sort by their time)."""
    ms = max(0, int(at.timestamp() * 1000))
    h = f"{ms << 80:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")  # as UTCDateTime stores it


_STATES_SQL = ", ".join(f"'{state}'" for state in OPEN_STATES)
LOAD_SQL = f"""
SELECT 'o' AS k, state AS a, count(*) AS n FROM orders
 WHERE state IN ({_STATES_SQL}) GROUP BY state
UNION ALL
SELECT 't', NULL, count(*) FROM pick_tasks t JOIN pick_batches b ON b.id = t.batch_id
 WHERE b.id >= :batch_floor AND t.status = 'done' AND t.done_at > :since
UNION ALL
SELECT 'p', NULL, count(*) FROM (
  SELECT b.picker_id AS who FROM pick_batches b
   WHERE b.id >= :batch_floor AND (b.status = 'open' OR b.finished_at > :since)
  UNION
  SELECT b.picker_id FROM pick_batches b JOIN pick_tasks t ON t.batch_id = b.id
   WHERE b.id >= :batch_floor AND t.done_at > :since
  UNION
  SELECT id FROM users WHERE role = 'picker' AND active = 1 AND last_login_at > :since
) AS present
"""


def load_of(rows: Iterable[Any], window: timedelta = ACTIVE_WINDOW) -> p.Load:
    orders: dict[str, int] = {}
    pickers = picks = 0
    for kind, state, n in rows:
        if kind == "o":
            orders[state] = n
        elif kind == "t":
            picks = n
        elif kind == "p":
            pickers = n
    return live_load(orders, pickers, picks, window)


async def read_load(db: Database, now: datetime | None = None,
                    window: timedelta = ACTIVE_WINDOW) -> p.Load:
    """The store's live load now: one statement."""
    now = now or utcnow()
    params = {"since": _iso(now - window), "batch_floor": uuid7_floor(now - BATCH_LOOKBACK)}
    async with db.read() as s:
        rows = (await s.execute(text(LOAD_SQL), params)).all()
    return load_of(rows, window)
