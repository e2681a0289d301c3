"""sales per product and store-local day (issue #17): sales_days (the rollup the
suggested order reads), sales_calendar (the local days as UTC spans) and
sales_days_zone (the zone they were built for), filled from the existing ledger.

A migration does not know the store's time zone, so the backfill is for the shipped
default (Asia/Kolkata, app/config.py); a store set to another zone has it rebuilt by
its first suggested order (app/stock/sales_days.py: ensure / rebuild, the one rule).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_days",
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_sales_days_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", "day", name=op.f("pk_sales_days")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_calendar",
        sa.Column("starts_at", sa.String(length=32), nullable=False),
        sa.Column("ends_at", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("starts_at", name=op.f("pk_sales_calendar")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "sales_days_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("built_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_days_zone")),
    )
    from app.stock.sales_days import DEFAULT_ZONE, rebuild

    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    rebuild(raw, DEFAULT_ZONE, datetime.now(UTC).astimezone(ZoneInfo(DEFAULT_ZONE)).date())


def downgrade() -> None:
    op.drop_table("sales_days_zone")
    op.drop_table("sales_calendar")
    op.drop_table("sales_days")
