"""coupon codes and their uses at the store (issue #21).

- ``coupons``: a code's limits (uses in total, per customer) and, for a chain coupon
  from the hub, the uses the hub allows this store (``allowance``, cumulative) and the
  hub's version of it (an older event never overwrites a newer one);
- ``coupon_uses``: one row per use, written in the sale's own transaction; a refund of
  the whole bill sets ``returned_at`` (the use is given back);
- ``carts.coupons``: the codes entered on a cart (space separated), read with the cart
  itself, so a scan costs no extra query;
- ``promotions.source`` / ``hub_version``: a chain promotion pushed by the hub
  (read-only at the store) and the hub's version of it.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("total_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("allowance", sa.Integer(), nullable=True),
        sa.Column("hub_version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "coupon_uses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("sale_id", sa.String(36), nullable=False),
        sa.Column("customer_phone", sa.String(15), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("returned_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_coupon_uses_code", "coupon_uses", ["code"])
    op.create_index("ix_coupon_uses_sale_id", "coupon_uses", ["sale_id"])
    op.add_column("carts", sa.Column("coupons", sa.String(250), nullable=False,
                                     server_default=""))
    op.add_column("promotions", sa.Column("source", sa.String(10), nullable=False,
                                          server_default="store"))
    op.add_column("promotions", sa.Column("hub_version", sa.Integer(), nullable=False,
                                          server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("promotions") as batch:
        batch.drop_column("hub_version")
        batch.drop_column("source")
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("coupons")
    op.drop_index("ix_coupon_uses_sale_id", "coupon_uses")
    op.drop_index("ix_coupon_uses_code", "coupon_uses")
    op.drop_table("coupon_uses")
    op.drop_table("coupons")
