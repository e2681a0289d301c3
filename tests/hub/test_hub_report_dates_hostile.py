"""The chain overview given dates at the calendar's ends: a plain message, never a 500."""

from __future__ import annotations

import pytest

from tests.hub.conftest import sign_in


@pytest.mark.parametrize(("query", "says"), [
    ("end=0001-01-05", "before any sale"),
    ("start=9999-12-31&end=9999-12-31", "has not come yet"),
    ("start=0001-01-01&end=0001-01-01", "before any sale"),
])
async def test_extreme_dates_are_refused_with_a_message(hub_client, query, says):
    await sign_in(hub_client, "Priya")
    for url in ("/hub/reports", "/hub/reports.csv"):
        r = await hub_client.get(f"{url}?{query}")
        assert r.status_code in (200, 400), (url, query, r.status_code)
        assert says in r.text, (url, r.text[:300])
