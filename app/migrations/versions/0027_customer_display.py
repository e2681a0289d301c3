"""customer displays paired to a counter, and the slideshow's images (issue #21).

customer_displays: one row per screen paired (or being paired) to a counter, with the
hash of its one-time pairing code, then of its long-lived token; revoked_at ends it.
display_slides: the idle slideshow's images, whose files live under the store's data
folder (display_slides/), not in static/.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_displays",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("counter", sa.String(6), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("pairing_hash", sa.String(64), nullable=True),
        sa.Column("pairing_expires_at", sa.String(32), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("paired_at", sa.String(32), nullable=True),
        sa.Column("last_seen_at", sa.String(32), nullable=True),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.Column("revoked_by", sa.String(36), nullable=True),
    )
    op.create_index("ix_customer_displays_pairing_hash", "customer_displays",
                    ["pairing_hash"], unique=True)
    op.create_index("ix_customer_displays_token_hash", "customer_displays",
                    ["token_hash"], unique=True)
    op.create_table(
        "display_slides",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("file", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("display_slides")
    op.drop_index("ix_customer_displays_token_hash", table_name="customer_displays")
    op.drop_index("ix_customer_displays_pairing_hash", table_name="customer_displays")
    op.drop_table("customer_displays")
