"""promotions, and each sale line's promotion discount (issue #21, promotions).

The store's promotions (app/promotions/models.py: what the pure engine's Promotion
needs, targets as JSON lists), and on each sale line the part of its discount that
promotions took and which offers (JSON list of {id, name}), so receipts and refunds
are based on what was charged, whatever happens to the promotion afterwards.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target_skus", sa.Text(), nullable=False),
        sa.Column("target_categories", sa.Text(), nullable=False),
        sa.Column("get_skus", sa.Text(), nullable=False),
        sa.Column("get_categories", sa.Text(), nullable=False),
        sa.Column("percent_bp", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("buy", sa.Integer(), nullable=False),
        sa.Column("get", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bundle_price_minor", sa.Integer(), nullable=False),
        sa.Column("min_bill_minor", sa.Integer(), nullable=False),
        sa.Column("cap_minor", sa.Integer(), nullable=True),
        sa.Column("free_sku", sa.String(40), nullable=False),
        sa.Column("starts", sa.Date(), nullable=True),
        sa.Column("ends", sa.Date(), nullable=True),
        sa.Column("days", sa.String(20), nullable=False),
        sa.Column("since_minute", sa.Integer(), nullable=True),
        sa.Column("until_minute", sa.Integer(), nullable=True),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("coupon", sa.String(40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_promotions_updated_at", "promotions", ["updated_at"])
    # Plain ADD COLUMN (sale_lines has the sales rollup's triggers, see 0025).
    op.add_column("sale_lines", sa.Column("promo_discount_minor", sa.Integer(),
                                          nullable=False, server_default="0"))
    op.add_column("sale_lines", sa.Column("promotions", sa.Text(), nullable=False,
                                          server_default=""))


def downgrade() -> None:
    op.drop_column("sale_lines", "promotions")
    op.drop_column("sale_lines", "promo_discount_minor")
    op.drop_index("ix_promotions_updated_at", "promotions")
    op.drop_table("promotions")
