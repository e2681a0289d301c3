"""The rules page shows the split threshold as money (issue #14): it printed
`(split_above_minor / 100) | round(2)`, so ₹1,234.50 showed as "1234.5"."""

from __future__ import annotations

import re

from app.hub import order_reads
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in


async def test_the_split_threshold_is_shown_as_money_and_saves_back_unchanged(
        hub_client, hub_db, hub_cfg):
    await sign_in(hub_client)
    form = {"criterion1": "priority", "criterion2": "distance", "radius_km": "5",
            "safety_stock": "1", "orders_per_picker": "3", "split_above_rupees": "1234.50"}
    saved = await hub_client.post("/hub/rules", data={**form, "_csrf_token": csrf_of(hub_client)})
    assert saved.status_code == 200 and "Saved" in saved.text
    shown = re.search(r'name="split_above_rupees"[^>]*value="([^"]*)"',
                      (await hub_client.get("/hub/rules")).text)
    assert shown and shown.group(1) == "1,234.50"
    again = await hub_client.post("/hub/rules", data={
        **form, "split_above_rupees": shown.group(1), "_csrf_token": csrf_of(hub_client)})
    assert again.status_code == 200 and "Saved" in again.text
    async with hub_db.read() as s:
        assert (await order_reads.current_rules(s, hub_cfg)).split_above_minor == 123_450
