"""customers and loyalty points at the store (issue #21).

loyalty_customers (phone, optional card and name, consent time; the hub's last
balance and how far it had booked this store), loyalty_entries (the points ledger,
kept anonymous after a customer is erased), and on refunds the value given back as
points (a refund's money is its total less that: docs/loyalty.md).

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_customers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("phone", sa.String(10), nullable=True, unique=True),
        sa.Column("card", sa.String(32), nullable=True, unique=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("consent_at", sa.String(32), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("erased_at", sa.String(32), nullable=True),
        sa.Column("hub_balance", sa.Integer(), nullable=False),
        sa.Column("hub_seq", sa.Integer(), nullable=False),
        sa.Column("hub_at", sa.String(32), nullable=True),
        sa.Column("asked_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("loyalty_customers.id"),
                  nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.String(36), nullable=True),
        sa.Column("refund_id", sa.String(36), nullable=True),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_loyalty_entries_customer_id", "loyalty_entries", ["customer_id"])
    op.create_index("ix_loyalty_entries_sale_id", "loyalty_entries", ["sale_id"])
    op.add_column("refunds", sa.Column("points_minor", sa.Integer(), nullable=False,
                                       server_default="0"))


def downgrade() -> None:
    op.drop_column("refunds", "points_minor")
    op.drop_index("ix_loyalty_entries_sale_id", "loyalty_entries")
    op.drop_index("ix_loyalty_entries_customer_id", "loyalty_entries")
    op.drop_table("loyalty_entries")
    op.drop_table("loyalty_customers")
