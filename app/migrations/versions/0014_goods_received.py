"""goods received notes (issue #17): receiving against a purchase order

goods_receipts (one per delivery; one open per order at a time), goods_receipt_items
(each scanned line), goods_receipt_lines (the signed summary per product) and
product_costs (the moving-average cost per product).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "goods_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("po_id", sa.String(length=36), nullable=True),
        sa.Column("supplier_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("supplier_ref", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("closed_by", sa.String(length=36), nullable=True),
        sa.Column("signed_by", sa.String(length=36), nullable=True),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["closed_by"], ["users.id"],
                                name=op.f("fk_goods_receipts_closed_by_users")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_goods_receipts_created_by_users")),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"],
                                name=op.f("fk_goods_receipts_po_id_purchase_orders")),
        sa.ForeignKeyConstraint(["signed_by"], ["users.id"],
                                name=op.f("fk_goods_receipts_signed_by_users")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_goods_receipts_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goods_receipts")),
        sa.UniqueConstraint("number", name=op.f("uq_goods_receipts_number")),
    )
    with op.batch_alter_table("goods_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goods_receipts_status"), ["status"], unique=False)
        # One open receipt per order: two phones receiving it share that one.
        batch_op.create_index("ix_goods_receipts_open_po", ["po_id"], unique=True,
                              sqlite_where=sa.text("status = 'open'"))

    op.create_table(
        "goods_receipt_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grn_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Boolean(), nullable=False),
        sa.Column("batch", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("bin_id", sa.String(length=36), nullable=True),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_goods_receipt_items_quantity_positive")),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"],
                                name=op.f("fk_goods_receipt_items_bin_id_bins")),
        sa.ForeignKeyConstraint(["grn_id"], ["goods_receipts.id"],
                                name=op.f("fk_goods_receipt_items_grn_id_goods_receipts")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_goods_receipt_items_product_id_products")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_goods_receipt_items_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goods_receipt_items")),
        sa.UniqueConstraint("request_id", name=op.f("uq_goods_receipt_items_request_id")),
    )
    with op.batch_alter_table("goods_receipt_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goods_receipt_items_grn_id"), ["grn_id"],
                              unique=False)

    op.create_table(
        "goods_receipt_lines",
        sa.Column("grn_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=True),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("pack_size", sa.Integer(), nullable=False),
        sa.Column("case_cost_minor", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["grn_id"], ["goods_receipts.id"],
                                name=op.f("fk_goods_receipt_lines_grn_id_goods_receipts")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_goods_receipt_lines_product_id_products")),
        sa.PrimaryKeyConstraint("grn_id", "product_id", name=op.f("pk_goods_receipt_lines")),
    )

    op.create_table(
        "product_costs",
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("avg_cost_minor", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("value_minor", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_product_costs_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_costs")),
    )


def downgrade() -> None:
    op.drop_table("product_costs")
    op.drop_table("goods_receipt_lines")
    with op.batch_alter_table("goods_receipt_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goods_receipt_items_grn_id"))
    op.drop_table("goods_receipt_items")
    with op.batch_alter_table("goods_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_goods_receipts_open_po")
        batch_op.drop_index(batch_op.f("ix_goods_receipts_status"))
    op.drop_table("goods_receipts")
