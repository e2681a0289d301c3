"""A store taking the hub's catalogue (a new store, a big import: sync protocol 3, issue
#24) says how far it has got in the header's hub badge, in the person's language."""

from __future__ import annotations

from app.core.models import User
from app.server import _jinja_globals
from app.sync.client import LinkStatus


def test_the_catch_up_percent():
    assert LinkStatus(state="online").catalog_percent is None
    status = LinkStatus(state="online", catalog_from=1000, catalog_at=1000,
                        catalog_head=101_000)
    assert status.catalog_percent == 0
    status.catalog_at = 41_000
    assert status.catalog_percent == 40
    status.catalog_at = 100_999
    assert status.catalog_percent == 99  # never says 100 before it is done
    status.catalog_at = 101_000
    assert status.catalog_percent is None  # caught up: the plain "online"


async def test_the_badge_shows_it(app, client, staff, db, login_as):
    status = LinkStatus(state="online", catalog_from=0, catalog_at=25_000,
                        catalog_head=100_000)
    _jinja_globals(app)["hub_link"] = lambda: status
    await login_as("manager")
    page = (await client.get("/")).text
    assert "Hub: getting the catalogue, 25%" in page
    async with db.write() as s:
        (await s.get(User, staff["manager"])).language = "hi"
    page = (await client.get("/")).text
    assert "हब: कैटलॉग आ रहा है, 25%" in page
    status.catalog_at = 100_000
    page = (await client.get("/")).text
    assert "कैटलॉग आ रहा है" not in page
