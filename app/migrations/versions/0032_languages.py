"""Languages (issue #22): users.language, the staff member's own language ("" = the
store's default), and products.name_local, a product's name in the local language
("" = none), shown beside the English name on till lines and the pick screen.

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_local", sa.String(length=120), nullable=False,
                                      server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("name_local")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
