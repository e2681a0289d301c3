"""The hub's /metrics (app/ops/hub_metrics.py) on SQLite and PostgreSQL: only a metrics key
(`kirana hub metrics-key`) or a signed-in hub admin reads it (a channel's key, a manager,
a revoked key and nobody are refused); the figures follow the database (stores online and
offline, orders per state, a late order, webhooks waiting and given up, the database's
size) and the text parses as Prometheus' format."""

from __future__ import annotations

import shutil
from datetime import timedelta

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, select, update

from app.core.auth import create_api_key
from app.core.clock import utcnow
from app.core.credentials import revoke_api_key
from app.core.ids import uuid7
from app.hub import catalog_log, link_history, placement, webhooks
from app.hub import service as hub
from app.hub.models import HubOrder, HubStore, HubStoreLink, HubWebhook
from app.ops.hub_metrics import OPEN_STATES, uuid7_floor
from app.sync.protocol import Status
from tests.hub.conftest import ROOT, sign_in
from tests.hub.test_routing import incoming, setup_stores
from tests.integration.test_metrics import figure


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def metrics_key(hub_db, name: str = "prometheus") -> dict[str, str]:
    _row, full = await create_api_key(hub_db, name, "metrics")
    return bearer(full)


def parsed(body: str) -> dict[tuple[str, tuple], float]:
    """Every sample, by (name, sorted labels): prometheus_client's own parser, so a
    malformed line fails here rather than at Prometheus."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


async def test_only_a_metrics_key_or_a_hub_admin_reads_the_hubs_metrics(hub_client, hub_db):
    assert (await hub_client.get("/metrics")).status_code == 401
    assert (await hub_client.get("/metrics", headers=bearer("kir_forged"))).status_code == 401
    channel_key, _secret = await webhooks.add_channel(hub_db, "webshop")
    refused = await hub_client.get("/metrics", headers=bearer(channel_key))
    assert refused.status_code == 403 and "kirana_hub" not in refused.text
    headers = await metrics_key(hub_db)
    ok = await hub_client.get("/metrics", headers=headers)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert ok.headers["cache-control"] == "no-store"
    assert "kirana_hub_info" in ok.text and parsed(ok.text)
    # The metrics key reads nothing else: not the channels' order API, not the stores.
    assert (await hub_client.get("/api/v1/orders/nope", headers=headers)).status_code == 403
    assert (await hub_client.get("/api/v1/stores", headers=headers)).status_code in (401, 403)
    await revoke_api_key(hub_db, "prometheus")
    assert (await hub_client.get("/metrics", headers=headers)).status_code == 401

    await sign_in(hub_client, "Omar")  # a manager
    assert (await hub_client.get("/metrics")).status_code == 403
    await sign_in(hub_client, "Priya")  # an admin
    assert (await hub_client.get("/metrics")).status_code == 200


async def test_the_hubs_figures_follow_its_database(hub_client, hub_db, hub_cfg):
    headers = await metrics_key(hub_db)
    body = (await hub_client.get("/metrics", headers=headers)).text
    assert figure(body, "kirana_hub_stores", state="online") == 0
    assert figure(body, "kirana_hub_orders_late") == 0
    assert figure(body, "kirana_hub_webhook_oldest_waiting_seconds") == 0

    await setup_stores(hub_db, {"S1": 40, "D2": 40})  # S1, D2, W3 registered and online
    await hub.add_store(hub_db, "X9", name="Closed", kind="counter", lat=12.9, lon=77.6)
    now = utcnow()
    async with hub_db.write() as s:  # W3's link went quiet; X9 is switched off
        await s.execute(update(HubStoreLink).where(HubStoreLink.store_id == "W3")
                        .values(last_seen_at=now - timedelta(minutes=10)))
        await s.execute(update(HubStore).where(HubStore.id == "X9").values(active=False))
        await s.execute(update(HubStore).where(HubStore.id == "D2").values(
            last_event_at=now - timedelta(seconds=42), last_applied_at=now,
            alert="connected with a different database"))
    # What stores report of their computers (sync protocol 2); W3 speaks v1: nothing.
    await link_history.save_status(hub_db, "S1", Status(
        version="kirana-store/test", clock=now + timedelta(seconds=90),
        disk_free_bytes=5_000_000_000, last_backup_at=now - timedelta(hours=2)), now)
    await link_history.save_status(hub_db, "D2", Status(version="kirana-store/test",
                                                         clock=now), now)
    ids = []
    for n in range(6):
        placed = await placement.take_order(hub_db, hub_cfg, incoming(f"M-{n}", qty=1))
        ids.append(placed.order.id)
    moves = [("picking", 20), ("ready", 20), ("ready", -5), ("handed_over", -30),
             ("delivered", -60), ("cancelled", -60)]  # (status, minutes to the promise)
    async with hub_db.write() as s:
        for order_id, (status, minutes) in zip(ids, moves, strict=True):
            await s.execute(update(HubOrder).where(HubOrder.id == order_id).values(
                status=status, promised_by=now + timedelta(minutes=minutes)))
        old = now - timedelta(days=3)
        for channel, attempts, next_at, delivered, made in (
                ("shopx", 0, now, None, now - timedelta(minutes=7)),  # waiting
                ("shopx", 3, now + timedelta(minutes=1), None, now),  # failing, retried
                ("shopx", 12, None, None, now),  # given up today
                ("shopx", 1, None, now, now),  # delivered
                ("shopy", 12, None, None, old)):  # given up three days ago
            made_id = uuid7() if made is now else uuid7_floor(made) + "-7000-8000-000000000000"
            s.add(HubWebhook(id=made_id, channel=channel, order_id=ids[0], payload="{}",
                             attempts=attempts, next_attempt_at=next_at,
                             delivered_at=delivered, last_error="", created_at=made,
                             claimed_by="", claimed_until=None))

    body = (await hub_client.get("/metrics", headers=headers)).text
    samples = parsed(body)
    assert figure(body, "kirana_hub_stores", state="online") == 2
    assert figure(body, "kirana_hub_stores", state="offline") == 1  # W3; X9 is off
    assert figure(body, "kirana_hub_store_online", store="S1") == 1
    assert figure(body, "kirana_hub_store_online", store="W3") == 0
    assert figure(body, "kirana_hub_store_online", store="X9") is None
    assert 590 < figure(body, "kirana_hub_store_last_seen_seconds", store="W3") < 900
    assert figure(body, "kirana_hub_store_sync_lag_seconds", store="D2") == 42
    assert figure(body, "kirana_hub_store_sync_lag_seconds", store="W3") == -1
    assert figure(body, "kirana_hub_store_alert", store="D2") == 1
    assert figure(body, "kirana_hub_store_alert", store="S1") == 0
    assert figure(body, "kirana_hub_store_disk_free_bytes", store="S1") == 5_000_000_000
    assert 7190 < figure(body, "kirana_hub_store_last_backup_seconds", store="S1") < 7500
    assert 89 < figure(body, "kirana_hub_store_clock_skew_seconds", store="S1") < 91
    assert figure(body, "kirana_hub_store_disk_free_bytes", store="D2") == -1
    assert figure(body, "kirana_hub_store_last_backup_seconds", store="D2") == -1
    assert figure(body, "kirana_hub_store_disk_free_bytes", store="W3") is None
    # No store has applied the catalogue (the shared log, issue #24) nor its own events.
    async with hub_db.read() as s:
        head = await catalog_log.head(s)
        made = dict((await s.execute(select(HubStore.id, HubStore.down_seq))).all())
    assert head >= 1
    for sid in ("S1", "D2", "W3"):
        assert figure(body, "kirana_hub_store_catalog_behind", store=sid) == head
        assert figure(body, "kirana_hub_outbox_waiting", store=sid) == made[sid]
        assert figure(body, "kirana_hub_outbox_oldest_waiting_seconds", store=sid) >= 0
    assert made["S1"] + made["D2"] >= 6  # the orders
    async with hub_db.write() as s:  # W3 applied all it was sent (a protocol 3 store)
        await s.execute(update(HubStore).where(HubStore.id == "W3")
                        .values(down_acked=HubStore.down_seq, sync_proto=3,
                                catalog_acked=head))
    assert figure(body, "kirana_hub_orders_open", state="ready") == 2
    assert figure(body, "kirana_hub_orders_open", state="picking") == 1
    assert figure(body, "kirana_hub_orders_open", state="handed_over") == 1
    assert figure(body, "kirana_hub_orders_open", state="new") == 0
    assert figure(body, "kirana_hub_orders_open", state="delivered") is None
    assert {labels for (name, labels) in samples if name == "kirana_hub_orders_open"} == {
        (("state", s),) for s in OPEN_STATES}
    # ready 5 minutes late and with a rider 30 minutes late; delivered and cancelled never
    assert figure(body, "kirana_hub_orders_late") == 2
    assert figure(body, "kirana_hub_webhooks", channel="shopx", status="waiting") == 2
    assert figure(body, "kirana_hub_webhooks", channel="shopx", status="retrying") == 1
    assert figure(body, "kirana_hub_webhooks", channel="shopx", status="failed") == 1
    assert figure(body, "kirana_hub_webhooks", channel="shopy", status="failed") is None
    assert 400 < figure(body, "kirana_hub_webhook_oldest_waiting_seconds") < 900
    size = figure(body, "kirana_hub_database_bytes")
    if hub_db.dialect == "sqlite":
        assert size == hub_cfg.resolve(hub_cfg.hub.database_path).stat().st_size
        assert figure(body, "kirana_hub_wal_bytes") >= 0
    else:
        assert size > 1_000_000 and figure(body, "kirana_hub_wal_bytes") == 0

    body = (await hub_client.get("/metrics", headers=headers)).text  # read fresh each time
    assert figure(body, "kirana_hub_outbox_waiting", store="W3") == 0
    assert figure(body, "kirana_hub_outbox_oldest_waiting_seconds", store="W3") == 0
    assert figure(body, "kirana_hub_store_catalog_behind", store="W3") == 0
    async with hub_db.write() as s:  # W3 deregistered: its series go, no stale figure stays
        await s.execute(delete(HubStoreLink).where(HubStoreLink.store_id == "W3"))
        await s.execute(update(HubStore).where(HubStore.id == "W3").values(active=False))
    body = (await hub_client.get("/metrics", headers=headers)).text
    assert figure(body, "kirana_hub_store_online", store="W3") is None
    assert figure(body, "kirana_hub_stores", state="offline") == 0


async def test_requests_are_counted_per_route_template_at_the_hub(hub_client, hub_db):
    headers = await metrics_key(hub_db)
    for order in ("NO-SUCH-1", "NO-SUCH-2", "%00"):
        await hub_client.get(f"/api/v1/orders/{order}", headers=headers)
    for i in range(30):  # paths no route has make no series
        await hub_client.get(f"/nothing-here/{i}")
    body = (await hub_client.get("/metrics", headers=headers)).text
    assert figure(body, "kirana_hub_request_seconds_count",
                  route="/api/v1/orders/{order_id}", method="GET") == 3
    assert "NO-SUCH" not in body and "nothing-here" not in body
    assert "kirana_request_seconds" not in body  # the store's names stay the store's


def test_kirana_hub_metrics_key_prints_a_key_once_and_keeps_its_hash(tmp_path,
                                                                     hub_sqlite_template):
    import sqlite3

    from app.cli import main

    text = (ROOT / "store_config" / "hub.toml").read_text()
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    (tmp_path / "hub.toml").write_text(text)
    shutil.copy(hub_sqlite_template, tmp_path / "hub.db")
    config = str(tmp_path / "hub.toml")
    out = CliRunner().invoke(main, ["hub", "metrics-key", "--config", config])
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    assert key.startswith("kir_")
    again = CliRunner().invoke(main, ["hub", "metrics-key", "--config", config, "Prometheus"])
    assert again.exit_code != 0 and "already exists" in again.output
    conn = sqlite3.connect(tmp_path / "hub.db")
    try:
        rows = conn.execute("SELECT name, scope, key_hash FROM api_keys").fetchall()
    finally:
        conn.close()
    assert [(name, scope) for name, scope, _h in rows] == [("prometheus", "metrics")]
    assert key not in repr(rows)  # only its hash is kept
