"""cycle counts (issue #17): count tasks, the bins of each round, counted lines, each
count of a line, and the scans on the counting phone

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("count_tasks",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("number", sa.String(length=20), nullable=False),
    sa.Column("kind", sa.String(length=10), nullable=False),
    sa.Column("scope", sa.String(length=80), nullable=False),
    sa.Column("status", sa.String(length=10), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("created_by", sa.String(length=36), nullable=True),
    sa.Column("created_at", sa.String(length=32), nullable=False),
    sa.Column("counter_id", sa.String(length=36), nullable=True),
    sa.Column("counter_key", sa.String(length=32), nullable=False),
    sa.Column("claimed_at", sa.String(length=32), nullable=True),
    sa.Column("done_at", sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(["counter_id"], ["users.id"], name=op.f("fk_count_tasks_counter_id_users")),
    sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_count_tasks_created_by_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_count_tasks")),
    sa.UniqueConstraint("number", name=op.f("uq_count_tasks_number"))
    )
    op.create_index(op.f("ix_count_tasks_status"), "count_tasks", ["status"], unique=False)
    op.create_table("count_bins",
    sa.Column("task_id", sa.String(length=36), nullable=False),
    sa.Column("bin_id", sa.String(length=36), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("done_by", sa.String(length=36), nullable=True),
    sa.Column("done_at", sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_count_bins_bin_id_bins")),
    sa.ForeignKeyConstraint(["done_by"], ["users.id"], name=op.f("fk_count_bins_done_by_users")),
    sa.ForeignKeyConstraint(["task_id"], ["count_tasks.id"], name=op.f("fk_count_bins_task_id_count_tasks")),
    sa.PrimaryKeyConstraint("task_id", "bin_id", "round", name=op.f("pk_count_bins"))
    )
    op.create_table("count_lines",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("task_id", sa.String(length=36), nullable=False),
    sa.Column("product_id", sa.String(length=36), nullable=False),
    sa.Column("bin_id", sa.String(length=36), nullable=False),
    sa.Column("status", sa.String(length=10), nullable=False),
    sa.Column("expected", sa.Integer(), nullable=True),
    sa.Column("counted", sa.Integer(), nullable=True),
    sa.Column("variance", sa.Integer(), nullable=False),
    sa.Column("value_minor", sa.Integer(), nullable=False),
    sa.Column("reason", sa.String(length=120), nullable=False),
    sa.Column("decided_by", sa.String(length=36), nullable=True),
    sa.Column("decided_at", sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_count_lines_bin_id_bins")),
    sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_count_lines_decided_by_users")),
    sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_count_lines_product_id_products")),
    sa.ForeignKeyConstraint(["task_id"], ["count_tasks.id"], name=op.f("fk_count_lines_task_id_count_tasks")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_count_lines")),
    sa.UniqueConstraint("task_id", "product_id", "bin_id", name=op.f("uq_count_lines_task_id"))
    )
    op.create_index(op.f("ix_count_lines_product_id"), "count_lines", ["product_id"], unique=False)
    op.create_index(op.f("ix_count_lines_status"), "count_lines", ["status"], unique=False)
    op.create_index(op.f("ix_count_lines_task_id"), "count_lines", ["task_id"], unique=False)
    op.create_table("count_scans",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("task_id", sa.String(length=36), nullable=False),
    sa.Column("bin_id", sa.String(length=36), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.String(length=36), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.String(length=36), nullable=True),
    sa.Column("at", sa.String(length=32), nullable=False),
    sa.CheckConstraint("quantity > 0", name=op.f("ck_count_scans_quantity_positive")),
    sa.ForeignKeyConstraint(["bin_id"], ["bins.id"], name=op.f("fk_count_scans_bin_id_bins")),
    sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_count_scans_product_id_products")),
    sa.ForeignKeyConstraint(["task_id"], ["count_tasks.id"], name=op.f("fk_count_scans_task_id_count_tasks")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_count_scans_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_count_scans"))
    )
    op.create_index("ix_count_scans_task_bin", "count_scans", ["task_id", "bin_id", "round"], unique=False)
    op.create_table("count_entries",
    sa.Column("id", sa.String(length=36), nullable=False),
    sa.Column("line_id", sa.String(length=36), nullable=False),
    sa.Column("round", sa.Integer(), nullable=False),
    sa.Column("counted", sa.Integer(), nullable=False),
    sa.Column("expected", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.String(length=36), nullable=True),
    sa.Column("at", sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(["line_id"], ["count_lines.id"],
                            name=op.f("fk_count_entries_line_id_count_lines")),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_count_entries_user_id_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_count_entries"))
    )
    op.create_index(op.f("ix_count_entries_at"), "count_entries", ["at"], unique=False)
    op.create_index(op.f("ix_count_entries_line_id"), "count_entries", ["line_id"], unique=False)


def downgrade() -> None:
    for table in ("count_entries", "count_scans", "count_lines", "count_bins", "count_tasks"):
        op.drop_table(table)
