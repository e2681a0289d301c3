"""After a catalogue change the hub shows, live, which stores have applied it (they ack
the outbox events) and which have not (issue #16 item 18), on SQLite and PostgreSQL.
Before, the page said "Saved. The stores are being told now." and never confirmed."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from app.hub import catalog_log, views
from app.hub import service as hub
from app.hub.models import HubOutbox, HubStore
from app.sync.hub_link import store_ack
from tests.conftest import csrf_of
from tests.hub.conftest import sign_in
from tests.hub.test_hub_service import edit, go_online

OFFLINE_AFTER = timedelta(seconds=60)


async def two_stores(hub_db) -> None:
    await hub.add_store(hub_db, "S1", name="Indiranagar", kind="counter", lat=12.97, lon=77.64)
    await hub.add_store(hub_db, "D2", name="Koramangala", kind="darkstore", lat=12.93,
                        lon=77.62)


async def down_seq(hub_db, store_id: str) -> int:
    async with hub_db.read() as s:
        return (await s.scalar(select(HubStore.down_seq).where(HubStore.id == store_id)))


async def delivery(hub_db, sku: str | None) -> dict[str, tuple[int, int]]:
    """store -> (events of the change waiting, events still to apply)"""
    got = await views.catalogue_delivery(hub_db, OFFLINE_AFTER, sku)
    assert got is not None
    return {s.id: (s.waiting, s.to_go) for s in got.stores}


async def head(hub_db) -> int:
    async with hub_db.read() as s:
        return await catalog_log.head(s)


async def speaks(hub_db, proto: int, *store_ids: str) -> None:
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id.in_(store_ids))
                        .values(sync_proto=proto))


async def test_a_store_has_the_change_once_it_acks_it(hub_db):
    """Stores on protocol 3: their place in the shared catalogue log is their ack."""
    await two_stores(hub_db)
    await speaks(hub_db, 3, "S1", "D2")
    await hub.save_product(hub_db, edit("DAL-1KG"))  # log seq 1
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 1), "S1": (1, 1)}
    await hub.set_price(hub_db, "DAL-1KG", 9900)  # a second change before any ack: seq 2
    # The log keeps the product's newest state only: one entry to apply, not two.
    assert await delivery(hub_db, "dal-1kg ") == {"D2": (1, 1), "S1": (1, 1)}

    await catalog_log.save_acks(hub_db, {"S1": 1})  # the first change only: the old price
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 1), "S1": (1, 1)}
    await catalog_log.save_acks(hub_db, {"S1": 2})
    got = await views.catalogue_delivery(hub_db, OFFLINE_AFTER, "DAL-1KG")
    assert [s.id for s in got.applied] == ["S1"] and [s.id for s in got.pending] == ["D2"]
    assert not got.done

    await hub.save_product(hub_db, edit("RICE-5KG"))  # another product's change: seq 3
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 2), "S1": (0, 1)}
    assert await delivery(hub_db, "RICE-5KG") == {"D2": (1, 2), "S1": (1, 1)}
    assert await delivery(hub_db, None) == {"D2": (2, 2), "S1": (1, 1)}  # the whole catalogue

    await catalog_log.save_acks(hub_db, {"D2": 3, "S1": 1})  # an older ack never goes back
    assert (await views.catalogue_delivery(hub_db, OFFLINE_AFTER, "DAL-1KG")).done
    assert await delivery(hub_db, None) == {"D2": (0, 0), "S1": (1, 1)}
    assert await views.catalogue_delivery(hub_db, OFFLINE_AFTER, "NO-SUCH") is None


async def test_an_older_store_has_it_once_the_copy_in_its_stream_is_acked(hub_db):
    """A store on protocol 2 gets the log copied into its own stream while connected
    (here the changes were made before it linked on v2: its link copies them)."""
    await two_stores(hub_db)
    await hub.save_product(hub_db, edit("DAL-1KG"))
    await hub.set_price(hub_db, "DAL-1KG", 9900)
    await speaks(hub_db, 2, "S1", "D2")
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 1), "S1": (1, 1)}  # not copied
    async with hub_db.read() as s:
        head = await catalog_log.head(s)
    assert await catalog_log.copy_to_stream(hub_db, "S1", head) == head
    assert await down_seq(hub_db, "S1") == 1 and await down_seq(hub_db, "D2") == 0
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 1), "S1": (1, 1)}  # copied
    await store_ack(hub_db, "S1", 1)
    assert await delivery(hub_db, "DAL-1KG") == {"D2": (1, 1), "S1": (0, 0)}
    # Copying again copies nothing.
    assert await catalog_log.copy_to_stream(hub_db, "S1", head) == head
    assert await down_seq(hub_db, "S1") == 1


async def test_a_sku_is_matched_exactly_not_as_a_pattern(hub_db):
    """`_` is a LIKE wildcard: A_1's change must not be confused with AB1's (in an older
    store's stream, where the copies are matched by their data)."""
    await two_stores(hub_db)
    await speaks(hub_db, 2, "S1")
    await hub.save_product(hub_db, edit("A_1"))  # seq 1
    await hub.save_product(hub_db, edit("AB1"))  # seq 2
    await hub.save_product(hub_db, edit("A"))  # seq 3: a prefix of the others
    await catalog_log.copy_to_stream(hub_db, "S1", 3)
    await store_ack(hub_db, "S1", 1)
    assert (await delivery(hub_db, "A_1"))["S1"] == (0, 0)
    assert (await delivery(hub_db, "AB1"))["S1"] == (1, 1)
    assert (await delivery(hub_db, "A"))["S1"] == (1, 2)
    await store_ack(hub_db, "S1", 2)
    assert (await delivery(hub_db, "AB1"))["S1"] == (0, 0)
    assert (await delivery(hub_db, "A"))["S1"] == (1, 1)


def test_the_pattern_escapes_every_like_wildcard():
    assert views._sku_pattern("A_1") == '%"sku":"A!_1"%'
    assert views._sku_pattern('A%!"1') == '%"sku":"A!%!!\\"1"%'


async def test_only_active_stores_count_and_their_links_show(hub_db):
    await two_stores(hub_db)
    await hub.add_store(hub_db, "S3", name="Closed", kind="counter", lat=12.9, lon=77.6)
    async with hub_db.write() as s:
        await s.execute(update(HubStore).where(HubStore.id == "S3").values(active=False))
    await go_online(hub_db, ["S1"])
    await hub.save_product(hub_db, edit("DAL-1KG"))
    got = await views.catalogue_delivery(hub_db, OFFLINE_AFTER, "DAL-1KG")
    assert [(s.id, s.online, s.last_seen_at is not None) for s in got.stores] == [
        ("D2", False, False), ("S1", True, True)]


async def test_the_product_page_follows_the_stores_until_all_have_it(hub_client, hub_db):
    await two_stores(hub_db)
    await go_online(hub_db, ["S1"])
    await sign_in(hub_client, "Omar")
    form = {"sku": "ghee-500", "name": "Desi Ghee 500 ml", "price": "325.50", "gst": "12",
            "unit": "piece", "barcodes": "", "active": "on", "reorder_level": "0",
            "_csrf_token": csrf_of(hub_client)}
    saved = await hub_client.post("/hub/catalog/save", data=form)
    assert saved.status_code == 200 and "Saved." in saved.text
    assert "being told now" not in saved.text
    assert "0 of 2 stores have this change." in saved.text
    assert 'hx-get="/hub/catalog/delivery?sku=GHEE-500"' in saved.text
    assert "connected, 1 change still to apply." in saved.text  # S1
    assert "never connected. It gets this change when it first connects." in saved.text  # D2

    live = await hub_client.get("/hub/catalog/delivery", params={"sku": "ghee-500"})
    assert live.status_code == 200 and "0 of 2 stores have this change." in live.text
    await speaks(hub_db, 3, "S1", "D2")
    await catalog_log.save_acks(hub_db, {"S1": await head(hub_db)})
    live = await hub_client.get("/hub/catalog/delivery", params={"sku": "GHEE-500"})
    assert live.status_code == 200 and "1 of 2 stores have this change." in live.text
    assert 'data-store="D2"' in live.text and 'data-store="S1"' not in live.text
    assert 'value="1"' in live.text and 'aria-label="1 of 2 stores have this change"' in live.text
    await catalog_log.save_acks(hub_db, {"D2": await head(hub_db)})
    live = await hub_client.get("/hub/catalog/delivery", params={"sku": "GHEE-500"})
    assert live.status_code == 286  # htmx stops polling
    assert "All 2 stores have this change." in live.text
    page = await hub_client.get("/hub/catalog/item/GHEE-500")
    assert "All 2 stores have this change." in page.text and "hx-get" not in page.text.split(
        'id="delivery"', 1)[1].split(">", 1)[0]

    missing = await hub_client.get("/hub/catalog/delivery", params={"sku": "NOPE"})
    assert missing.status_code == 404


async def test_the_import_page_follows_the_stores_too(hub_client, hub_db):
    await two_stores(hub_db)
    await sign_in(hub_client)
    header = "sku,name,price,gst_rate,unit,barcodes\n"
    good = header + "A-1,Atta 5 kg,250.00,5,piece,\nB-1,Besan 1 kg,90,5,piece,\n"
    checked = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", good.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client), "dry_run": "on"})
    assert checked.status_code == 200 and 'id="delivery"' not in checked.text
    response = await hub_client.post(
        "/hub/catalog/import", files={"file": ("c.csv", good.encode(), "text/csv")},
        data={"_csrf_token": csrf_of(hub_client)})
    assert response.status_code == 200
    assert "0 of 2 stores have the catalogue as it is now." in response.text
    assert 'hx-get="/hub/catalog/delivery"' in response.text
    assert "never connected" in response.text
    await speaks(hub_db, 2, "S1")  # an older store: the log copied into its stream
    await catalog_log.copy_to_stream(hub_db, "S1", await head(hub_db))
    await store_ack(hub_db, "S1", await down_seq(hub_db, "S1"))
    await speaks(hub_db, 3, "D2")
    await catalog_log.save_acks(hub_db, {"D2": await head(hub_db)})
    live = await hub_client.get("/hub/catalog/delivery")
    assert live.status_code == 286
    assert "All 2 stores have the catalogue as it is now." in live.text


async def test_without_stores_it_says_so(hub_client, hub_db):
    await hub.save_product(hub_db, edit("DAL-1KG"))
    await sign_in(hub_client)
    page = await hub_client.get("/hub/catalog/item/DAL-1KG")
    assert "No store to tell yet" in page.text
    assert (await hub_client.get("/hub/catalog/delivery", params={"sku": "DAL-1KG"})
            ).status_code == 286


async def stream_kinds(hub_db, store_id: str) -> list[tuple[str, str]]:
    async with hub_db.read() as s:
        rows = (await s.execute(select(HubOutbox.kind, HubOutbox.data)
                                .where(HubOutbox.store_id == store_id)
                                .order_by(HubOutbox.seq))).all()
    return [(kind, json.loads(data).get("sku", "")) for kind, data in rows]


async def test_an_older_store_gets_a_catalogue_change_before_an_event_made_after_it(hub_db):
    """Its link copies the log into its stream only when it gets round to it: an event
    enqueued in between (an order naming a product just added) would overtake the
    product. The change is copied into its stream in the transaction that makes it (CI
    caught the old store's inbox out of order)."""
    await two_stores(hub_db)
    await speaks(hub_db, 2, "S1")
    await speaks(hub_db, 3, "D2")
    await hub.save_product(hub_db, edit("DAL-1KG"))
    await hub.save_product(hub_db, edit("RICE-5KG"))
    async with hub_db.write() as s:
        await hub.enqueue(s, ["S1", "D2"], [("store.resync", {"why": "test"})])
    assert await stream_kinds(hub_db, "S1") == [
        ("product.upserted", "DAL-1KG"), ("product.upserted", "RICE-5KG"),
        ("store.resync", "")]
    # The v3 store reads the log itself: only its own event is in its stream.
    assert await stream_kinds(hub_db, "D2") == [("store.resync", "")]
    async with hub_db.read() as s:
        assert await s.scalar(select(HubStore.catalog_copied).where(HubStore.id == "S1")) == 2

    # The link's copy afterwards finds nothing more; a later change follows the event.
    assert await catalog_log.copy_to_stream(hub_db, "S1", 2) == 2
    await hub.set_price(hub_db, "DAL-1KG", 9900)
    async with hub_db.write() as s:
        await hub.enqueue(s, ["S1"], [("store.resync", {"why": "again"})])
    assert (await stream_kinds(hub_db, "S1"))[3:] == [
        ("product.upserted", "DAL-1KG"), ("store.resync", "")]
    assert await down_seq(hub_db, "S1") == 5


async def test_a_backlog_is_copied_before_the_new_change(hub_db):
    """A store that became v2 with the log ahead of its copy (its link not round to it
    yet): the change's transaction copies the backlog first, in log order."""
    await two_stores(hub_db)
    await hub.save_product(hub_db, edit("DAL-1KG"))  # before it spoke v2: not copied
    await speaks(hub_db, 2, "S1")
    await hub.save_product(hub_db, edit("RICE-5KG"))
    assert await stream_kinds(hub_db, "S1") == [("product.upserted", "DAL-1KG"),
                                                ("product.upserted", "RICE-5KG")]
