"""/metrics (app/ops/metrics.py): only a `metrics` key or a signed-in admin reads it; the
request histogram is per route template (never per raw path); the store's state
(outbox waiting for the hub, print jobs, late orders, database and backup age) is read
fresh at each scrape."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta

from app.core.auth import create_api_key
from app.ops.backup import take_backup


def figure(body: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus' text format, or None when absent."""
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][\w:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


async def key(app, scope: str) -> dict[str, str]:
    _row, full = await create_api_key(app.state.db, f"k-{scope}", scope)
    return {"Authorization": f"Bearer {full}"}


async def test_metrics_need_a_metrics_key_or_an_admin(client, app, login_as):
    assert (await client.get("/metrics")).status_code == 401
    other = await key(app, "stock:read")
    assert (await client.get("/metrics", headers=other)).status_code == 403
    ok = await client.get("/metrics", headers=await key(app, "metrics"))
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert ok.headers["cache-control"] == "no-store"
    await login_as("manager")
    assert (await client.get("/metrics")).status_code == 403
    await login_as("admin")
    assert (await client.get("/metrics")).status_code == 200


async def test_requests_are_counted_per_route_template_not_per_path(client, app):
    headers = await key(app, "metrics")
    catalog = await key(app, "catalog:read")
    for sku in ("NO-SUCH-1", "NO-SUCH-2", "X" * 40, "%00"):
        await client.get(f"/api/v1/products/{sku}", headers=catalog)
    for i in range(50):  # unrouted paths make no series at all
        await client.get(f"/nothing-here/{i}")
    body = (await client.get("/metrics", headers=headers)).text
    count = figure(body, "kirana_request_seconds_count",
                   route="/api/v1/products/{sku}", method="GET")
    assert count == 4
    assert "NO-SUCH" not in body and "nothing-here" not in body
    assert len(re.findall(r"^kirana_request_seconds_count", body, re.M)) < 10


def sql(path, query: str, *args: object) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        with conn:
            return conn.execute(query, args).fetchall()
    finally:
        conn.close()


def iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


async def test_the_stores_state_is_read_at_each_scrape(client, app, cfg):
    headers = await key(app, "metrics")
    body = (await client.get("/metrics", headers=headers)).text
    assert figure(body, "kirana_info", store=cfg.store.id) == 1
    assert figure(body, "kirana_last_backup_seconds") == -1
    assert figure(body, "kirana_hub_last_ack_seconds") == -1
    assert figure(body, "kirana_orders_late") == 0
    assert figure(body, "kirana_print_jobs", printer="counter-9", status="failed") is None
    assert figure(body, "kirana_database_bytes") == cfg.database_path.stat().st_size
    waiting = sql(cfg.database_path, "SELECT count(*) FROM outbox")[0][0]
    assert figure(body, "kirana_outbox_unsent") == waiting

    now = datetime.now(UTC)
    db = cfg.database_path
    sql(db, "INSERT INTO outbox (id, kind, at, data) VALUES ('e-1', 'x.y', ?, '{}')",
        iso(now - timedelta(minutes=5)))
    sql(db, "UPDATE sync_state SET acked_at = ?", iso(now - timedelta(minutes=2)))
    for n, (state, promised) in enumerate([("picking", -10), ("ready", -1), ("ready", 20),
                                           ("handed_over", -30), ("cancelled", -30)]):
        sql(db, """INSERT INTO orders (id, number, channel, external_id, state, customer_name,
                   customer_phone, address, pincode, promised_by, payment, cod_amount_minor,
                   notes, reject_reason, handover_code, bag_count, bags_handed, created_at,
                   updated_at) VALUES (?, ?, 'webshop', ?, ?, 'K', '9800000000', 'a',
                   '560034', ?, 'prepaid', 0, '', '', 'ABCDEF', 0, '', ?, ?)""",
            f"o-{n}", f"S1-{n:06d}", f"W-{n}", state,
            iso(now + timedelta(minutes=promised)), iso(now), iso(now))
    sql(db, """INSERT INTO print_jobs (id, printer, document, ref, title, layout, duplicate,
               status, attempts, last_error, created_at) VALUES
               ('j-1', 'counter-9', 'receipt', 'r', 't', '', 0, 'failed', 3, 'paper', ?)""",
        iso(now))
    take_backup(db, cfg.store.id, cfg.resolve(cfg.backup.folder), keep_last=2, keep_daily=0,
                now=now - timedelta(minutes=30))

    body = (await client.get("/metrics", headers=headers)).text
    assert figure(body, "kirana_outbox_unsent") == waiting + 1
    assert 290 < figure(body, "kirana_outbox_oldest_unsent_seconds") < 900
    assert 110 < figure(body, "kirana_hub_last_ack_seconds") < 700
    assert figure(body, "kirana_orders_open", state="ready") == 2
    assert figure(body, "kirana_orders_open", state="picking") == 1
    assert figure(body, "kirana_orders_late") == 2  # handed over and cancelled never count
    assert figure(body, "kirana_print_jobs", printer="counter-9", status="failed") == 1
    assert 1790 < figure(body, "kirana_last_backup_seconds") < 2400
    assert figure(body, "kirana_wal_bytes") >= 0
    assert figure(body, "kirana_disk_free_bytes") > 0
