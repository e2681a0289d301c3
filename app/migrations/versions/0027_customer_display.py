"""customer displays paired to a counter, and the slideshow's images (issue #21).

Placeholder made at the session's start so parallel work keeps one migration chain;
filled in by the work it names.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
