"""The hub's responses carry the security headers too (issue #13 item 16)."""

from __future__ import annotations

from tests.hub.conftest import sign_in
from tests.integration.test_security_headers import assert_secured


async def test_every_kind_of_hub_response_carries_the_headers(hub_client):
    assert_secured(await hub_client.get("/login"))
    assert_secured(await hub_client.get("/", follow_redirects=False))  # to sign-in
    assert_secured(await hub_client.get("/api/v1/stores"))  # 401 JSON
    assert_secured(await hub_client.get("/static/css/app.css"), stored=True)
    await sign_in(hub_client)
    for path in ("/", "/hub/catalog", "/hub/inventory.csv", "/api/v1/stores", "/nothing/here"):
        assert_secured(await hub_client.get(path))
