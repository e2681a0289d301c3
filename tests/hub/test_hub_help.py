"""The store's help pages are the store's: the hub has no /help (issue #16 item 22)."""

from __future__ import annotations


async def test_the_hub_has_no_store_help(hub_client):
    for path in ("/help", "/help/cashier"):
        assert (await hub_client.get(path, follow_redirects=False)).status_code == 404, path
