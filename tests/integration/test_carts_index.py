"""The till finds its counter's active cart by index, however many bills the counter
has made (migration 0024): before it, every request read all of the counter's carts."""

from __future__ import annotations

import sqlite3

from app.core import migrate

QUERIES = {
    "active cart": "SELECT id FROM carts WHERE counter = 'C1' AND status = 'active' "
                   "ORDER BY created_at DESC",
    "parked carts": "SELECT id FROM carts WHERE counter = 'C1' AND status = 'parked'",
}


def test_the_active_cart_is_found_by_one_index_seek(cfg):
    conn = sqlite3.connect(cfg.database_path)
    try:
        for what, query in QUERIES.items():
            plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
            assert "USING INDEX ix_carts_counter_status_created (counter=? AND status=?)" in \
                plan, (what, plan)
            assert "TEMP B-TREE" not in plan, (what, plan)  # no sort: the index is in order
    finally:
        conn.close()


def test_the_index_migration_goes_down_and_up(tmp_path):
    path = tmp_path / "store.db"
    migrate.upgrade(path)
    from alembic import command

    command.downgrade(migrate.alembic_config(path), "0023")
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index' "
                                        "AND tbl_name='carts'")}
    conn.close()
    assert "ix_carts_counter" in names and "ix_carts_counter_status_created" not in names
    migrate.upgrade(path)
    assert migrate.current_revision(path) == migrate.head_revision()
