"""hub_orders (store_id, status) (issue #15): each placement counts the open orders of
the stores in its area and sums what they promise; by store alone that read visits
every order the stores ever had.

Revision ID: h008
Revises: h007
"""

from __future__ import annotations

from alembic import op

revision = "h008"
down_revision = "h007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hub_orders_store_status", "hub_orders", ["store_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_hub_orders_store_status", table_name="hub_orders")
