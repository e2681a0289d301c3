"""stock transfers and replenishment at the hub (issue #17): hub_transfers,
hub_transfer_lines, and hub_sku_days (what each store sold of each SKU per day, the
replenishment page's velocity)

Revision ID: h010
Revises: h009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h010"
down_revision = "h009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_transfers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("dest", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("raised_by", sa.String(length=80), nullable=False),
        sa.Column("request_key", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("dispatched_at", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_transfers")),
        sa.UniqueConstraint("number", name=op.f("uq_hub_transfers_number")),
        sa.UniqueConstraint("request_key", name=op.f("uq_hub_transfers_request_key")),
    )
    op.create_index(op.f("ix_hub_transfers_source"), "hub_transfers", ["source"])
    op.create_index(op.f("ix_hub_transfers_dest"), "hub_transfers", ["dest"])
    op.create_index(op.f("ix_hub_transfers_state"), "hub_transfers", ["state"])
    op.create_table(
        "hub_transfer_lines",
        sa.Column("transfer_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=True),
        sa.Column("parts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["transfer_id"], ["hub_transfers.id"],
                                name=op.f("fk_hub_transfer_lines_transfer_id_hub_transfers")),
        sa.PrimaryKeyConstraint("transfer_id", "sku", name=op.f("pk_hub_transfer_lines")),
    )
    op.create_table(
        "hub_sku_days",
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "sku", "day", name=op.f("pk_hub_sku_days")),
    )
    op.create_index("ix_hub_sku_days_day", "hub_sku_days", ["day"])


def downgrade() -> None:
    op.drop_index("ix_hub_sku_days_day", table_name="hub_sku_days")
    op.drop_table("hub_sku_days")
    op.drop_table("hub_transfer_lines")
    op.drop_index(op.f("ix_hub_transfers_state"), table_name="hub_transfers")
    op.drop_index(op.f("ix_hub_transfers_dest"), table_name="hub_transfers")
    op.drop_index(op.f("ix_hub_transfers_source"), table_name="hub_transfers")
    op.drop_table("hub_transfers")
