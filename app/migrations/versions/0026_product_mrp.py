"""products.mrp_minor and sale_lines.mrp_minor (issue #21, MRP and savings).

A product's MRP (maximum retail price, tax inclusive, paise; NULL: not known) next to
its selling price, and on each sale line the MRP as it was when sold, so the receipt's
"MRP" and "You saved" of an old bill do not change when the catalogue's MRP does.
Both columns are nullable and filled by nothing here: existing products show no MRP
until the catalogue (a CSV import or the hub) gives them one.

Revision ID: 0026
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mrp_minor", sa.Integer(), nullable=True))
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mrp_minor", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sale_lines", schema=None) as batch_op:
        batch_op.drop_column("mrp_minor")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("mrp_minor")
