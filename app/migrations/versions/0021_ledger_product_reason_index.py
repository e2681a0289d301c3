"""the ledger's (product, bin) index also covers reason and time (issue #18, stock
reports): (product_id, bin_id, reason, at) instead of (product_id, bin_id), so a
product's last sale and first delivery are one seek per bin it lives in
(app/reports/stock.py) instead of a pass over the whole ledger (1.2 s for a year of one
store's sales, bench/stock_reports.py). It replaces the old index rather than adding
one, so a sale writes no more index entries than before; every query that used the old
index uses its first two columns still.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stock_ledger_product_bin_reason_at", "stock_ledger",
                    ["product_id", "bin_id", "reason", "at"])
    op.drop_index("ix_stock_ledger_product_bin", table_name="stock_ledger")


def downgrade() -> None:
    op.create_index("ix_stock_ledger_product_bin", "stock_ledger", ["product_id", "bin_id"])
    op.drop_index("ix_stock_ledger_product_bin_reason_at", table_name="stock_ledger")
