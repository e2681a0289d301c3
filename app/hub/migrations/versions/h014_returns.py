"""returns of online orders at the hub (issue #19): hub_returns and hub_return_lines,
how much of each order line has come back (hub_order_lines.returned), and each sales
channel's return window (hub_channels.return_window_days, 7 days unless set) and whether
its returns may go to the nearest dark store (hub_channels.returns_to_nearest, off).

Revision ID: h014
Revises: h013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h014"
down_revision = "h013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hub_returns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("channel_return_id", sa.String(length=80), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("exchange", sa.Boolean(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("refund_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("replacement_order_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("completed_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["hub_orders.id"],
                                name=op.f("fk_hub_returns_order_id_hub_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_returns")),
        sa.UniqueConstraint("number", name=op.f("uq_hub_returns_number")),
        sa.UniqueConstraint("channel", "channel_return_id",
                            name=op.f("uq_hub_returns_channel")),
    )
    op.create_index(op.f("ix_hub_returns_order_id"), "hub_returns", ["order_id"])
    op.create_index(op.f("ix_hub_returns_state"), "hub_returns", ["state"])
    op.create_table(
        "hub_return_lines",
        sa.Column("return_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=8), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("refundable_minor", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=True),
        sa.Column("resellable", sa.Integer(), nullable=True),
        sa.Column("damaged", sa.Integer(), nullable=True),
        sa.Column("expired", sa.Integer(), nullable=True),
        sa.Column("wrong_item", sa.Integer(), nullable=True),
        sa.Column("refund_minor", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(length=8), nullable=False, server_default=""),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("completed_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["return_id"], ["hub_returns.id"],
                                name=op.f("fk_hub_return_lines_return_id_hub_returns")),
        sa.PrimaryKeyConstraint("return_id", "store_id", "sku",
                                name=op.f("pk_hub_return_lines")),
    )
    op.create_index(op.f("ix_hub_return_lines_store_id"), "hub_return_lines", ["store_id"])
    # Plain ADD COLUMN on both databases: SQLite keeps the tables (and h007's triggers
    # on hub_channels) as they are.
    op.add_column("hub_order_lines", sa.Column("returned", sa.Integer(), nullable=False,
                                               server_default="0"))
    op.add_column("hub_channels", sa.Column("return_window_days", sa.Integer(),
                                            nullable=False, server_default="7"))
    op.add_column("hub_channels", sa.Column("returns_to_nearest", sa.Boolean(),
                                            nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("hub_channels", schema=None) as batch_op:
        batch_op.drop_column("returns_to_nearest")
        batch_op.drop_column("return_window_days")
    with op.batch_alter_table("hub_order_lines", schema=None) as batch_op:
        batch_op.drop_column("returned")
    op.drop_index(op.f("ix_hub_return_lines_store_id"), table_name="hub_return_lines")
    op.drop_table("hub_return_lines")
    op.drop_index(op.f("ix_hub_returns_state"), table_name="hub_returns")
    op.drop_index(op.f("ix_hub_returns_order_id"), table_name="hub_returns")
    op.drop_table("hub_returns")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite rebuilt hub_channels to drop its column, and with it lost h007's
        # triggers that tell order intake the channels changed: put them back.
        import importlib

        importlib.import_module("app.hub.migrations.versions.h007_hub_config_version"
                                ).create_triggers()
