"""The sales report's rollup (issue #18, migration 0022): bills, lines, tenders and refunds
summed per store-local day (bills and refunds also per hour), so a year's report reads
about a hundred thousand small rows instead of sorting every sale line of the year
(bench/README.md: the cold year went from 4.7-6 s of CPU to well under a second).

Kept by SQLite triggers on ``sales``, ``sale_lines``, ``sale_tenders``, ``refunds`` and
``refund_lines`` (insert, update of a summed column, delete), so every write path keeps it
in the writing transaction without knowing about it: the till, refunds and credit notes
(app/pos), the demo data, bench/report_data.py's bulk inserts, an operator's SQL fix.
Each trigger runs the same set-based statement as the full build (:func:`rebuild`),
restricted to the changed row: a BEFORE trigger takes the old row's share out, an AFTER
trigger adds the new row's (tests/integration/test_sales_rollup.py compares the report
from the rollup with the report from the raw rows after random writes of every kind).

Why not app/stock/sales_days.py (issue #17's rollup): that one sums *ledger* moves
(quantity only, online-order picks included) for the suggested order, over a calendar
of five weeks that the suggested order rebuilds; the report needs money, GST, bills,
tenders and people from the sales tables, by local hour, for years back.

The local day and hour of a time: SQLite shifts the stored UTC text by the zone's
offset at that instant, read from ``sales_report_offsets`` (one row per stretch with one
offset, from :func:`app.reports.sales_rules.offset_spans`, the rule the raw queries use;
one row for IST). ``sales_report_zone`` says which zone; a store whose configured zone
differs (or a database restored from before 0022 without the rows) is rebuilt by the
first report (:func:`ensure`: one pass over the sales tables, seconds for a year, in a
write transaction). The migration builds it for the shipped default zone.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.core.date_ranges import EARLIEST
from app.core.db import Database, Session, Tx
from app.reports.sales_rules import offset_spans

DEFAULT_ZONE = "Asia/Kolkata"  # StoreConfig's default (app/config.py)
YEARS_AHEAD = 40  # the offsets table's last change looked for (the last offset holds after)
TABLES = ("sales_product_days", "sales_hour_days", "sales_people_days", "sales_tender_days")


def _local(at: str) -> str:
    """'YYYY-MM-DD HH' of a stored UTC time in the store's local time; NULL before a build."""
    return (f"strftime('%Y-%m-%d %H', {at}, (SELECT o.modifier FROM sales_report_offsets AS o "
            f"WHERE o.starts_at <= {at} ORDER BY o.starts_at DESC LIMIT 1))")


@dataclass(frozen=True)
class Part:
    """One kind of row's share of one rollup table: the table's key beyond the day (and
    hour), the summed values (``1`` counts rows), where the rows come from and their time."""

    table: str
    keys: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str], ...]
    source: str
    at: str
    hourly: bool = False

    def sql(self, sign: int, where: str) -> str:
        day = ["substr(k, 1, 10)"] + (["CAST(substr(k, 12, 2) AS INTEGER)"] if self.hourly else [])
        key_cols = ["day"] + (["hour"] if self.hourly else []) + [c for c, _ in self.keys]
        val_cols = [c for c, _ in self.values]
        inner = ", ".join([_local(self.at) + " AS k"]
                          + [f"{e} AS k{i}" for i, (_, e) in enumerate(self.keys)]
                          + [f"{e} AS v{i}" for i, (_, e) in enumerate(self.values)])
        outer = ", ".join(day + [f"k{i}" for i in range(len(self.keys))]
                          + [f"{sign} * sum(v{i})" for i in range(len(self.values))])
        group = ", ".join(str(i + 1) for i in range(len(day) + len(self.keys)))
        sets = ", ".join(f"{c} = {self.table}.{c} + excluded.{c}" for c in val_cols)
        return (f"INSERT INTO {self.table} ({', '.join(key_cols + val_cols)}) "
                f"SELECT {outer} FROM (SELECT {inner} FROM {self.source} WHERE {where}) "
                f"WHERE k IS NOT NULL GROUP BY {group} "
                f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET {sets}")


_LINE_KEYS = (("product_id", "l.product_id"), ("rate_bp", "l.gst_rate_bp"),
              ("inter", "l.igst_minor <> 0"), ("unit", "l.unit"))
SOLD = Part("sales_product_days", _LINE_KEYS,
            (("qty", "l.quantity"), ("lines", "1"), ("net", "l.net_minor"),
             ("tax", "l.tax_minor")),
            "sale_lines AS l JOIN sales AS s ON s.id = l.sale_id", "s.at")
BACK = Part("sales_product_days", _LINE_KEYS,
            (("back_qty", "rl.quantity"), ("back_lines", "1"),
             ("back_amount", "rl.amount_minor"), ("back_tax", "rl.tax_minor")),
            "refund_lines AS rl JOIN refunds AS r ON r.id = rl.refund_id "
            "JOIN sale_lines AS l ON l.id = rl.sale_line_id", "r.at")
BILLS = Part("sales_hour_days", (),
             (("bills", "1"), ("gross", "s.gross_minor"), ("discount", "s.discount_minor"),
              ("rounding", "s.rounding_minor"), ("total", "s.total_minor")),
             "sales AS s", "s.at", hourly=True)
CASHIERS = Part("sales_people_days", (("user_id", "s.cashier_id"),),
                (("bills", "1"), ("sales", "s.total_minor")), "sales AS s", "s.at")
TAKEN = Part("sales_tender_days", (("kind", "t.kind"),),
             (("taken_n", "1"), ("taken", "t.amount_minor")),
             "sale_tenders AS t JOIN sales AS s ON s.id = t.sale_id", "s.at")
REFUNDS = Part("sales_hour_days", (), (("refunds", "1"), ("refunded", "r.total_minor")),
               "refunds AS r", "r.at", hourly=True)
REFUNDERS = Part("sales_people_days", (("user_id", "r.user_id"),),
                 (("refunds", "1"), ("refunded", "r.total_minor")), "refunds AS r", "r.at")
# What a refund paid back by its tender: the money part only. The part given back as
# loyalty points (or not paid in money for an erased customer's points or for points
# already spent: refunds.points_minor, issue #21) is on the `points` row, as on the
# shift's X/Z report, so the payments table adds up to the refunds.
GIVEN = Part("sales_tender_days", (("kind", "r.tender_kind"),),
             (("given_n", "1"), ("given", "r.total_minor - r.points_minor")), "refunds AS r",
             "r.at")
GIVEN_POINTS = Part("sales_tender_days", (("kind", "'points'"),),
                    (("given_n", "1"), ("given", "r.points_minor")),
                    "(SELECT * FROM refunds WHERE points_minor <> 0) AS r", "r.at")
# Before migration 0028 (refunds.points_minor) a refund's whole total was its tender's:
# migration 0022 builds the rollup on that table (see parts()).
GIVEN_BEFORE_POINTS = Part("sales_tender_days", (("kind", "r.tender_kind"),),
                           (("given_n", "1"), ("given", "r.total_minor")), "refunds AS r",
                           "r.at")
PARTS = (SOLD, BACK, BILLS, CASHIERS, TAKEN, REFUNDS, REFUNDERS, GIVEN, GIVEN_POINTS)


@dataclass(frozen=True)
class Watch:
    """A table's triggers: which parts its row feeds (and through which of the part's
    columns the row is named), on which columns' update, and the parts whose rows hang
    off it by time or key (moved only when ``moved_when`` holds)."""

    table: str
    parts: tuple[tuple[Part, str], ...]
    columns: tuple[str, ...]
    moved: tuple[tuple[Part, str], ...] = ()
    moved_when: str = ""


WATCHES = (
    Watch("sales", ((BILLS, "s.id"), (CASHIERS, "s.id")),
          ("at", "cashier_id", "gross_minor", "discount_minor", "rounding_minor", "total_minor"),
          ((SOLD, "l.sale_id"), (TAKEN, "t.sale_id")), "OLD.at IS NOT NEW.at"),
    Watch("sale_lines", ((SOLD, "l.id"),),
          ("sale_id", "product_id", "unit", "quantity", "net_minor", "gst_rate_bp",
           "tax_minor", "igst_minor"),
          ((BACK, "rl.sale_line_id"),),
          "OLD.product_id IS NOT NEW.product_id OR OLD.unit IS NOT NEW.unit "
          "OR OLD.gst_rate_bp IS NOT NEW.gst_rate_bp "
          "OR (OLD.igst_minor <> 0) IS NOT (NEW.igst_minor <> 0)"),
    Watch("sale_tenders", ((TAKEN, "t.id"),), ("sale_id", "kind", "amount_minor")),
    Watch("refunds", ((REFUNDS, "r.id"), (REFUNDERS, "r.id"), (GIVEN, "r.id"),
                      (GIVEN_POINTS, "r.id")),
          ("at", "user_id", "tender_kind", "total_minor", "points_minor"),
          ((BACK, "rl.refund_id"),), "OLD.at IS NOT NEW.at"),
    Watch("refund_lines", ((BACK, "rl.id"),),
          ("refund_id", "sale_line_id", "quantity", "amount_minor", "tax_minor")),
)


def _with_points(raw: sqlite3.Connection | None, split: bool | None = None) -> bool:
    """Whether the points part of refunds has its own row: from migration 0031 on (and
    never before 0028 made refunds.points_minor: 0022 builds the rollup before it)."""
    if split is not None:
        return split
    if raw is None:
        return True
    return any(row[1] == "points_minor" for row in raw.execute("PRAGMA table_info(refunds)"))


def parts(raw: sqlite3.Connection | None = None, split: bool | None = None
          ) -> tuple[Part, ...]:
    if _with_points(raw, split):
        return PARTS
    return tuple(GIVEN_BEFORE_POINTS if p is GIVEN else p for p in PARTS
                 if p is not GIVEN_POINTS)


def _watches(raw: sqlite3.Connection | None, split: bool | None) -> tuple[Watch, ...]:
    if _with_points(raw, split):
        return WATCHES
    refunds = Watch("refunds", ((REFUNDS, "r.id"), (REFUNDERS, "r.id"),
                                (GIVEN_BEFORE_POINTS, "r.id")),
                    ("at", "user_id", "tender_kind", "total_minor"),
                    ((BACK, "rl.refund_id"),), "OLD.at IS NOT NEW.at")
    return tuple(refunds if w.table == "refunds" else w for w in WATCHES)


def triggers(raw: sqlite3.Connection | None = None, split: bool | None = None
             ) -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER statement) of every trigger keeping the rollup (for the
    tables as they are on `raw`; None: as the models have them; `split`: whether a
    refund's points part has its own row, when a migration says)."""
    out = []
    for w in _watches(raw, split):
        def body(sign: int, row: str, parts: tuple[tuple[Part, str], ...]) -> str:
            return " ".join(p.sql(sign, f"{col} = {row}.id") + ";" for p, col in parts)

        cols = ", ".join(w.columns)
        out.append((f"trg_rollup_{w.table}_ins",
                    f"CREATE TRIGGER trg_rollup_{w.table}_ins AFTER INSERT ON {w.table} "
                    f"BEGIN {body(1, 'NEW', w.parts)} END"))
        out.append((f"trg_rollup_{w.table}_del",
                    f"CREATE TRIGGER trg_rollup_{w.table}_del BEFORE DELETE ON {w.table} "
                    f"BEGIN {body(-1, 'OLD', w.parts)} END"))
        out.append((f"trg_rollup_{w.table}_upd_out",
                    f"CREATE TRIGGER trg_rollup_{w.table}_upd_out BEFORE UPDATE OF {cols} "
                    f"ON {w.table} BEGIN {body(-1, 'OLD', w.parts)} END"))
        out.append((f"trg_rollup_{w.table}_upd_in",
                    f"CREATE TRIGGER trg_rollup_{w.table}_upd_in AFTER UPDATE OF {cols} "
                    f"ON {w.table} BEGIN {body(1, 'NEW', w.parts)} END"))
        if w.moved:
            out.append((f"trg_rollup_{w.table}_move_out",
                        f"CREATE TRIGGER trg_rollup_{w.table}_move_out BEFORE UPDATE OF {cols} "
                        f"ON {w.table} WHEN {w.moved_when} "
                        f"BEGIN {body(-1, 'OLD', w.moved)} END"))
            out.append((f"trg_rollup_{w.table}_move_in",
                        f"CREATE TRIGGER trg_rollup_{w.table}_move_in AFTER UPDATE OF {cols} "
                        f"ON {w.table} WHEN {w.moved_when} "
                        f"BEGIN {body(1, 'NEW', w.moved)} END"))
    return out


def create_triggers(raw: sqlite3.Connection, split: bool | None = None) -> None:
    for _name, sql in triggers(raw, split):
        raw.execute(sql)


def drop_triggers(raw: sqlite3.Connection) -> None:
    for name, _sql in triggers():
        raw.execute(f"DROP TRIGGER IF EXISTS {name}")


def _iso(at: datetime) -> str:
    """A time as the UTC columns store it (core/db.UTCDateTime)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def offsets(tz: ZoneInfo, today: date) -> list[tuple[str, str]]:
    """(starts_at, modifier) rows for ``tz``: its offset from 2000 to YEARS_AHEAD years
    after ``today``; the first row starts at '' (every earlier time)."""
    start = datetime(EARLIEST.year, 1, 1, tzinfo=UTC)
    end = datetime(today.year + YEARS_AHEAD, 1, 1, tzinfo=UTC)
    spans = offset_spans(start, end, tz)
    return [("" if i == 0 else _iso(a), f"{offset:+d} seconds")
            for i, (a, _b, offset) in enumerate(spans)]


def rebuild(raw: sqlite3.Connection, tz_name: str, today: date, split: bool | None = None
            ) -> None:
    """(Re)build the offsets for ``tz_name`` and the rollup from every bill and refund,
    in the caller's (write) transaction."""
    raw.execute("DELETE FROM sales_report_offsets")
    raw.executemany("INSERT INTO sales_report_offsets (starts_at, modifier) VALUES (?, ?)",
                    offsets(ZoneInfo(tz_name), today))
    for table in TABLES:
        raw.execute(f"DELETE FROM {table}")
    for part in parts(raw, split):
        raw.execute(part.sql(1, "1"))
    raw.execute("DELETE FROM sales_report_zone")
    raw.execute("INSERT INTO sales_report_zone (id, tz, built_at) VALUES (1, ?, ?)",
                (tz_name, _iso(datetime.now(UTC))))


def usable(raw: sqlite3.Connection, tz_name: str) -> bool:
    row = raw.execute("SELECT tz FROM sales_report_zone WHERE id = 1").fetchone()
    return row is not None and row[0] == tz_name


def raw_of(s: Session) -> sqlite3.Connection:
    if not isinstance(s, Tx):
        raise TypeError("the sales rollup is a store's SQLite database")
    return s.driver()


async def ensure(db: Database, tz_name: str, today: date) -> None:
    """Make the rollup hold the days of ``tz_name``: a check in a read (the usual case),
    else a rebuild in a write transaction (once after a change of zone)."""
    async with db.read() as s:
        if usable(raw_of(s), tz_name):
            return
    async with db.write() as s:
        raw = raw_of(s)
        if not usable(raw, tz_name):  # another writer may have built it meanwhile
            rebuild(raw, tz_name, today)


# ---- reading -------------------------------------------------------------------------


def hours(raw: sqlite3.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    """(day, hour, bills, gross, discount, rounding, total, refunds, refunded)."""
    return raw.execute(
        "SELECT day, hour, bills, gross, discount, rounding, total, refunds, refunded "
        "FROM sales_hour_days WHERE day >= ? AND day <= ? AND (bills <> 0 OR refunds <> 0)",
        (first.isoformat(), last.isoformat())).fetchall()


def products(raw: sqlite3.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    """(product, rate, inter, unit, qty, lines, net, tax, back qty, back lines, back
    amount, back tax) over the days."""
    return raw.execute(
        "SELECT product_id, rate_bp, inter, unit, sum(qty), sum(lines), sum(net), sum(tax), "
        "sum(back_qty), sum(back_lines), sum(back_amount), sum(back_tax) "
        "FROM sales_product_days WHERE day >= ? AND day <= ? "
        "GROUP BY product_id, rate_bp, inter, unit",
        (first.isoformat(), last.isoformat())).fetchall()


def people(raw: sqlite3.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    """(user, bills, sales, refunds, refunded) over the days."""
    return raw.execute(
        "SELECT user_id, sum(bills), sum(sales), sum(refunds), sum(refunded) "
        "FROM sales_people_days WHERE day >= ? AND day <= ? GROUP BY user_id",
        (first.isoformat(), last.isoformat())).fetchall()


def tenders(raw: sqlite3.Connection, first: date, last: date) -> list[tuple[Any, ...]]:
    """(kind, tenders taken, taken, refunds, given) over the days."""
    return raw.execute(
        "SELECT kind, sum(taken_n), sum(taken), sum(given_n), sum(given) "
        "FROM sales_tender_days WHERE day >= ? AND day <= ? GROUP BY kind",
        (first.isoformat(), last.isoformat())).fetchall()
