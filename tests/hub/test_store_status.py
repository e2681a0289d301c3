"""A store's status at the hub (issue #23: "the hub shows each store's version, disk
space, last backup time, and clock skew"), over sync protocol 2, at a live hub on SQLite
and PostgreSQL: the status in hello and later, the Stores page and the API, an old (v1)
store answered in the v1 shape and refused a status, a flood of statuses kept to one
write per STATUS_MIN_SECONDS, and a store speaking only versions the hub does not."""

from __future__ import annotations

import asyncio
import html
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app import __version__
from app.core.clock import utcnow
from app.core.models import AuditLog
from app.hub.models import HubStoreLink
from app.ops.backup import newest_backup_at
from app.ops.backup_rules import backup_name
from app.sync import client as store_client
from app.sync import hub_link
from app.sync import protocol as p
from tests.hub import test_hub_links
from tests.hub.conftest import add_hub_user, sign_in
from tests.hub.test_hub_links import add_s1, closed_with, until

live_hub = test_hub_links.live_hub  # the fixture: a hub served in this process

pytestmark = pytest.mark.timeout(120)
EPOCH = "c" * 16
SLOW_WORDS = ("Clock 3 min fast: SLA timers will be wrong. Set the time on the store's "
              "computer.")


def v2_hello(status: p.Status | None) -> str:
    return p.encode(p.hello("S1", EPOCH, 0, status, newest=2)).decode()


def status_at(clock: datetime, **changes) -> p.Status:
    values = {"version": "0.9.9", "clock": clock, "disk_free_bytes": 5_000_000_000,
              "last_backup_at": utcnow() - timedelta(days=2, minutes=5)}
    return p.Status(**{**values, **changes})


async def board(live) -> str:
    async with httpx.AsyncClient(base_url=live.http_url) as web:
        await sign_in(web)
        return html.unescape((await web.get("/")).text)


async def api_status(live, hub_db) -> dict | None:
    from app.hub.views import store_health

    health = next(h for h in await store_health(hub_db, timedelta(seconds=60)) if h.id == "S1")
    return health.as_json()["status"]


async def test_a_v2_store_reports_its_status_and_the_page_shows_it(live_hub, hub_db,
                                                                    monkeypatch):
    token = await add_s1(hub_db)
    await add_hub_user(hub_db, "Priya", "admin")
    async with live_hub.link(token, "kirana-store/0.9.9") as ws:
        await ws.send(v2_hello(status_at(utcnow() + timedelta(minutes=3))))
        welcome = await until(ws, "welcome")
        assert welcome["proto"] == 2
        shown = await api_status(live_hub, hub_db)
        assert shown["version"] == "0.9.9" and shown["disk_free_bytes"] == 5_000_000_000
        assert 170 <= shown["clock_skew_seconds"] <= 181
        page = await board(live_hub)
        assert SLOW_WORDS in page and 'data-testid="clock"' in page
        assert "Disk free: 5.0 GB" in page
        assert '<span class="badge badge-bad" data-testid="backup">Last backup 2 days ago' in page

        # A flood of statuses right after the hello: none is written (one per 10 s).
        for _ in range(50):
            await ws.send(p.encode(status_at(utcnow(), disk_free_bytes=1)).decode())
        await ws.send(json.dumps({"type": "ack", "upto": 0}))  # read after the flood
        await asyncio.sleep(0.5)
        assert (await api_status(live_hub, hub_db))["disk_free_bytes"] == 5_000_000_000

        # The next one after the pause is kept: the clock was set, the backup is fresh.
        monkeypatch.setattr(hub_link, "STATUS_MIN_SECONDS", 0.0)
        await ws.send(p.encode(status_at(utcnow(), disk_free_bytes=123_400_000_000,
                                         last_backup_at=utcnow() - timedelta(hours=3)))
                      .decode())
        for _ in range(100):
            shown = await api_status(live_hub, hub_db)
            if shown["disk_free_bytes"] != 5_000_000_000:
                break
            await asyncio.sleep(0.05)
        assert shown["disk_free_bytes"] == 123_400_000_000
        assert abs(shown["clock_skew_seconds"]) < 5
        page = await board(live_hub)
        assert "SLA timers will be wrong" not in page and "Disk free: 123 GB" in page
        assert '<small data-testid="backup">Last backup 3 hours ago</small>' in page
    # Kept for the offline store: the last thing it said.
    assert (await api_status(live_hub, hub_db))["disk_free_bytes"] == 123_400_000_000


async def test_an_old_store_gets_the_v1_welcome_and_may_not_send_status(live_hub, hub_db):
    token = await add_s1(hub_db)
    await add_hub_user(hub_db, "Priya", "admin")
    async with live_hub.link(token, "kirana-store/0.8.0") as ws:
        await ws.send(json.dumps({"type": "hello", "proto": 1, "store_id": "S1",
                                  "epoch": EPOCH, "applied_down": 0}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert sorted(welcome) == ["acked_up", "hub_time", "type"]  # exactly v1
        assert await api_status(live_hub, hub_db) is None
        page = await board(live_hub)
        assert "Disk, backup and clock not reported" in page
        assert "kirana-store/0.8.0" in page
        await ws.send(p.encode(status_at(utcnow())).decode())
        code, got = await closed_with(ws)
    assert code == 4400 and got[-1]["message"] == "status needs protocol 2; this link speaks 1"
    assert await api_status(live_hub, hub_db) is None


@pytest.mark.parametrize(("offer", "words"), [
    ({"proto": 4, "proto_max": 5}, "the store speaks protocols 4 to 5, the hub protocols 1 "
                                   "to 3: upgrade the hub"),
    ({"proto": 1, "status": {"type": "status", "version": "1",
                             "clock": "2026-12-01T10:00:00Z"}},
     "status needs protocol 2; the hello offers protocol 1"),
])
async def test_a_store_speaking_nothing_in_common_is_refused_with_4400(live_hub, hub_db,
                                                                       offer, words):
    token = await add_s1(hub_db)
    async with live_hub.link(token, "kirana-store/9.0.0") as ws:
        await ws.send(json.dumps({"type": "hello", "store_id": "S1", "epoch": EPOCH,
                                  "applied_down": 0, **offer}))
        code, got = await closed_with(ws)
    assert code == 4400 and got == [{"type": "error", "code": 4400, "message": words}]
    async with hub_db.read() as s:  # nothing admitted: no link, no history, no epoch
        assert await s.scalar(select(func.count()).select_from(HubStoreLink)) == 0
        assert await s.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.action == "sync.up.S1")) == 0
    assert await api_status(live_hub, hub_db) is None


def test_the_store_reports_its_disk_newest_backup_and_clock(cfg):
    folder = cfg.resolve(cfg.backup.folder)
    folder.mkdir(parents=True, exist_ok=True)
    older = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    newer = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    for at, store in ((older, cfg.store.id), (newer, cfg.store.id),
                      (newer + timedelta(hours=1), "OTHER")):
        (folder / backup_name(store, at)).write_bytes(b"x")
    (folder / "notes.txt").write_text("not a backup")
    before = utcnow()
    status = store_client.store_status(cfg, newest_backup_at)
    assert status.version == __version__ and status.last_backup_at == newer
    assert before <= status.clock <= utcnow()
    assert status.disk_free_bytes is not None and status.disk_free_bytes > 0
    assert p.decode(p.encode(status)) == status  # within the protocol's bounds


def test_no_backup_folder_is_no_backup_not_a_failure(cfg):
    cfg.backup.folder = "does/not/exist"
    status = store_client.store_status(cfg, newest_backup_at)
    assert status.last_backup_at is None and status.disk_free_bytes


def test_the_store_server_wires_its_backups_into_the_status(cfg):
    """app.sync sits below app.ops, so the server hands the client the backup lookup:
    without it the hub would always see "no backup"."""
    from app.server import create_store_app

    folder = cfg.resolve(cfg.backup.folder)
    folder.mkdir(parents=True, exist_ok=True)
    at = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    (folder / backup_name(cfg.store.id, at)).write_bytes(b"x")
    client = create_store_app(cfg).state.sync_client
    assert store_client.store_status(cfg, client.newest_backup).last_backup_at == at
