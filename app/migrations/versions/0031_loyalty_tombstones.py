"""Loyalty: erased numbers kept as tombstones, the cashier on a points movement (issue #21).

`loyalty_tombstones`: one row per mobile number erased at this store (on request here or
by the hub's `loyalty.erase`), keyed by an HMAC of the number with a key derived from the
install's secret file (never the number itself, DPDP Act 2023), with the erasure's time.
A `loyalty.balance` booked before it is ignored, and a number erased here is known again
only with a consent given after it (docs/loyalty.md, "Privacy").

`loyalty_refund_parts`: of a refund's part not paid in money (refunds.points_minor), the
points share forfeited by an erased customer and the value kept back for earned points
already spent, so the shift's X/Z report shows each on its own row (none for refunds
made before this migration: they stay on the points row alone).

`loyalty_entries.cashier_id`: the user who took a points tender (a `redeemed` row);
NULL for other movements and for rows made before this migration.

The sales report's rollup (app/reports/sales_rollup.py): a refund's tender row counts
only its money part; the part given back as points (refunds.points_minor) gets the
`points` row, as on the shift's X/Z report. The refunds triggers are made again and the
rollup rebuilt in the zone it was built for (none yet: the first report builds it).

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def _rollup(split: bool) -> None:
    from app.reports.sales_rollup import create_triggers, drop_triggers, rebuild

    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    drop_triggers(raw)
    create_triggers(raw, split)
    row = raw.execute("SELECT tz FROM sales_report_zone WHERE id = 1").fetchone()
    if row is not None:
        rebuild(raw, row[0], datetime.now(UTC).astimezone(ZoneInfo(row[0])).date(), split)


def upgrade() -> None:
    op.create_table(
        "loyalty_tombstones",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "loyalty_refund_parts",
        sa.Column("refund_id", sa.String(36), primary_key=True),
        sa.Column("forfeited_minor", sa.Integer(), nullable=False),
        sa.Column("kept_minor", sa.Integer(), nullable=False),
    )
    op.add_column("loyalty_entries", sa.Column("cashier_id", sa.String(36), nullable=True))
    _rollup(split=True)


def downgrade() -> None:
    _rollup(split=False)
    op.drop_column("loyalty_entries", "cashier_id")
    op.drop_table("loyalty_refund_parts")
    op.drop_table("loyalty_tombstones")
