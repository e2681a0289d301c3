"""hub.url: ws:// (the store's token and every sync frame in clear text) is refused except
to this machine, unless hub.allow_insecure is set, and then a warning is logged at every
start (issue #13 item 18, ASVS 4.0.3 V9.1.1/V9.2.2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "store_config" / "store.toml").read_text()
HUB_LINE = 'url = ""                       # e.g. wss://hub.example.in/sync/v1 ; empty = standalone'


def store_config(url: str, extra: str = ""):
    assert HUB_LINE in GOOD
    return parse_config(GOOD.replace(HUB_LINE, f'url = "{url}"{extra}'),
                        source="store_config/store.toml")


@pytest.mark.parametrize("url", ["ws://hub.example.in/sync/v1", "ws://10.0.0.5:8100/sync/v1",
                                 "ws://[2001:db8::1]/sync/v1", "ws://127.0.0.1.nip.io/sync/v1"])
def test_ws_to_another_machine_is_refused_with_the_reason(url):
    with pytest.raises(ConfigError) as err:
        store_config(url)
    assert str(err.value) == (
        "store_config/store.toml: hub.url: ws:// sends the store's token in clear text; "
        "use wss://, or set hub.allow_insecure = true for a test network")


def test_a_url_without_a_host_is_refused():
    with pytest.raises(ConfigError, match="hub.url: name the hub"):
        store_config("ws:///sync/v1")


@pytest.mark.parametrize("url", ["wss://hub.example.in/sync/v1", "ws://127.0.0.1:8100/sync/v1",
                                 "ws://localhost:8100/sync/v1", "ws://[::1]:8100/sync/v1",
                                 "ws://127.0.0.2/sync/v1", ""])
def test_wss_and_loopback_ws_load(url):
    assert store_config(url).hub.url == url


def test_the_insecure_flag_lets_ws_through_and_the_store_warns_at_start(caplog, tmp_path):
    from app.sync.client import insecure_link_warning

    cfg = store_config("ws://10.0.0.5:8100/sync/v1", "\nallow_insecure = true")
    assert cfg.hub.allow_insecure
    with caplog.at_level(logging.WARNING, logger="kirana.sync"):
        assert insecure_link_warning(cfg)
    assert "clear text" in caplog.text and "10.0.0.5" in caplog.text
    caplog.clear()
    for quiet in ("wss://hub.example.in/sync/v1", "ws://127.0.0.1:8100/sync/v1"):
        assert not insecure_link_warning(store_config(quiet, "\nallow_insecure = true"))
    assert caplog.text == ""


async def test_the_sync_client_logs_the_warning_when_it_starts(caplog, tmp_path):
    from app.core.db import Database
    from app.sync.client import SyncClient

    cfg = store_config("ws://10.255.255.1:9/sync/v1", "\nallow_insecure = true")
    db = Database(tmp_path / "store.db")
    client = SyncClient(db, cfg)
    with caplog.at_level(logging.WARNING, logger="kirana.sync"):
        await client.start()
        await client.stop()
    await db.dispose()
    assert any("clear text" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
