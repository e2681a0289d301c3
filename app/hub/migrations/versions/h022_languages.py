"""Languages (issue #22): products.name_local in the hub's catalogue master (sent to the
stores in `product.upserted`; the catalogue CSV's `name_local` column), and
users.language (the shared users table carries it at the hub too; "" = the default).

Revision ID: h022
Revises: h021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h022"
down_revision = "h021"
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
