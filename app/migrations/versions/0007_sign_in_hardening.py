"""sign-in hardening: users.last_login_at and TOTP columns, throttle strikes and age,
trusted devices

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("last_login_at", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_confirmed_at", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("login_throttle") as batch_op:
        batch_op.add_column(sa.Column("strikes", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("updated_at", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_login_throttle_updated_at", ["updated_at"])
    op.create_table(
        "trusted_devices",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_trusted_devices_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "device_hash", name=op.f("pk_trusted_devices")),
    )


def downgrade() -> None:
    op.drop_table("trusted_devices")
    with op.batch_alter_table("login_throttle") as batch_op:
        batch_op.drop_index("ix_login_throttle_updated_at")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("strikes")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("last_login_at")
