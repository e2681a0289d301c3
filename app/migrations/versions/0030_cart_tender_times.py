"""cart_tenders.at: when a payment was taken toward a cart (issue #21).

A bill's offers are judged at the moment its first payment was taken: a happy hour that
ends while the customer pays must not change what they were shown and paid (the till
repriced the cart at Complete, so a card payment of the shown total was refused with
"₹54.00 is still due", and Exact cash charged the higher total). NULL for tenders taken
before this migration: those carts are priced at Complete as before.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cart_tenders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cart_tenders", schema=None) as batch_op:
        batch_op.drop_column("at")
