"""The hub tells every store its channel names (`hub.channels`, the whole list), so a
store refuses API keys posting under them (issue #13 item 1)."""

from __future__ import annotations

from app.hub import service as hub
from app.hub import webhooks
from tests.hub.test_routing import sent_to, setup_stores


async def test_stores_hear_the_hubs_channels_when_they_change_and_on_joining(hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 1})
    await webhooks.add_channel(hub_db, "webshop")
    await webhooks.add_channel(hub_db, "marketplace")
    for store in ("S1", "D2", "W3"):
        told = await sent_to(hub_db, store, "hub.channels")
        assert [t["channels"] for t in told] == [["webshop"], ["marketplace", "webshop"]]
    # Nothing changed: a restart says nothing again.
    async with hub_db.write() as s:
        assert await hub.announce_channels(s) == ()
    assert len(await sent_to(hub_db, "S1", "hub.channels")) == 2
    # A store added later hears the list at once.
    await hub.add_store(hub_db, "K4", name="Store K4", kind="counter", lat=12.9, lon=77.6)
    assert [t["channels"] for t in await sent_to(hub_db, "K4", "hub.channels")] == [
        ["marketplace", "webshop"]]


async def test_a_hub_upgraded_to_this_version_tells_every_store_once(hub_db, hub_cfg):
    from sqlalchemy import delete

    from app.hub.models import HubSetting

    await setup_stores(hub_db, {"S1": 1})
    await webhooks.add_channel(hub_db, "webshop")
    async with hub_db.write() as s:  # as before this version: nothing told yet
        await s.execute(delete(HubSetting).where(HubSetting.key == hub.CHANNELS_TOLD))
    async with hub_db.write() as s:
        assert await hub.announce_channels(s) == ("D2", "S1", "W3")
    async with hub_db.write() as s:
        assert await hub.announce_channels(s) == ()


async def test_a_hub_without_channels_tells_stores_nothing(hub_db, hub_cfg):
    """A new hub's first start (its worker announces the channel list) must not queue an
    empty `hub.channels` for a store added meanwhile: nothing changed for that store
    (test_hub_pages' import test saw that event appear when the worker ran late)."""
    await hub.add_store(hub_db, "S1", name="S1", kind="counter", lat=12.97, lon=77.64)
    async with hub_db.write() as s:
        assert await hub.announce_channels(s) == ()
    assert await hub.pending_down(hub_db, "S1", 0, 10) == []
    await webhooks.add_channel(hub_db, "webshop")
    assert [e.data for e in await hub.pending_down(hub_db, "S1", 0, 10)] == [
        {"channels": ["webshop"]}]
