"""the sales report's rollup (issue #18): sales_product_days, sales_hour_days,
sales_people_days and sales_tender_days (bills, lines, tenders and refunds per store-local
day), sales_report_offsets and sales_report_zone (the zone they are for), the triggers
that keep them with every write of a bill or refund, and the backfill of the existing
rows.

A migration does not know the store's time zone, so the backfill is for the shipped
default (Asia/Kolkata, app/config.py); a store set to another zone has it rebuilt by its
first sales report (app/reports/sales_rollup.py: ensure / rebuild, the one rule).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def _day(name: str = "day") -> sa.Column:
    return sa.Column(name, sa.Date(), nullable=False)


def _n(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "sales_report_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("built_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_report_zone")),
    )
    op.create_table(
        "sales_report_offsets",
        sa.Column("starts_at", sa.String(length=32), nullable=False),
        sa.Column("modifier", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("starts_at", name=op.f("pk_sales_report_offsets")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_product_days",
        _day(),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("inter", sa.Boolean(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        *(_n(c) for c in ("qty", "lines", "net", "tax", "back_qty", "back_lines",
                          "back_amount", "back_tax")),
        sa.PrimaryKeyConstraint("day", "product_id", "rate_bp", "inter", "unit",
                                name=op.f("pk_sales_product_days")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_hour_days",
        _day(),
        sa.Column("hour", sa.Integer(), nullable=False),
        *(_n(c) for c in ("bills", "gross", "discount", "rounding", "total", "refunds",
                          "refunded")),
        sa.PrimaryKeyConstraint("day", "hour", name=op.f("pk_sales_hour_days")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_people_days",
        _day(),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        *(_n(c) for c in ("bills", "sales", "refunds", "refunded")),
        sa.PrimaryKeyConstraint("day", "user_id", name=op.f("pk_sales_people_days")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_tender_days",
        _day(),
        sa.Column("kind", sa.String(length=8), nullable=False),
        *(_n(c) for c in ("taken_n", "taken", "given_n", "given")),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_sales_tender_days")),
        sqlite_with_rowid=False,
    )
    from app.reports.sales_rollup import DEFAULT_ZONE, create_triggers, rebuild

    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    create_triggers(raw)
    rebuild(raw, DEFAULT_ZONE, datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_ZONE)).date())


def downgrade() -> None:
    from app.reports.sales_rollup import drop_triggers

    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    drop_triggers(raw)
    for table in ("sales_tender_days", "sales_people_days", "sales_hour_days",
                  "sales_product_days", "sales_report_offsets", "sales_report_zone"):
        op.drop_table(table)
