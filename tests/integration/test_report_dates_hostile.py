"""Report pages given dates at the calendar's ends (a typo, or a probe): a plain message,
never a 500 (0001-01-01 overflowed the day's UTC bounds and the previous period)."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("url", [
    "/reports/sales?from=0001-01-01&to=0001-01-01",
    "/reports/sales?from=0001-01-02&to=0001-01-02",
    "/reports/sales.csv?from=0001-01-01&to=0001-01-01",
    "/reports/stock?from=0001-01-01&to=0001-01-01",
    "/reports/stock.csv?section=stockouts&from=0001-01-01&to=0001-01-01",
    "/reports/sales?from=1999-12-31&to=1999-12-31",
])
async def test_a_date_before_2000_is_refused_with_a_message(client, login_as, url):
    await login_as("manager")
    r = await client.get(url)
    assert r.status_code in (200, 400), (url, r.status_code)
    assert re.search(r"before any (bill|stock)", r.text), r.text[:500]
