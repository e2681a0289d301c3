# ruff: noqa: F811  (pytest fixtures imported from test_pos_service / test_loyalty)
"""An erased number's tombstone at the store and who took the points (issue #21) on
real SQLite: a balance booked before the erasure that arrives after it (late, or the
hub replaying it) does not make the customer known again; a re-join with a consent
given since does; the tombstone keeps a keyed hash, never the number; the points
ledger names the cashier who took a points tender, sent to the hub and shown on the
customer's page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.core.clock import utcnow
from app.core.loyalty import tombstone_key
from app.loyalty import service as loyalty
from app.loyalty.models import Customer, LoyaltyEntry, Tombstone
from app.pos import shifts
from app.sync.protocol import Event
from app.sync.store_apply import BadHubEvent, apply_hub_event
from tests.integration.test_loyalty import (  # noqa: F401  (fixtures)
    PHONE,
    _keep_catalog,
    joined,
    lcfg,
    sell,
    standing,
)
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    cashier,
    catalog,
    events,
    manager,
    parsed,
    rows,
    users,
)

OLD_CONSENT = "2026-11-01T10:00:00+05:30"
_SEQ = [100]


async def balance(db, lcfg, points: int, *, at: datetime | None, consent: str = OLD_CONSENT,
                  phone: str = PHONE, seq: int = 0) -> None:
    """The hub's `loyalty.balance` as the sync client applies it (`at`: when the hub
    booked it; None: an event that does not say)."""
    _SEQ[0] += 1
    data = {"phone": phone, "card": None, "consent_at": consent, "balance": points,
            "seq": seq}
    if at is not None:
        data["at"] = at.isoformat()
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=_SEQ[0], id=f"h{_SEQ[0]}",
                                             kind="loyalty.balance", at=utcnow().isoformat(),
                                             data=data))


async def known(db) -> bool:
    return await loyalty.standing_for_phone(db, PHONE) is not None


async def test_a_late_balance_after_the_erasure_does_not_bring_the_customer_back(
        db, lcfg, cashier, manager):
    customer = await joined(db, lcfg, cashier)
    before = utcnow()
    await balance(db, lcfg, 120, at=before)
    assert (await standing(db)).hub_balance == 120
    assert await loyalty.erase(db, lcfg, customer.id, manager)
    # The balance the hub booked before the erasure, reaching the store after it (the
    # store was offline; or the hub sends it again): ignored.
    await balance(db, lcfg, 120, at=before)
    await balance(db, lcfg, 120, at=before)  # replayed
    await balance(db, lcfg, 120, at=None)  # an event that does not say when: not trusted
    assert not await known(db)
    # Booked after the erasure but on the old consent (the hub had not heard of it, or
    # ignored it): still not known here; the customer joins again to be served.
    await balance(db, lcfg, 120, at=utcnow() + timedelta(seconds=5))
    assert not await known(db)
    async with db.read() as s:
        phones = list(await s.scalars(select(Customer.phone)))
        [stone] = list(await s.scalars(select(Tombstone)))
        dump = "\n".join(str(r) for r in (await s.execute(
            text("SELECT * FROM loyalty_tombstones"))).all())
    assert phones == [None]
    assert stone.key == tombstone_key(loyalty.tomb_secret(lcfg), PHONE) and len(stone.key) == 64
    assert PHONE not in dump and "98xxxxxx10" not in dump  # DPDP: no number, even masked
    # Re-joining later anywhere in the chain, with a fresh consent: known again.
    fresh = (utcnow() + timedelta(seconds=1)).isoformat()
    await balance(db, lcfg, 0, at=utcnow() + timedelta(seconds=2), consent=fresh)
    assert await known(db) and (await standing(db)).balance == 0


async def test_the_hubs_erase_leaves_a_tombstone_and_a_rejoin_here_is_allowed(
        db, lcfg, cashier):
    await joined(db, lcfg, cashier)
    before = utcnow()
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=1, id="e1", kind="loyalty.erase",
                                             at=utcnow().isoformat(), data={"phone": PHONE}))
    assert not await known(db)
    await balance(db, lcfg, 300, at=before)
    assert not await known(db)
    # The customer joins again here (a fresh consent): a stale balance from before the
    # erasure cannot give them the old points; one booked since applies.
    again = await joined(db, lcfg, cashier)
    await balance(db, lcfg, 300, at=before, seq=1)
    assert (await standing(db)).hub_balance == 0
    await balance(db, lcfg, 40, at=utcnow(), seq=1)
    assert (await standing(db)).hub_balance == 40
    assert (await standing(db)).customer.id == again.id
    # An erase for a number never known here still leaves its tombstone.
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=2, id="e2", kind="loyalty.erase",
                                             at=utcnow().isoformat(),
                                             data={"phone": "9876543210"}))
    await balance(db, lcfg, 5, at=before, phone="9876543210")
    assert await loyalty.standing_for_phone(db, "9876543210") is None
    assert len(await rows(db, select(Tombstone))) == 2


async def test_a_store_offline_during_the_erasure_keeps_a_rejoin_made_elsewhere_since(
        db, lcfg, cashier):
    """Erased at S2 at 10:00; re-joined at S3 at 11:00; this store, offline all along,
    hears the erasure at 12:00. Its tombstone takes the hub's erasure time (`at`), so the
    11:00 consent stands here too (with its own time it would be ignored for good)."""
    await joined(db, lcfg, cashier)
    now = utcnow()
    erased, rejoined = now - timedelta(hours=2), now - timedelta(hours=1)
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(
            seq=1, id="e1", kind="loyalty.erase", at=now.isoformat(),
            data={"phone": PHONE, "at": erased.isoformat()}))
    assert not await known(db)
    await balance(db, lcfg, 0, at=rejoined + timedelta(seconds=1),
                  consent=rejoined.isoformat())
    assert await known(db)
    async with db.read() as s:
        [stone] = list(await s.scalars(select(Tombstone)))
    assert abs((stone.erased_at - erased).total_seconds()) < 1


@pytest.mark.parametrize("sent", ["yesterday", "2026-11-01T10:00:00", 12345,
                                  "9999-12-31T00:00:00+00:00", "x" * 5000, None])
async def test_an_erase_with_an_unreadable_or_future_time_is_erased_as_of_now(
        db, lcfg, cashier, sent):
    await joined(db, lcfg, cashier)
    before = utcnow()
    data = {"phone": PHONE, **({"at": sent} if sent is not None else {})}
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=1, id="e1", kind="loyalty.erase",
                                             at=before.isoformat(), data=data))
    async with db.read() as s:
        [stone] = list(await s.scalars(select(Tombstone)))
    assert before <= stone.erased_at <= utcnow()
    await balance(db, lcfg, 5, at=before)  # booked before the erasure: ignored
    assert not await known(db)


async def test_a_naive_consent_time_is_refused(db, lcfg, cashier):
    with pytest.raises(BadHubEvent, match="offset"):
        await balance(db, lcfg, 1, at=utcnow(), consent="2026-11-01T10:00:00")


async def test_the_cashier_who_took_the_points_is_on_the_ledger_and_the_page(
        db, lcfg, cashier, manager, login_as):
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await sell(db, lcfg, cashier, 5)  # 97 points
    second = await sell(db, lcfg, cashier, 2, points=60)
    got = {e.kind: e.cashier_id for e in await rows(db, select(LoyaltyEntry).where(
        LoyaltyEntry.sale_id == second.id))}
    assert got == {"redeemed": cashier.id, "earned": None}
    [redeemed] = await events(db, "loyalty.redeemed")
    assert redeemed["cashier"] == cashier.id
    assert all("cashier" not in e for e in await events(db, "loyalty.earned"))
    client = await login_as("manager")
    customer = (await standing(db)).customer
    page = (await client.get(f"/loyalty/customers/{customer.id}")).text
    assert json.dumps(cashier.name)[1:-1] in page  # "Asha" took the points
    assert page.count('data-testid="history-cashier">Asha<') == 1
