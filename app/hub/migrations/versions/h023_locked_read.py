# ruff: noqa: E501  (the function text is frozen as the code made it: its name is its hash)
"""PostgreSQL: placement's lock-then-read function (issue #15).

A placement that locks store rows must read after the lock (READ COMMITTED takes a new
snapshot per statement), which cost two round trips. This plpgsql function runs both
statements, each with its own snapshot as two statements would, in one round trip
(app/hub/routing_inputs.py, "lock, then read"). Its name carries a hash of its text:
when the code's read changes, the code looks for another name and a new migration
creates it (tests/hub/test_pg_round_trips.py fails until one does); a hub running
without it (or on a database restored from before it) reads in two statements.
Created here, by the migration's owner, because a hub's runtime role may lack CREATE on
the schema. SQLite: nothing to do.

Revision ID: h023
Revises: h022
"""

from __future__ import annotations

from alembic import op

revision = "h023"
down_revision = "h022"
branch_labels = None
depends_on = None

NAME = "kirana_locked_read_405b37160001"
SIGNATURE = "kirana_locked_read_405b37160001(text[], text, text, text[], text[], text, text[], text[], integer)"
CREATE = """
CREATE FUNCTION kirana_locked_read_405b37160001(p_lock text[], p_channel text, p_external_id text, p_products text[], p_skus text[], p_since text, p_stores text[], p_couriers text[], p_count_couriers integer) RETURNS TABLE (k text, a text, b text, n bigint, m bigint) LANGUAGE plpgsql VOLATILE AS $kirana$
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
) AS q;
END
$kirana$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
