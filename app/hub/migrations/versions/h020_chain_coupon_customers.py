"""Chain coupons: uses per customer kept at the hub (issue #21).

- ``hub_coupon_customers``: a chain coupon's uses by one customer at every store, net
  of those given back, and the uses booked past the per-customer limit (``overshoots``).
  The customer is a keyed hash of the number (app/core/coupons.customer_key), never the
  number;
- ``hub_coupon_uses.customer`` (that key, NULL for a coupon without a per-customer
  limit, an older store's use or an erased customer) and ``over_limit`` (this use went
  past the customer's limit across the chain: booked, and shown on HQ's page).

Revision ID: h020
Revises: h019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h020"
down_revision = "h019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_coupon_customers",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("customer", sa.String(64), primary_key=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("overshoots", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("hub_coupon_uses") as batch:
        batch.add_column(sa.Column("customer", sa.String(64), nullable=True))
        batch.add_column(sa.Column("over_limit", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("hub_coupon_uses") as batch:
        batch.drop_column("over_limit")
        batch.drop_column("customer")
    op.drop_table("hub_coupon_customers")
