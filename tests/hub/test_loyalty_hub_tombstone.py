"""The hub's tombstones and the cashier on a points movement (issue #21, migration h024),
on SQLite and PostgreSQL: a number erased at the hub is kept only as a keyed hash and a
time; a join arriving late with a consent given before the erasure (a store that signed
the customer up offline) does not bring them back, however often it is replayed, and
that store is told to erase them; a re-join with a consent given since is welcome, from
zero; late movements for the number stay anonymous. `loyalty.redeemed`'s optional
`cashier` is kept (a plain id only) and shown on /hub/loyalty ("Taken by")."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core.clock import utcnow
from app.hub import loyalty
from app.hub.models import HubLoyaltyCustomer, HubLoyaltyEntry, HubLoyaltyTombstone, StoreEventRow
from tests.hub.test_hub_service import apply, ev
from tests.hub.test_loyalty_hub import AT, PHONE, erased_numbers, joined, move, stores
from tests.hub.test_routing import sent_to

CASHIER = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"


def join_at(seq: int, consent_at: str, id_: str | None = None) -> object:
    return ev(seq, "loyalty.joined", {"phone": PHONE, "card": None, "consent_at": consent_at},
              id_=id_)


def erased(seq: int) -> object:
    return ev(seq, "loyalty.erased", {"phone": PHONE, "at": AT})


async def live(hub_db) -> list[HubLoyaltyCustomer]:
    async with hub_db.read() as s:
        return list(await s.scalars(select(HubLoyaltyCustomer).where(
            HubLoyaltyCustomer.phone == PHONE)))


async def erase_at_s1(hub_db) -> None:
    """S1 signs the customer up (consent AT), books 80 points, then erases them."""
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 80), erased(3)])
    assert await live(hub_db) == []


async def test_the_tombstone_is_a_keyed_hash_and_a_time_never_the_number(hub_db):
    await erase_at_s1(hub_db)
    async with hub_db.read() as s:
        [tomb] = list(await s.scalars(select(HubLoyaltyTombstone)))
        gone = await s.scalar(select(HubLoyaltyCustomer.erased_at))
    assert len(tomb.key) == 64 and PHONE not in tomb.key and "45610" not in tomb.key
    # when S1 erased them (its event's `at`); the customer row, when the hub heard
    assert tomb.erased_at == datetime.fromisoformat(AT) and gone >= tomb.erased_at
    # keyed: the plain SHA-256 of the number (anyone can compute it) is not the key
    import hashlib

    assert tomb.key != hashlib.sha256(PHONE.encode()).hexdigest()


async def test_a_late_join_with_a_consent_from_before_the_erasure_is_ignored(hub_db, caplog):
    await erase_at_s1(hub_db)
    caplog.set_level(logging.WARNING, logger="kirana.hub")
    # D2 signed the customer up offline, before the erasure; its join arrives now.
    await apply(hub_db, "D2", [join_at(1, AT), move(2, "E7", "earned", 40)])
    assert await live(hub_db) == []  # not brought back
    assert await sent_to(hub_db, "D2", "loyalty.balance") == []
    assert await erased_numbers(hub_db, "D2") == [PHONE] * 2
    assert "consent given before the number was erased" in caplog.text
    assert PHONE not in caplog.text
    async with hub_db.read() as s:
        apart = await s.get(HubLoyaltyEntry, "E7")
    assert apart.customer_id is None and apart.points == 40  # the anonymous ledger
    # Replayed: the same frame (known event ids) and the same join and movement in new
    # events (a store restored from a backup): still no customer, the movement once.
    await apply(hub_db, "D2", [join_at(1, AT), move(2, "E7", "earned", 40)])
    await apply(hub_db, "D2", [join_at(3, AT, id_="again-1"),
                               move(4, "E7", "earned", 40, reference="S1-000001")])
    assert await live(hub_db) == []
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyEntry).where(
            HubLoyaltyEntry.id == "E7")) == 1
        copies = [r.data for r in await s.scalars(select(StoreEventRow).where(
            StoreEventRow.store_id == "D2"))]
        figures = await loyalty.figures(s)
    # the hub's copies of D2's late events keep the number masked only
    assert len(copies) == 4 and all(PHONE not in d and "98xxxxxx10" in d for d in copies)
    # no customer, and the erased account's books not moved by the late movement
    assert (figures.customers, figures.points_out, figures.kept_apart) == (0, 80, 1)
    # A consent equal to the erasure's time is not "after" it either.
    async with hub_db.read() as s:
        when = await s.scalar(select(HubLoyaltyTombstone.erased_at))
    await apply(hub_db, "W3", [join_at(1, when.isoformat())])
    assert await live(hub_db) == []


async def test_a_rejoin_with_a_consent_given_since_is_welcome_from_zero(hub_db):
    await erase_at_s1(hub_db)
    again = (utcnow() + timedelta(seconds=1)).isoformat()
    await apply(hub_db, "W3", [join_at(1, again)])
    [back] = await live(hub_db)
    assert (back.balance, back.written_off, back.joined_store) == (0, 0, "W3")
    [told] = await sent_to(hub_db, "W3", "loyalty.balance")
    assert (told["phone"], told["balance"]) == (PHONE, 0)
    assert await sent_to(hub_db, "W3", "loyalty.erase") == []
    await apply(hub_db, "W3", [join_at(2, again, id_="W3-rejoin-again"),
                               move(3, "E20", "earned", 15)])  # a replayed join: one customer
    [back] = await live(hub_db)
    assert back.balance == 15
    # Erased again later: the tombstone moves to the later erasure (one row).
    async with hub_db.read() as s:
        first = await s.scalar(select(HubLoyaltyTombstone.erased_at))
    await apply(hub_db, "W3", [erased(4)])
    async with hub_db.read() as s:
        tombs = list(await s.scalars(select(HubLoyaltyTombstone)))
    assert len(tombs) == 1 and tombs[0].erased_at >= first
    assert await live(hub_db) == []


async def test_a_hub_without_its_secret_file_erases_nothing(hub_db):
    """The tombstone's key is not in the database: a hub opened without the install's
    secret file fails the frame (the store resends it) instead of erasing half-way."""
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1)])
    pepper, hub_db.pepper = hub_db.pepper, None
    try:
        with pytest.raises(RuntimeError, match="secret file"):
            await apply(hub_db, "S1", [erased(2)])
    finally:
        hub_db.pepper = pepper
    [still] = await live(hub_db)
    assert still.erased_at is None
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyTombstone)) == 0


async def test_the_cashier_who_took_points_is_kept_and_shown(hub_client, hub_db):
    from tests.hub.conftest import sign_in

    await stores(hub_db)
    redeemed = move(3, "E2", "redeemed", -50, reference="S1-000002")
    redeemed.data["cashier"] = CASHIER
    earned = move(4, "E3", "earned", 5, reference="S1-000002")
    earned.data["cashier"] = CASHIER  # only a points tender names who took it
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 100), redeemed, earned])
    async with hub_db.read() as s:
        rows = {e.id: e.cashier for e in await s.scalars(select(HubLoyaltyEntry))}
    assert rows == {"E1": None, "E2": CASHIER, "E3": None}
    await sign_in(hub_client, "Omar")  # a manager
    page = await hub_client.get("/hub/loyalty", params={"q": PHONE})
    assert page.status_code == 200 and "<th>Taken by</th>" in page.text
    assert f'<td data-testid="loyalty-cashier">{CASHIER}</td>' in page.text
    assert page.text.count('data-testid="loyalty-cashier"></td>') == 2


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "x" * 37, "a\x00b", "a\nb", "", " padded", "-starts",
    "../../etc/passwd", "98123 45610", "१२३", 123, 1.5, True, ["x"], {"id": "x"},
])
async def test_a_hostile_cashier_is_dropped_and_the_points_still_book(hub_db, hostile, caplog):
    await stores(hub_db)
    redeemed = move(3, "E2", "redeemed", -50)
    redeemed.data["cashier"] = hostile
    caplog.set_level(logging.WARNING, logger="kirana.hub")
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 100), redeemed])
    async with hub_db.read() as s:
        entry = await s.get(HubLoyaltyEntry, "E2")
        balance = await s.scalar(select(HubLoyaltyCustomer.balance))
    assert entry.cashier is None and balance == 50
    assert "named a cashier that is not a user id" in caplog.text
    if isinstance(hostile, str) and hostile:
        assert hostile not in caplog.text


async def test_hq_erases_a_customer_on_request_and_a_late_join_does_not_undo_it(
        hub_client, hub_db):
    from app.core.models import AuditLog
    from tests.conftest import csrf_of
    from tests.hub.conftest import sign_in

    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 80)])
    await apply(hub_db, "D2", [ev(1, "loyalty.lookup", {"phone": PHONE, "card": None})])
    [c] = await live(hub_db)
    # not signed in: nothing erased
    anon = await hub_client.post("/hub/loyalty/erase", data={
        "customer": c.id, "confirm": "erase", "_csrf_token": csrf_of(hub_client)})
    assert anon.status_code in (302, 303, 401, 403) and len(await live(hub_db)) == 1
    await sign_in(hub_client, "Omar")  # a manager
    page = await hub_client.get("/hub/loyalty", params={"q": PHONE})
    assert f'name="customer" value="{c.id}"' in page.text and PHONE not in page.text
    for word in ("", "yes", "erase it", "erase\x00"):
        no = await hub_client.post("/hub/loyalty/erase", data={
            "customer": c.id, "confirm": word, "_csrf_token": csrf_of(hub_client)})
        assert no.status_code == 400  # (a NUL is refused before the route)
        assert "\x00" in word or 'data-testid="loyalty-erase-error"' in no.text
    assert len(await live(hub_db)) == 1
    done = await hub_client.post("/hub/loyalty/erase", data={
        "customer": c.id, "confirm": " Erase ", "_csrf_token": csrf_of(hub_client)})
    assert done.status_code == 200 and "Erased 98xxxxxx10: 2 stores told" in done.text
    assert PHONE not in done.text and await live(hub_db) == []
    assert await erased_numbers(hub_db, "S1") == [PHONE]
    assert await erased_numbers(hub_db, "D2") == [PHONE]
    async with hub_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(HubLoyaltyTombstone)) == 1
        assert await s.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "loyalty.erase")) == 1
        copies = [r.data for r in await s.scalars(select(StoreEventRow))]
    assert all(PHONE not in d for d in copies)
    # again, or a made-up customer: nothing to erase
    for who in (c.id, "x" * 5000, "' OR 1=1 --"):
        again = await hub_client.post("/hub/loyalty/erase", data={
            "customer": who, "confirm": "erase", "_csrf_token": csrf_of(hub_client)})
        assert again.status_code == 404
    # S1's offline sign-up from before, arriving late, does not bring them back
    await apply(hub_db, "W3", [join_at(1, AT)])
    assert await live(hub_db) == []
    assert await erased_numbers(hub_db, "W3") == [PHONE]


async def test_the_tombstone_keeps_the_stores_erasure_time_so_its_rejoin_since_stands(hub_db):
    """S1, offline, erased the customer and signed them up again minutes later (they
    asked to come back); the hub hears both at once. The tombstone is the erasure's
    time at S1, so the re-join's consent is after it; D2's sign-up from before is not."""
    await stores(hub_db)
    now = utcnow()
    gone, back = now - timedelta(minutes=10), now - timedelta(minutes=5)
    await apply(hub_db, "S1", [joined(1), move(2, "E1", "earned", 80),
                               ev(3, "loyalty.erased", {"phone": PHONE, "at": gone.isoformat()}),
                               join_at(4, back.isoformat())])
    [again] = await live(hub_db)
    assert (again.balance, again.joined_store) == (0, "S1")
    async with hub_db.read() as s:
        assert await s.scalar(select(HubLoyaltyTombstone.erased_at)) == gone
    await apply(hub_db, "D2", [join_at(1, (gone - timedelta(minutes=1)).isoformat())])
    assert len(await live(hub_db)) == 1  # the re-joined one: D2 hears their balance
    # A store cannot put an erasure in the future: the time is at most the hub's now.
    await apply(hub_db, "S1", [ev(5, "loyalty.erased", {
        "phone": PHONE, "at": (now + timedelta(days=1)).isoformat()})])
    async with hub_db.read() as s:
        assert await s.scalar(select(HubLoyaltyTombstone.erased_at)) <= utcnow()
    await apply(hub_db, "W3", [join_at(1, (utcnow() + timedelta(seconds=1)).isoformat())])
    assert len(await live(hub_db)) == 1


@pytest.mark.parametrize("at", ["yesterday", "2026-11-27T11:30:00", 5, "x" * 1000])
async def test_an_erasure_with_a_malformed_time_fails_the_frame(hub_db, at):
    await stores(hub_db)
    await apply(hub_db, "S1", [joined(1)])
    with pytest.raises(ValueError):
        await apply(hub_db, "S1", [ev(2, "loyalty.erased", {"phone": PHONE, "at": at})])
    assert len(await live(hub_db)) == 1
