"""stock levels per batch (issue #17): stock_levels is keyed by product, bin and batch
('' for stock without a batch) and carries the batch's expiry; products gain
tracks_expiry. Levels are rebuilt from the ledger, which already held batch and expiry.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracks_expiry", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "stock_levels_new",
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("bin_id", sa.String(length=36), nullable=False),
        sa.Column("batch", sa.String(length=20), nullable=False),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_stock_levels_bin_id_bins")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_stock_levels_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", "bin_id", "batch", name=op.f("pk_stock_levels")),
    )
    # Rebuilt from the ledger: the level is its sum per product, bin and batch.
    op.execute(
        "INSERT INTO stock_levels_new (product_id, bin_id, batch, expiry, on_hand) "
        "SELECT product_id, bin_id, COALESCE(batch, ''), MAX(expiry), SUM(delta) "
        "FROM stock_ledger GROUP BY product_id, bin_id, COALESCE(batch, '')")
    # A level row the ledger does not explain (none should exist) is kept as batch ''.
    op.execute(
        "INSERT INTO stock_levels_new (product_id, bin_id, batch, expiry, on_hand) "
        "SELECT l.product_id, l.bin_id, '', NULL, l.on_hand FROM stock_levels l "
        "WHERE NOT EXISTS (SELECT 1 FROM stock_levels_new n WHERE n.product_id = l.product_id "
        "AND n.bin_id = l.bin_id)")
    op.drop_table("stock_levels")
    op.rename_table("stock_levels_new", "stock_levels")


def downgrade() -> None:
    op.create_table(
        "stock_levels_old",
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("bin_id", sa.String(length=36), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_stock_levels_bin_id_bins")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_stock_levels_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", "bin_id", name=op.f("pk_stock_levels")),
    )
    op.execute("INSERT INTO stock_levels_old SELECT product_id, bin_id, SUM(on_hand) "
               "FROM stock_levels GROUP BY product_id, bin_id")
    op.drop_table("stock_levels")
    op.rename_table("stock_levels_old", "stock_levels")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("tracks_expiry")
