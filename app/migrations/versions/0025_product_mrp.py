"""products.mrp_minor and sale_lines.mrp_minor (issue #21, MRP and savings).

A product's MRP (maximum retail price, tax inclusive, paise; NULL: not known) next to
its selling price, and on each sale line the MRP as it was when sold, so the receipt's
"MRP" and "You saved" of an old bill do not change when the catalogue's MRP does.
Both columns are nullable and filled by nothing here: existing products show no MRP
until the catalogue (a CSV import or the hub) gives them one.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD / DROP COLUMN (SQLite 3.35+), not a batch copy of the tables: sale_lines
    # has the sales rollup's triggers (0022), which a copy-and-rename would break.
    op.add_column("products", sa.Column("mrp_minor", sa.Integer(), nullable=True))
    op.add_column("sale_lines", sa.Column("mrp_minor", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("sale_lines", "mrp_minor")
    op.drop_column("products", "mrp_minor")
