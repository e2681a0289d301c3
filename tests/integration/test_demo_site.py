"""`kirana demo`'s site as it is prepared (no servers): the hub and each store agree on
what the store is called (issue #16 item 20). The banner and the running demo are
tested with real processes in test_signals.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import load_config, load_hub_config
from app.demo import DEMO_STORES, DemoSite, prepare_site
from app.hub.db import open_hub_database
from app.hub.models import HubStore


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> DemoSite:
    return prepare_site(tmp_path_factory.mktemp("demo-site"), port=8800, orders_per_minute=0)


def hub_stores(hub_config: Path) -> dict[str, HubStore]:
    cfg = load_hub_config(hub_config)

    async def read() -> dict[str, HubStore]:
        db = open_hub_database(cfg.database_url, cfg.hub)
        try:
            async with db.read() as s:
                return {st.id: st for st in await s.scalars(select(HubStore))}
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_each_store_has_one_name_at_the_hub_and_at_the_store(site: DemoSite) -> None:
    at_hub = hub_stores(site.hub_config)
    assert set(at_hub) == set(DEMO_STORES) == set(site.stores)
    for store_id, (cfg_path, _url) in site.stores.items():
        store = load_config(cfg_path).store
        assert (at_hub[store_id].name, at_hub[store_id].kind) == (store.name, store.kind)
    assert at_hub["D2"].name == "Kirana Quick, Koramangala"  # where the hub places it


def test_a_second_run_keeps_the_names(site: DemoSite) -> None:
    again = prepare_site(site.hub_config.parent.parent, port=8800, orders_per_minute=0)
    assert not again.fresh
    at_hub = hub_stores(again.hub_config)
    for store_id, (cfg_path, _url) in again.stores.items():
        assert at_hub[store_id].name == load_config(cfg_path).store.name
