"""Loyalty: erased numbers kept as tombstones, the cashier on a points movement (issue #21).

`loyalty_tombstones`: one row per mobile number erased at this store (on request here or
by the hub's `loyalty.erase`), keyed by an HMAC of the number with a key derived from the
install's secret file (never the number itself, DPDP Act 2023), with the erasure's time.
A `loyalty.balance` booked before it is ignored, and a number erased here is known again
only with a consent given after it (docs/loyalty.md, "Privacy").

`loyalty_entries.cashier_id`: the user who took a points tender (a `redeemed` row);
NULL for other movements and for rows made before this migration.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_tombstones",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cashier_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_entries", schema=None) as batch_op:
        batch_op.drop_column("cashier_id")
    op.drop_table("loyalty_tombstones")
