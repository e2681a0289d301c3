"""loyalty at the hub: erased numbers kept as tombstones, the cashier on a points movement
(issue #21).

hub_loyalty_tombstones: one row per mobile number erased at the hub (a store's
`loyalty.erased`), keyed by an HMAC-SHA256 of the number with a key derived from the
install's secret file (never the number itself, DPDP Act 2023), with the erasure's time.
A `loyalty.joined` carrying a consent given before it does not bring the customer back
(core/loyalty.rejoin_allowed, docs/loyalty.md "Privacy").

hub_loyalty_entries.cashier: who took a points tender at the store (the optional
`cashier` of `loyalty.redeemed`, the store's user id); NULL for other movements, for
events without it and for rows booked before this migration.

Revision ID: h024
Revises: h023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h024"
down_revision = "h023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_loyalty_tombstones",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("hub_loyalty_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cashier", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_loyalty_entries", schema=None) as batch_op:
        batch_op.drop_column("cashier")
    op.drop_table("hub_loyalty_tombstones")
