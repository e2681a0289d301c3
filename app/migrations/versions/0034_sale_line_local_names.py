"""A sale line keeps the product's local-language name as it was at the sale (issue #22),
as it keeps the English name: the screen receipt, the customer's e-receipt and a reprint
show what the printed receipt showed, whatever the catalogue says later. "" = none.

A plain ADD COLUMN (no table copy): the sale lines of a busy store are many, and the
sales rollup's triggers name the table.

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sale_lines", sa.Column("name_local", sa.String(length=120), nullable=False,
                                          server_default=""))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: the sales rollup's triggers
    # name sale_lines, and a copy-and-rename breaks them.
    op.execute("ALTER TABLE sale_lines DROP COLUMN name_local")
