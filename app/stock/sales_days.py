"""Sales per product and store-local day (issue #17): a rollup of the ledger kept in the
same transaction as the moves, so the suggested order reads 28 small rows per product
instead of every sale line of 28 days.

What counts as sold is what the suggested order always counted: minus the sum of the
ledger deltas with reason ``sale`` (till), ``order`` (online order picks) or
``refund``, each on the store's local day of the move's ``at``. Every ledger row goes
through ``service.record_move`` / ``record_moves``, which call ``add_sales`` here, so
``sales_days`` equals that sum for every product and day (tests/integration/test_sales_days.py
compares the two after random sales, refunds and picks).

The local day needs the store's time zone, which the stock layer does not know (the
till's ``record_moves`` is not given it). So the zone is kept in the database as a
calendar (``sales_calendar``: the UTC instant each local day starts and ends, from five
weeks back to five years ahead) and the write looks its move's day up there with one
index seek; a move outside the calendar is not kept (no reader asked for its day yet).
``sales_days_zone`` (one row) says which zone the rollup was built for and the
calendar's span.

Built (``rebuild``) by migration 0019 for the shipped default zone, and again by
``ensure`` when it is not usable for the zone asked: no build yet (a database restored
from before 0019 and upgraded is built by the migration), another zone in the config,
or a day asked for outside the calendar. A backup restores the rollup with the ledger
it sums (one file, one transaction). A build sums the ledger from the calendar's first
day only (five weeks, or further back when asked): about a second for the bench's
2,000 products, in the write transaction, so tills wait that long (once after a change
of zone; the migration's build is offline).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from app.core.db import Database, Session, Tx

SALE_REASONS = ("sale", "order", "refund")
DEFAULT_ZONE = "Asia/Kolkata"  # StoreConfig's default (app/config.py)
YEARS_AHEAD = 5
DAYS_BEFORE = 35  # calendar days before today (the suggested order reads 28)

# The day of a move: the last calendar day starting at or before it, if it has not ended.
_DAY_OF = ("(SELECT c.day FROM sales_calendar AS c WHERE c.starts_at <= {at} "
           "AND c.ends_at > {at} ORDER BY c.starts_at DESC LIMIT 1)")
_ADD = ("INSERT INTO sales_days (product_id, day, sold) "
        "SELECT c.product_id, c.day, c.sold FROM (SELECT :product_id AS product_id, "
        + _DAY_OF.format(at=":at") + " AS day, :sold AS sold) AS c WHERE c.day IS NOT NULL "
        "ON CONFLICT (product_id, day) DO UPDATE SET sold = sales_days.sold + excluded.sold")


def iso_at(at: datetime) -> str:
    """A ledger ``at`` as stored (core/db.UTCDateTime): ISO text in UTC, microseconds."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


async def add_sales(s: Session, reason: str, at: datetime,
                    deltas: Iterable[tuple[str, int]]) -> None:
    """Add a move's (or a sale's moves') sales to the rollup: one upsert per product.
    Called by the stock service in the moves' own transaction; nothing for a reason
    that is not a sale."""
    if reason not in SALE_REASONS:
        return
    per_product: dict[str, int] = {}
    for product_id, delta in deltas:
        per_product[product_id] = per_product.get(product_id, 0) - delta
    stamp = iso_at(at)
    rows = [{"product_id": pid, "at": stamp, "sold": sold}
            for pid, sold in per_product.items() if sold]
    if not rows:
        return
    if isinstance(s, Tx):  # the store: straight on its sqlite3 connection (the till's path)
        s.driver().executemany(_ADD, rows)
    else:
        await s.execute(text(_ADD), rows)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """When the local day starts, in UTC (one rule for the calendar and the readers)."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def rebuild(raw: sqlite3.Connection, tz_name: str, today: date, *,
            first: date | None = None, last: date | None = None) -> None:
    """(Re)build the calendar for ``tz_name`` and the rollup from the ledger, in the
    caller's (write) transaction. The calendar spans from DAYS_BEFORE days before today
    (or ``first`` if earlier) to YEARS_AHEAD years after today (or ``last`` if later);
    the rollup holds the ledger's sales of those days."""
    tz = ZoneInfo(tz_name)
    start = today - timedelta(days=DAYS_BEFORE)
    if first is not None:
        start = min(start, first)
    end = today + timedelta(days=366 * YEARS_AHEAD)
    if last is not None:
        end = max(end, last)
    raw.execute("DELETE FROM sales_calendar")
    raw.execute("DELETE FROM sales_days")
    days = [start + timedelta(days=i) for i in range((end - start).days + 2)]
    bounds = [iso_at(local_midnight(d, tz)) for d in days]
    raw.executemany("INSERT INTO sales_calendar (starts_at, ends_at, day) VALUES (?, ?, ?)",
                    [(bounds[i], bounds[i + 1], days[i].isoformat())
                     for i in range(len(days) - 1)])
    raw.execute(
        "INSERT INTO sales_days (product_id, day, sold) "
        "SELECT product_id, day, -sum(delta) FROM (SELECT m.product_id, m.delta, "
        + _DAY_OF.format(at="m.at") + " AS day FROM stock_ledger AS m "
        "WHERE m.reason IN (?, ?, ?) AND m.at >= ? AND m.at < ?) "
        "WHERE day IS NOT NULL GROUP BY product_id, day",
        (*SALE_REASONS, bounds[0], bounds[-1]))
    raw.execute("DELETE FROM sales_days_zone")
    raw.execute("INSERT INTO sales_days_zone (id, tz, first_day, last_day, built_at) "
                "VALUES (1, ?, ?, ?, ?)", (tz_name, start.isoformat(), end.isoformat(),
                                           iso_at(datetime.now(UTC))))


def usable(raw: sqlite3.Connection, tz_name: str, first: date, last: date) -> bool:
    """Whether the rollup holds the days ``first``..``last`` for the zone ``tz_name``."""
    row = raw.execute("SELECT tz, first_day, last_day FROM sales_days_zone WHERE id = 1"
                      ).fetchone()
    return (row is not None and row[0] == tz_name and row[1] <= first.isoformat()
            and last.isoformat() <= row[2])


def read(raw: sqlite3.Connection, supplier_id: str, first: date, end: date
         ) -> list[tuple[str, str, int]]:
    """(product id, ISO day, sold) of the supplier's products, days first <= d < end."""
    return raw.execute(
        "SELECT sd.product_id, sd.day, sd.sold FROM supplier_products AS sp "
        "JOIN sales_days AS sd ON sd.product_id = sp.product_id "
        "AND sd.day >= ? AND sd.day < ? WHERE sp.supplier_id = ? AND sd.sold <> 0",
        (first.isoformat(), end.isoformat(), supplier_id)).fetchall()


# One product's sales of the days :first <= day < :end packed into one text, "day,sold"
# pairs joined by commas (NULL when it sold nothing): a supplier's 2,000 products come
# back as 2,000 rows instead of ~27,000 (product, day, sold) rows, which cost more to
# hand to Python (a row object, a product id string each) than SQLite took to find
# them. `product` is the SQL expression of the product's id in the outer query.
def packed_sql(product: str) -> str:
    return ("(SELECT group_concat(sd.day || ',' || sd.sold) FROM sales_days AS sd "
            f"WHERE sd.product_id = {product} AND sd.day >= :first AND sd.day < :end "
            "AND sd.sold <> 0)")


def unpack(packed: str | None, index: dict[str, int], days: int) -> list[int]:
    """A packed_sql text -> sold per day (index: ISO day -> position; `days` long)."""
    out = [0] * days
    if packed:
        parts = iter(packed.split(","))
        for day, sold in zip(parts, parts, strict=True):
            out[index[day]] += int(sold)
    return out


async def ensure(db: Database, tz: ZoneInfo, first: date, today: date) -> None:
    """Make the rollup usable for ``tz`` from ``first`` to ``today``: a check in a read
    (the usual case), else a rebuild in a write transaction (once after a zone change or
    a clock far outside the calendar)."""
    tz_name = str(tz)
    async with db.read() as s:
        if usable(raw_of(s), tz_name, first, today):
            return
    async with db.write() as s:
        raw = raw_of(s)
        if not usable(raw, tz_name, first, today):  # another writer may have built it
            rebuild(raw, tz_name, today, first=first, last=today)


def raw_of(s: Session) -> sqlite3.Connection:
    if not isinstance(s, Tx):
        raise TypeError("sales_days reads a store's SQLite database")
    return s.driver()
