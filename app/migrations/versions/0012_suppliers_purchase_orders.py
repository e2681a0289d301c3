"""suppliers and purchase orders (issue #17): suppliers, supplier_products,
purchase_orders, purchase_order_lines

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("suppliers",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("name", sa.String(length=80), nullable=False),
    sa.Column("gstin", sa.String(length=15), nullable=False),
    sa.Column("phone", sa.String(length=24), nullable=False),
    sa.Column("lead_time_days", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
    sa.UniqueConstraint("name", name=op.f("uq_suppliers_name"))
    )
    op.create_table("purchase_orders",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("supplier_id", sa.String(length=36), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("expected_on", sa.Date(), nullable=True),
    sa.Column("created_by", sa.String(length=36), nullable=True),
    sa.Column("created_at", sa.String(length=32), nullable=False),
    sa.Column("updated_at", sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                            name=op.f("fk_purchase_orders_created_by_users")),
    sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                            name=op.f("fk_purchase_orders_supplier_id_suppliers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    sa.UniqueConstraint("number", name=op.f("uq_purchase_orders_number"))
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_orders_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_orders_supplier_id"), ["supplier_id"], unique=False)

    op.create_table("supplier_products",
    sa.Column("supplier_id", sa.String(length=36), nullable=False),
    sa.Column("product_id", sa.String(length=36), nullable=False),
    sa.Column("case_cost_minor", sa.Integer(), nullable=False),
    sa.Column("pack_size", sa.Integer(), nullable=False),
    sa.CheckConstraint("pack_size > 0", name=op.f("ck_supplier_products_pack_positive")),
    sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                            name=op.f("fk_supplier_products_product_id_products")),
    sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                            name=op.f("fk_supplier_products_supplier_id_suppliers")),
    sa.PrimaryKeyConstraint("supplier_id", "product_id", name=op.f("pk_supplier_products"))
    )
    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supplier_products_product_id"), ["product_id"], unique=False)

    op.create_table("purchase_order_lines",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("po_id", sa.String(length=36), nullable=False),
    sa.Column("product_id", sa.String(length=36), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("unit", sa.String(length=8), nullable=False),
    sa.Column("pack_size", sa.Integer(), nullable=False),
    sa.Column("case_cost_minor", sa.Integer(), nullable=False),
    sa.Column("received", sa.Integer(), nullable=False),
    sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
    sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"],
                            name=op.f("fk_purchase_order_lines_po_id_purchase_orders")),
    sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                            name=op.f("fk_purchase_order_lines_product_id_products")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    sa.UniqueConstraint("po_id", "product_id", name=op.f("uq_purchase_order_lines_po_id"))
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_order_lines_po_id"), ["po_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_order_lines_po_id"))

    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supplier_products_product_id"))

    op.drop_table("supplier_products")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_orders_supplier_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_orders_status"))

    op.drop_table("purchase_orders")
    op.drop_table("suppliers")
