"""Sales' lines with the offers that applied, for the chain's promotion uplift (issue #21).

Placeholder committed first so that parallel work keeps one migration chain; filled in
by the work it names before anything lands.

Revision ID: h021
Revises: h020
"""

from __future__ import annotations

revision = "h021"
down_revision = "h020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
