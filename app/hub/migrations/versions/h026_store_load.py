# ruff: noqa: E501  (the function text is frozen as the code made it: its name is its hash)
"""A store's live load on its row (issue #24): what its latest `status.load` said
(sync protocol 3): pickers signed in, open online orders by state (JSON), lines picked
per hour, and when the hub received it. NULL: never sent (an older store). Placement
reads them in its one statement (app/hub/routing_inputs.py) and ignores a load older
than routing.load_fresh_seconds. These columns are not watched by h007's triggers: a
load changes every few seconds and must not invalidate the hubs' routing copies.

PostgreSQL: the placement read changed, so its lock-then-read function has a new name
(its hash); created here as h023 created the first (a hub's runtime role may lack
CREATE). Until it exists the hub reads in two statements.

Revision ID: h026
Revises: h025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "h026"
down_revision = "h025"
branch_labels = None
depends_on = None

COLUMNS = ("load_pickers", "load_orders", "load_picks_hour", "load_at")
# The placement read's function as the code made it (frozen: its name is its hash).
NAME = "kirana_locked_read_5eeebf1dc6eb"
SIGNATURE = "kirana_locked_read_5eeebf1dc6eb(text[], text, text, text[], text[], text, text[], text[], integer, text)"
CREATE = """
CREATE FUNCTION kirana_locked_read_5eeebf1dc6eb(p_lock text[], p_channel text, p_external_id text, p_products text[], p_skus text[], p_since text, p_stores text[], p_couriers text[], p_count_couriers integer, p_load_since text) RETURNS TABLE (k text, a text, b text, n bigint, m bigint) LANGUAGE plpgsql VOLATILE AS $kirana$
#variable_conflict use_column
BEGIN
PERFORM 1 FROM hub_stores WHERE id = ANY(p_lock) ORDER BY id FOR UPDATE;
RETURN QUERY SELECT q.k::text, q.a::text, q.b::text, q.n::bigint, q.m::bigint FROM (
SELECT 'v' AS k, token AS a, CAST(NULL AS TEXT) AS b, CAST(NULL AS BIGINT) AS n, CAST(NULL AS BIGINT) AS m
  FROM hub_config_version WHERE id = 1
UNION ALL
SELECT 'e', id, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) FROM hub_orders
 WHERE channel = p_channel AND external_id = p_external_id
UNION ALL
SELECT 'p', sku, unit, price_minor, CASE WHEN active THEN 1 ELSE 0 END FROM products
 WHERE sku = ANY(p_products)
UNION ALL
SELECT DISTINCT 'k', store_id, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) FROM hub_store_links
 WHERE store_id = ANY(p_stores) AND last_seen_at > p_since
UNION ALL
SELECT 'l', store_id, sku, on_hand, CAST(NULL AS BIGINT) FROM hub_stock_levels
 WHERE store_id = ANY(p_stores) AND sku = ANY(p_skus)
UNION ALL
SELECT 'h', o.store_id, l.sku, sum(l.quantity), CAST(NULL AS BIGINT)
  FROM hub_orders o JOIN hub_order_lines l ON l.order_id = o.id
 WHERE o.status IN ('assigned', 'accepted', 'picking', 'picked', 'packed', 'ready') AND o.store_id = ANY(p_stores) AND l.sku = ANY(p_skus)
 GROUP BY o.store_id, l.sku
UNION ALL
SELECT 'r', r.store_id, r.sku, sum(r.quantity), CAST(NULL AS BIGINT)
  FROM hub_reservations r JOIN hub_store_orders so ON so.order_id = r.order_id
  LEFT JOIN hub_orders ho ON ho.channel = so.channel AND ho.external_id = so.external_id
 WHERE ho.id IS NULL AND r.store_id = ANY(p_stores) AND r.sku = ANY(p_skus)
 GROUP BY r.store_id, r.sku
UNION ALL
SELECT 'o', store_id, CAST(NULL AS TEXT), count(*), CAST(NULL AS BIGINT) FROM hub_orders
 WHERE status IN ('assigned', 'accepted', 'picking', 'picked', 'packed', 'ready') AND store_id = ANY(p_stores)
 GROUP BY store_id
UNION ALL
SELECT 'c', courier, CAST(NULL AS TEXT), count(*), CAST(NULL AS BIGINT) FROM hub_orders
 WHERE p_count_couriers = 1 AND status IN ('assigned', 'accepted', 'picking', 'picked', 'packed', 'ready', 'handed_over') AND courier = ANY(p_couriers)
 GROUP BY courier
UNION ALL
SELECT 's', id, load_orders, load_pickers, load_picks_hour FROM hub_stores
 WHERE id = ANY(p_stores) AND load_at > p_load_since
) AS q;
END
$kirana$
"""


def upgrade() -> None:
    op.add_column("hub_stores", sa.Column("load_pickers", sa.Integer(), nullable=True))
    op.add_column("hub_stores", sa.Column("load_orders", sa.Text(), nullable=True))
    op.add_column("hub_stores", sa.Column("load_picks_hour", sa.Integer(), nullable=True))
    op.add_column("hub_stores", sa.Column("load_at", sa.String(length=32), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    with op.batch_alter_table("hub_stores", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
    if bind.dialect.name == "sqlite":
        # SQLite rebuilt hub_stores to drop the columns, and with it lost h007's
        # triggers that tell order intake the stores changed: put them back.
        import importlib

        importlib.import_module("app.hub.migrations.versions.h007_hub_config_version"
                                ).create_triggers()
