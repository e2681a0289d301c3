"""The hub's last English service messages in Hindi (issue #22): a catalogue CSV row the
product rules refuse and an order the hub refuses to cancel answer a Hindi HQ user in
Hindi (no English words left); an English HQ user reads the same English as before."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.hub import placement
from app.hub.models import HubOrder
from tests.conftest import csrf_of
from tests.hindi import english_runs, untranslated
from tests.hub.conftest import sign_in
from tests.hub.test_hindi_hub_pages import DATA, DECISION_LOG, _language
from tests.hub.test_routing import incoming, setup_stores

pytestmark = pytest.mark.parametrize("hub_cfg", ["sqlite"], indirect=True)

CSV = "sku,name,price,gst_rate,unit,barcodes\nA-1,Atta 5 kg,0,5,piece,\n"  # price zero


async def _import(hub_client):
    return await hub_client.post(
        "/hub/catalog/import", data={"dry_run": "on", "_csrf_token": csrf_of(hub_client)},
        files={"file": ("c.csv", CSV.encode(), "text/csv")})


async def _cancel_without_a_reason(hub_client, hub_db, hub_cfg) -> tuple[str, set[str]]:
    placed = await placement.take_order(hub_db, hub_cfg, incoming("W-9", qty=1))
    async with hub_db.read() as s:
        numbers = {o.number for o in await s.scalars(select(HubOrder))}
    response = await hub_client.post(f"/hub/orders/{placed.order.id}/cancel",
                                     data={"reason": " ", "_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 200, response.text[:500]  # followed to the order page
    return DECISION_LOG.sub("", response.text), numbers


async def test_hub_refusals_in_hindi(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 3})
    await _language(hub_db, "Priya", "hi")
    await sign_in(hub_client, "Priya")
    checked = await _import(hub_client)
    assert checked.status_code == 400
    assert "कीमत शून्य से ज़्यादा और ज़्यादा से ज़्यादा ₹1,00,00,000 होनी चाहिए" in checked.text
    assert english_runs(checked.text, allow=DATA | {"Atta 5 kg"}) == []
    assert untranslated(checked.text) == []
    page, numbers = await _cancel_without_a_reason(hub_client, hub_db, hub_cfg)
    assert "बताएँ कि ऑर्डर क्यों रद्द हुआ" in page
    assert english_runs(page, allow=DATA | numbers) == [] and untranslated(page) == []


async def test_hub_refusals_in_english(hub_client, hub_db, hub_cfg):
    await setup_stores(hub_db, {"S1": 3})
    await sign_in(hub_client, "Priya")
    checked = await _import(hub_client)
    assert checked.status_code == 400
    assert "price must be more than zero and at most ₹1,00,00,000" in checked.text
    page, _numbers = await _cancel_without_a_reason(hub_client, hub_db, hub_cfg)
    assert "say why the order is cancelled" in page
