"""Hub reports and GST returns at the hub (issue #18).

- hub_sales gains the GST document facts a store's `sale.completed` / `sale.refunded`
  now carry: doc_kind (b2c | b2b | bos), doc_number (the tax invoice or credit note
  number), buyer_gstin, buyer_name, place_of_supply (2-digit state code, '' = the
  store's own state) and, for a refund, sale_number (the bill it refunds).
- hub_sale_taxes: one row per document, HSN and GST rate (taxable value, CGST, SGST,
  IGST, quantity; refunds negative), the rows the hub's GSTR-1 is built from.
- hub_stores.gstin: the GSTIN a store files under (set by HQ on the GST page; stores
  sharing one registration share it).
- Indexes for the chain overview: hub_order_log (kind, at) for the hand-over times of
  a period's orders, hub_sale_taxes (day, store_id), hub_sales (store_id, number) for a
  credit note's original bill.

Revision ID: h013
Revises: h012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h013"
down_revision = "h012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hub_sales", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doc_kind", sa.String(length=4), nullable=False,
                                      server_default="b2c"))
        batch_op.add_column(sa.Column("doc_number", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("buyer_gstin", sa.String(length=15), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("buyer_name", sa.String(length=80), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("place_of_supply", sa.String(length=2), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("sale_number", sa.String(length=24), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gstin", sa.String(length=15), nullable=False,
                                      server_default=""))
    op.create_table(
        "hub_sale_taxes",
        sa.Column("doc_id", sa.String(length=36), nullable=False),
        sa.Column("hsn", sa.String(length=8), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("doc_kind", sa.String(length=4), nullable=False),
        sa.Column("doc_number", sa.String(length=16), nullable=True),
        sa.Column("buyer_gstin", sa.String(length=15), nullable=False),
        sa.Column("place_of_supply", sa.String(length=2), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("taxable_minor", sa.BigInteger(), nullable=False),
        sa.Column("cgst_minor", sa.BigInteger(), nullable=False),
        sa.Column("sgst_minor", sa.BigInteger(), nullable=False),
        sa.Column("igst_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("doc_id", "hsn", "rate_bp", name=op.f("pk_hub_sale_taxes")),
    )
    op.create_index("ix_hub_sale_taxes_day_store", "hub_sale_taxes", ["day", "store_id"])
    op.create_index("ix_hub_order_log_kind_at", "hub_order_log", ["kind", "at"])
    op.create_index("ix_hub_sales_store_number", "hub_sales", ["store_id", "number"])


def downgrade() -> None:
    op.drop_index("ix_hub_sales_store_number", table_name="hub_sales")
    op.drop_index("ix_hub_order_log_kind_at", table_name="hub_order_log")
    op.drop_index("ix_hub_sale_taxes_day_store", table_name="hub_sale_taxes")
    op.drop_table("hub_sale_taxes")
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        batch_op.drop_column("gstin")
    with op.batch_alter_table("hub_sales", schema=None) as batch_op:
        for column in ("sale_number", "place_of_supply", "buyer_name", "buyer_gstin",
                       "doc_number", "doc_kind"):
            batch_op.drop_column(column)
