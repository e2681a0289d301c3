"""Loyalty balances at the hub (issue #21), on SQLite and PostgreSQL: a store's
movements booked once (a replayed event or entry books nothing more), the balance sent
back to that store only, another store hearing of a customer only when it asks, an
overdraw (two stores spending the same points) written off so no balance goes below
zero, movements from a store that never asked kept apart, erasure reaching the stores
that heard of the customer, and hostile event data failing the frame, booking nothing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select, update

from app.hub import loyalty
from app.hub import service as hub
from app.hub.models import (
    HubLoyaltyCustomer,
    HubLoyaltyEntry,
    HubLoyaltyWatch,
    HubOutbox,
    HubStore,
    StoreEventRow,
)
from tests.hub.test_hub_service import apply, ev
from tests.hub.test_routing import sent_to

PHONE = "9812345610"
AT = "2026-11-27T11:30:00+05:30"


async def erased_numbers(hub_db, store_id: str) -> list[str]:
    """The numbers the hub told this store to erase; each `loyalty.erase` also says when
    the hub holds the number erased (`at`, its tombstone's time: a store hearing late
    keeps that time, not its own)."""
    from datetime import datetime

    told = await sent_to(hub_db, store_id, "loyalty.erase")
    for event in told:
        assert datetime.fromisoformat(event["at"]).tzinfo is not None, event
    return [event["phone"] for event in told]


def joined(seq: int, card: str | None = "KC-000123") -> object:
    return ev(seq, "loyalty.joined", {"phone": PHONE, "card": card, "consent_at": AT})


def move(seq: int, entry: str, kind: str, points: int, event: str | None = None,
         phone: str = PHONE, reference: str = "S1-000001", sale: str | None = None) -> object:
    event = event or {"earned": "loyalty.earned", "redeemed": "loyalty.redeemed"}.get(
        kind, "loyalty.reversed")
    data = {"entry_id": entry, "phone": phone, "kind": kind, "points": points,
            "reference": reference, "at": AT}
    if sale is not None:
        data["sale"] = sale
    return ev(seq, event, data)


async def stores(hub_db) -> None:
    for sid in ("S1", "D2", "W3"):
        await hub.add_store(hub_db, sid, name=f"Store {sid}", kind="counter", lat=12.9,
                            lon=77.6)


async def customer(hub_db) -> HubLoyaltyCustomer | None:
    async with hub_db.read() as s:
        return await s.scalar(select(HubLoyaltyCustomer))


async def test_movements_book_once_and_the_balance_goes_to_the_sender_only(hub_db):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 120)])
    c = await customer(hub_db)
    assert (c.phone, c.card, c.balance, c.joined_store) == (PHONE, "KC-000123", 120, "S1")
    balances = await sent_to(hub_db, "S1", "loyalty.balance")
    assert balances[-1].pop("at")[:2] == "20"  # when the hub booked it (freshness)
    assert balances[-1] == {"phone": PHONE, "card": "KC-000123", "consent_at": c.consent_at
                            .isoformat(), "balance": 120, "seq": 2}
    assert await sent_to(hub_db, "D2", "loyalty.balance") == []  # D2 never asked
    # The same frame again (a resend after a lost ack): the event ids are known.
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 120)])
    # The same movement in a new event (a store restored from a backup re-sends it).
    await apply(hub_db, "S1", [move(3, "E1", "earned", 120)])
    assert (await customer(hub_db)).balance == 120
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyEntry)) == 1


async def test_another_store_hears_of_a_customer_only_when_it_asks(hub_db, caplog):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 300)])
    caplog.set_level(logging.INFO, logger="kirana.hub")
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": None, "card": "kc-000123"})])
    assert "store D2 looked up a card: known" in caplog.text  # every look-up is logged
    [told] = await sent_to(hub_db, "D2", "loyalty.balance")
    assert (told["phone"], told["balance"], told["seq"]) == (PHONE, 300, 1)
    await apply(hub_db, "W3", [ev(1, "loyalty.lookup", {"phone": "9000000000", "card": None})])
    assert await sent_to(hub_db, "W3", "loyalty.balance") == []  # unknown: nothing
    assert "store W3 looked up 90xxxxxx00: not known" in caplog.text
    assert "9000000000" not in caplog.text


async def test_a_store_probing_numbers_is_answered_only_up_to_its_look_up_limit(
        hub_db, caplog, monkeypatch):
    """A stolen store token asking for number after number (who is a customer here?):
    past LOOKUPS_PER_MINUTE a look-up is logged and not answered; other stores are not
    held back, and the limit refills with time."""
    from app.hub import loyalty as hub_loyalty

    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 300)])
    clock = [1000.0]
    monkeypatch.setattr(hub_loyalty.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(hub_loyalty, "_LOOKUP_BUCKETS", {})
    limit = hub_loyalty.LOOKUPS_PER_MINUTE
    probes = [ev(n, "loyalty.lookup", {"phone": f"90000{n:05d}", "card": None})
              for n in range(1, limit + 1)]
    await apply(hub_db, "W3", probes)
    caplog.set_level(logging.INFO, logger="kirana.hub")
    await apply(hub_db, "W3", [ev(limit + 1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    assert await sent_to(hub_db, "W3", "loyalty.balance") == []  # the real one: no answer
    assert "past 60 look-ups a minute: not answered" in caplog.text
    assert PHONE not in caplog.text
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    assert len(await sent_to(hub_db, "D2", "loyalty.balance")) == 1  # another store: answered
    clock[0] += 60  # a minute later W3 may ask again
    await apply(hub_db, "W3", [ev(limit + 2, "loyalty.lookup", {"phone": PHONE, "card": None})])
    assert len(await sent_to(hub_db, "W3", "loyalty.balance")) == 1


async def test_two_stores_spending_the_same_points_overdraw_into_a_write_off(hub_db, caplog):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 150)])
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    # Both offline, both spend the 150 they last heard of.
    caplog.set_level(logging.WARNING)
    await apply(hub_db, "S1", [move(3, "E2", "redeemed", -150)])
    await apply(hub_db, "D2", [move(2, "E3", "redeemed", -150)])
    c = await customer(hub_db)
    assert (c.balance, c.written_off) == (0, 150)  # never below zero
    async with hub_db.read() as s:
        off = await s.scalar(select(HubLoyaltyEntry.write_off).where(HubLoyaltyEntry.id == "E3"))
        figures = await loyalty.figures(s)
    assert off == 150 and figures.written_off == 150 and figures.points_out == 0
    assert "written off" in caplog.text and PHONE not in caplog.text  # logs mask it
    # a refund taking back earned points already spent is written off the same way
    await apply(hub_db, "S1", [move(4, "E4", "earned_back", -50, sale="S1-000001")])
    c = await customer(hub_db)
    assert (c.balance, c.written_off) == (0, 200)


async def test_points_given_back_after_an_overdraw_cancel_the_write_off_first(hub_db):
    """#21 review 5: D2's spend was written off (S1 spent the same points); its refund
    gives those points back: the write-off is cancelled, no points are minted."""
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 150)])
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    await apply(hub_db, "S1", [move(3, "E2", "redeemed", -150)])
    await apply(hub_db, "D2", [move(2, "E3", "redeemed", -150, reference="D2-000007")])
    assert ((c := await customer(hub_db)).balance, c.written_off) == (0, 150)
    await apply(hub_db, "D2", [move(3, "E4", "points_back", 100, reference="D2-R00001",
                                    sale="D2-000007")])
    assert ((c := await customer(hub_db)).balance, c.written_off) == (0, 50)
    await apply(hub_db, "D2", [move(4, "E5", "points_back", 100, reference="D2-R00002",
                                    sale="D2-000007")])  # only 50 left of what it booked
    assert ((c := await customer(hub_db)).balance, c.written_off) == (0, 0)
    async with hub_db.read() as s:
        figures = await loyalty.figures(s)
    assert figures.written_off == 0 and figures.points_out == 0
    overdraws = (await loyalty.overview(hub_db))[1]
    assert overdraws == []
    # S1's own refund of its spend returns what its balance paid
    await apply(hub_db, "S1", [move(4, "E6", "points_back", 150, sale="S1-000001")])
    assert ((c := await customer(hub_db)).balance, c.written_off) == (150, 0)


async def test_a_store_reverses_only_what_it_booked_and_erases_only_its_customers(hub_db):
    """#21 review 6: a store that only looked a customer up cannot mint points with a
    forged reversal, nor erase the customer chain-wide; a reversal never exceeds what
    the bill booked at that store."""
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 10),
                               move(3, "E2", "redeemed", -10, reference="S1-000002")])
    await apply(hub_db, "W3", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None}),
                               move(2, "E9", "points_back", 10_000_000, sale="S1-000002"),
                               move(3, "E8", "points_back", 5)])  # no bill named
    assert (await customer(hub_db)).balance == 0
    await apply(hub_db, "S1", [move(4, "E3", "points_back", 10_000_000, sale="S1-000002")])
    assert (await customer(hub_db)).balance == 10  # capped at the 10 it booked
    async with hub_db.read() as s:
        apart = await loyalty.figures(s)
    assert apart.kept_apart == 2
    await apply(hub_db, "W3", [ev(4, "loyalty.erased", {"phone": PHONE, "at": AT})])
    c = await customer(hub_db)
    assert c.phone == PHONE and c.erased_at is None  # a look-up is not enough to erase
    assert await sent_to(hub_db, "S1", "loyalty.erase") == []


async def test_a_store_cannot_spend_points_of_a_customer_it_never_asked_for(hub_db, caplog):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 500)])
    caplog.set_level(logging.WARNING)
    await apply(hub_db, "W3", [move(1, "E9", "redeemed", -500)])
    c = await customer(hub_db)
    assert c.balance == 500  # untouched
    async with hub_db.read() as s:
        apart = await s.get(HubLoyaltyEntry, "E9")
    assert apart.customer_id is None and apart.store_id == "W3"
    assert await sent_to(hub_db, "W3", "loyalty.balance") == []
    assert "kept apart" in caplog.text


async def test_erasure_reaches_the_stores_that_heard_and_keeps_the_ledger(hub_db):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 80)])
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    async with hub_db.write() as s:  # S1 applied what it was sent; D2 not yet
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(down_acked=100))
    await apply(hub_db, "S1", [ev(3, "loyalty.erased", {"phone": PHONE, "at": AT})])
    async with hub_db.read() as s:
        kept = [r.data for r in await s.scalars(select(StoreEventRow).where(
            StoreEventRow.kind.in_(loyalty.KINDS), StoreEventRow.kind != "loyalty.erased"))]
        sent = {r.store_id: r.data for r in await s.scalars(select(HubOutbox).where(
            HubOutbox.kind == "loyalty.balance"))}
    assert kept and all(PHONE not in d and "98xxxxxx10" in d for d in kept)
    assert PHONE not in sent["S1"] and PHONE in sent["D2"]  # D2 still needs it to apply
    c = await customer(hub_db)
    assert (c.phone, c.card, c.consent_at) == (None, None, None) and c.erased_at is not None
    assert await erased_numbers(hub_db, "D2") == [PHONE]
    assert await sent_to(hub_db, "S1", "loyalty.erase") == []  # it erased them itself
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyWatch)) == 0
        [entry] = list(await s.scalars(select(HubLoyaltyEntry)))
    assert entry.customer_id == c.id  # the books keep the movement, on no one's number
    # A store that had not heard yet sends points for the number: kept apart, and told.
    await apply(hub_db, "D2", [move(2, "E5", "earned", 10)])
    assert await erased_numbers(hub_db, "D2") == [PHONE] * 2
    assert (await customer(hub_db)).balance == 80


async def test_an_erasure_after_a_movement_in_one_frame_follows_its_balance(hub_db):
    """#21 review 4: a frame with a movement and then the erasure queues the movement's
    balance (full number, consent) to the erasing store; the erasure goes after it, so the
    store does not keep the customer it just erased."""
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 80)])
    async with hub_db.write() as s:  # S1 applied everything sent so far
        top = await s.scalar(select(func.max(HubOutbox.seq)).where(HubOutbox.store_id == "S1"))
        await s.execute(update(HubStore).where(HubStore.id == "S1").values(down_acked=top))
    await apply(hub_db, "S1", [move(3, "E2", "earned", 5),
                               ev(4, "loyalty.erased", {"phone": PHONE, "at": AT})])
    async with hub_db.read() as s:
        queued = [(r.kind, r.seq) for r in await s.scalars(select(HubOutbox).where(
            HubOutbox.store_id == "S1", HubOutbox.seq > top).order_by(HubOutbox.seq))]
    assert [k for k, _ in queued] == ["loyalty.balance", "loyalty.erase"]
    assert await erased_numbers(hub_db, "S1") == [PHONE]


@pytest.mark.parametrize("data", [
    {"points": 1.5}, {"points": 2**63}, {"points": "NaN"}, {"points": True}, {"points": -5},
    {"points": 0}, {"phone": "98123\x0045610"}, {"phone": "9" * 100_000},
    {"reference": "x" * 100_000}, {"entry_id": "e\x00"}, {"kind": "redeemed"},
    {"at": "not a time"}, {"at": "2026-11-27T11:30:00"},
])
async def test_hostile_movement_data_fails_the_frame_and_books_nothing(hub_db, data):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1)])
    good = {"entry_id": "E1", "phone": PHONE, "kind": "earned", "points": 10,
            "reference": "S1-000001", "at": AT}
    with pytest.raises(ValueError):
        await apply(hub_db, "S1", [ev(2, "loyalty.earned", {**good, **data})])
    assert (await customer(hub_db)).balance == 0
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyEntry)) == 0


async def test_hq_sees_the_chain_the_write_offs_and_a_customer_masked(hub_client, hub_db):
    from tests.hub.conftest import sign_in

    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 150)])
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    await apply(hub_db, "S1", [move(3, "E2", "redeemed", -150)])
    await apply(hub_db, "D2", [move(2, "E3", "redeemed", -150)])
    await sign_in(hub_client, "Omar")  # a manager
    page = await hub_client.get("/hub/loyalty")
    assert page.status_code == 200 and "150 points written off" in page.text
    assert "<td>D2</td>" in page.text
    found = await hub_client.get("/hub/loyalty", params={"q": PHONE})
    assert "98xxxxxx10" in found.text and PHONE not in found.text
    assert "joined at S1" in found.text
    for hostile in ("98123\x0045610", "x" * 5000, "inf", str(2**63)):
        r = await hub_client.get("/hub/loyalty", params={"q": hostile})
        assert r.status_code in (200, 400) and 'data-testid="loyalty-customer"' not in r.text
