"""returns of online orders at the store (issue #19): online_returns (the hub's
`return.requested`, its state expected -> receiving -> awaiting_approval ->
completed | rejected), online_return_lines (expected, graded units per grade, refund),
online_return_photos (file path under the data dir, size) and online_return_steps
(the return's steps for the order's timeline).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "online_returns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("hub_order_id", sa.String(length=36), nullable=False),
        sa.Column("order_number", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=80), nullable=False),
        sa.Column("channel_return_id", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("exchange", sa.Boolean(), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        _at("requested_at"),
        _at("received_at", True),
        _at("finished_at", True),
        sa.Column("finished_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("refund_total_minor", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_returns")),
    )
    op.create_index("ix_online_returns_state", "online_returns", ["state", "requested_at"])
    op.create_index(op.f("ix_online_returns_order_number"), "online_returns", ["order_number"])
    op.create_index(op.f("ix_online_returns_order_id"), "online_returns", ["order_id"])
    op.create_table(
        "online_return_lines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("return_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.Integer(), nullable=False),
        sa.Column("refundable_minor", sa.Integer(), nullable=False),
        sa.Column("resellable", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Integer(), nullable=False),
        sa.Column("customer_damaged", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("wrong_item", sa.Integer(), nullable=False),
        sa.Column("refund_minor", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["return_id"], ["online_returns.id"],
                                name=op.f("fk_online_return_lines_return_id_online_returns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_return_lines")),
    )
    op.create_index(op.f("ix_online_return_lines_return_id"), "online_return_lines",
                    ["return_id"])
    for table, columns in (
        ("online_return_photos", [
            sa.Column("sku", sa.String(length=40), nullable=False),
            sa.Column("grade", sa.String(length=20), nullable=False),
            sa.Column("path", sa.String(length=200), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("content_type", sa.String(length=20), nullable=False),
            sa.Column("by", sa.String(length=80), nullable=False),
            _at("at")]),
        ("online_return_steps", [
            sa.Column("what", sa.String(length=300), nullable=False),
            sa.Column("by", sa.String(length=80), nullable=False),
            _at("at"),
            sa.Column("request_id", sa.String(length=36), nullable=True),
            sa.UniqueConstraint("return_id", "request_id",
                                name=op.f("uq_online_return_steps_return_id"))]),
    ):
        op.create_table(
            table,
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("return_id", sa.String(length=36), nullable=False),
            *columns,
            sa.ForeignKeyConstraint(["return_id"], ["online_returns.id"],
                                    name=op.f(f"fk_{table}_return_id_online_returns")),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_return_id"), table, ["return_id"])


def downgrade() -> None:
    for table in ("online_return_steps", "online_return_photos", "online_return_lines"):
        op.drop_index(op.f(f"ix_{table}_return_id"), table_name=table)
        op.drop_table(table)
    op.drop_index(op.f("ix_online_returns_order_id"), table_name="online_returns")
    op.drop_index(op.f("ix_online_returns_order_number"), table_name="online_returns")
    op.drop_index("ix_online_returns_state", table_name="online_returns")
    op.drop_table("online_returns")
