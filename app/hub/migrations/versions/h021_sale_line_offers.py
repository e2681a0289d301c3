"""Sales' lines with the offers that applied, for the chain's promotion uplift (issue #21).

- ``hub_sale_offers``: one row per offer on a line of a store's sale or refund (what the
  line's ``offers`` said it took off; refunds negative), booked with the sale's
  ``hub_sales`` row, so a replayed event adds nothing;
- ``hub_sale_sku_days``: each store's quantity, units (pieces, or one a line of a product
  sold loose) and net per SKU and day (the hub's local date; refunds negative) from the
  same events: the report's units and revenue during an offer and in the days before it,
  without reading every line. Two covering indexes (by day, by SKU and day) let a month
  of a chain's figures be summed from the index alone.

Revision ID: h021
Revises: h020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h021"
down_revision = "h020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_sale_offers",
        sa.Column("doc_id", sa.String(36), primary_key=True),
        sa.Column("line", sa.Integer(), primary_key=True),
        sa.Column("promotion_id", sa.String(36), primary_key=True),
        sa.Column("store_id", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("sku", sa.String(40), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("bill", sa.Boolean(), nullable=False),
        sa.Column("off_minor", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_hub_sale_offers_promotion_day", "hub_sale_offers",
                    ["promotion_id", "day"])
    op.create_index("ix_hub_sale_offers_day_store", "hub_sale_offers", ["day", "store_id"])
    op.create_table(
        "hub_sale_sku_days",
        sa.Column("store_id", sa.String(8), primary_key=True),
        sa.Column("sku", sa.String(40), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_hub_sale_sku_days_day", "hub_sale_sku_days",
                    ["day", "store_id", "units", "net_minor"])
    op.create_index("ix_hub_sale_sku_days_sku_day", "hub_sale_sku_days",
                    ["sku", "day", "store_id", "units", "net_minor"])


def downgrade() -> None:
    op.drop_index("ix_hub_sale_sku_days_sku_day", table_name="hub_sale_sku_days")
    op.drop_index("ix_hub_sale_sku_days_day", table_name="hub_sale_sku_days")
    op.drop_table("hub_sale_sku_days")
    op.drop_index("ix_hub_sale_offers_day_store", table_name="hub_sale_offers")
    op.drop_index("ix_hub_sale_offers_promotion_day", table_name="hub_sale_offers")
    op.drop_table("hub_sale_offers")
