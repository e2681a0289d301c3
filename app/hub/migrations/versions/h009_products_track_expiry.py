"""products.tracks_expiry (issue #17): the hub's catalogue says which products are
kept per batch and expiry at the stores.

Revision ID: h009
Revises: h008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h009"
down_revision = "h008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracks_expiry", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("tracks_expiry")
