"""chain-wide promotions and coupon limits at the hub (issue #21).

- ``hub_promotions``: HQ's promotions (the store's promotion columns plus ``version``,
  which stores compare so an older event never overwrites a newer one);
- ``hub_coupons``: a chain coupon's limits and each store's offline allowance;
- ``hub_coupon_grants``: what each store may use in all and what it reported;
- ``hub_coupon_uses``: each use a store reported (by its use id: a replay books once).

Revision ID: h018
Revises: h017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h018"
down_revision = "h017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_promotions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target_skus", sa.Text(), nullable=False),
        sa.Column("target_categories", sa.Text(), nullable=False),
        sa.Column("get_skus", sa.Text(), nullable=False),
        sa.Column("get_categories", sa.Text(), nullable=False),
        sa.Column("percent_bp", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("buy", sa.Integer(), nullable=False),
        sa.Column("get", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bundle_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("min_bill_minor", sa.BigInteger(), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.Column("free_sku", sa.String(40), nullable=False),
        sa.Column("starts", sa.String(10), nullable=True),
        sa.Column("ends", sa.String(10), nullable=True),
        sa.Column("days", sa.String(20), nullable=False),
        sa.Column("since_minute", sa.Integer(), nullable=True),
        sa.Column("until_minute", sa.Integer(), nullable=True),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("coupon", sa.String(40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32), nullable=True),
    )
    op.create_table(
        "hub_coupons",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("promotion_id", sa.String(36), nullable=False),
        sa.Column("total_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("per_store", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_hub_coupons_promotion_id", "hub_coupons", ["promotion_id"])
    op.create_table(
        "hub_coupon_grants",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("store_id", sa.String(8), primary_key=True),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
    )
    op.create_table(
        "hub_coupon_uses",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("store_id", sa.String(8), nullable=False),
        sa.Column("sale", sa.String(24), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("released_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_hub_coupon_uses_code", "hub_coupon_uses", ["code"])


def downgrade() -> None:
    op.drop_index("ix_hub_coupon_uses_code", "hub_coupon_uses")
    op.drop_table("hub_coupon_uses")
    op.drop_table("hub_coupon_grants")
    op.drop_index("ix_hub_coupons_promotion_id", "hub_coupons")
    op.drop_table("hub_coupons")
    op.drop_table("hub_promotions")
