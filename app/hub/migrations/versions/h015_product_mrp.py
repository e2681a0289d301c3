"""products.mrp_minor (issue #21): the hub's catalogue master carries each product's MRP
(maximum retail price, tax inclusive, paise; NULL: not known) and sends it to the
stores in `product.upserted`.

Revision ID: h015
Revises: h014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h015"
down_revision = "h014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mrp_minor", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("mrp_minor")
