"""loyalty balances kept at the hub across stores (issue #21).

hub_loyalty_customers (number, card, consent time, balance, write-offs; no name),
hub_loyalty_entries (each store movement by its entry id, so a replay books once, and
the write-off when it would have overdrawn), hub_loyalty_watch (the stores that hear a
customer's balance). docs/loyalty.md.

Revision ID: h017
Revises: h016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h017"
down_revision = "h016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_loyalty_customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("phone", sa.String(10), nullable=True, unique=True),
        sa.Column("card", sa.String(32), nullable=True, unique=True),
        sa.Column("consent_at", sa.String(32), nullable=True),
        sa.Column("joined_store", sa.String(8), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("erased_at", sa.String(32), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("written_off", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "hub_loyalty_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("hub_loyalty_customers.id"),
                  nullable=True),
        sa.Column("store_id", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("write_off", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("booked_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_hub_loyalty_entries_customer_id", "hub_loyalty_entries",
                    ["customer_id"])
    op.create_index("ix_hub_loyalty_entries_store_id", "hub_loyalty_entries", ["store_id"])
    op.create_table(
        "hub_loyalty_watch",
        sa.Column("store_id", sa.String(8), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("hub_loyalty_customers.id"),
                  primary_key=True),
    )
    op.create_index("ix_hub_loyalty_watch_customer_id", "hub_loyalty_watch", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_hub_loyalty_watch_customer_id", "hub_loyalty_watch")
    op.drop_table("hub_loyalty_watch")
    op.drop_index("ix_hub_loyalty_entries_store_id", "hub_loyalty_entries")
    op.drop_index("ix_hub_loyalty_entries_customer_id", "hub_loyalty_entries")
    op.drop_table("hub_loyalty_entries")
    op.drop_table("hub_loyalty_customers")
