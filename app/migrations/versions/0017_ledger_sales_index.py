"""the ledger's time index covers what the suggested order sums (issue #17): (at, reason,
product_id, delta) instead of (at), so 28 days of sales are read from the index alone
(bench/inventory.py: 480 -> 180 ms for 433,000 moves). It replaces the old index rather
than adding one, so a sale writes no more index entries than before.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stock_ledger_at_sold", "stock_ledger",
                    ["at", "reason", "product_id", "delta"])
    op.drop_index("ix_stock_ledger_at", table_name="stock_ledger")


def downgrade() -> None:
    op.create_index("ix_stock_ledger_at", "stock_ledger", ["at"])
    op.drop_index("ix_stock_ledger_at_sold", table_name="stock_ledger")
