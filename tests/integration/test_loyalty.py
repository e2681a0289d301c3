# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""Loyalty points at the store (issue #21) on real SQLite files with the demo catalogue:
joining with consent, points earned on a sale and spent as a tender on the next within
the rules (balance, cap, offline allowance), the receipt as printed (masked number),
refunds that take back earned points and return redeemed ones, the shift's cash, the
hub's balance and erasure applied, erasing a customer on request, and hostile input."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import func, select, update

from app.config import LoyaltySection
from app.core.clock import utcnow
from app.core.loyalty import LoyaltyError
from app.loyalty import service as loyalty
from app.loyalty.models import Customer, LoyaltyEntry
from app.pos import cart, payment, shifts
from app.pos.models import Cart, Sale
from app.pos.till_rules import PosError
from app.printing.models import PrintJob
from app.promotions.models import CouponUse
from app.sync.models import OutboxEvent, SyncState
from app.sync.protocol import Event
from app.sync.store_apply import BadHubEvent, apply_hub_event
from tests.integration.test_gst_documents import paper_text
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    LOTION,
    barcode,
    cashier,
    catalog,
    events,
    manager,
    new_cart,
    new_key,
    one,
    parsed,
    pay_cash,
    refund_line,
    rows,
    scan,
    users,
)

PHONE = "9812345610"


@pytest.fixture
def lcfg(cfg):
    """The store with loyalty on: 10 points per ₹100, a point pays ₹1, at most half a
    bill, from a balance of 50, 200 points offline."""
    return msgspec.structs.replace(cfg, loyalty=LoyaltySection(
        enabled=True, points_per_100_rupees=10, point_value_paise=100, redeem_cap_percent=50,
        min_balance_points=50, offline_allowance_points=200))


async def joined(db, lcfg, user, phone=PHONE, card="") -> Customer:
    return await loyalty.join(db, lcfg, phone=phone, card=card, name="Asha", consent=True,
                              user=user)


async def lotions(db, cfg, user, n: int, phone: str = PHONE):
    view = await new_cart(db, cfg, "C1", user, *[barcode(_CATALOG[0], LOTION)] * n)
    if phone:
        view = await cart.set_customer_phone(db, cfg, "C1", view.cart.id, phone)
    return view


_CATALOG: list = []


@pytest.fixture(autouse=True)
def _keep_catalog(catalog):
    _CATALOG[:] = [catalog]


async def sell(db, cfg, user, n: int, points: int = 0, phone: str = PHONE):
    view = await lotions(db, cfg, user, n, phone)
    if points:
        await payment.add_tender(db, cfg, "C1", view.cart.id, "points", points * 100)
    await pay_cash(db, cfg, "C1", view.cart.id)
    return await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), user)


async def printed(db, sale_id: str) -> str:
    """The sale's receipt as the printer gets it (the job queued with the sale), decoded."""
    [job] = await rows(db, select(PrintJob).where(PrintJob.ref == sale_id,
                                                  PrintJob.document == "receipt"))
    return paper_text(job.layout)


def _row(text: str, label: str) -> str:
    line = next(x.strip() for x in text.splitlines() if x.strip().startswith(label))
    return line.removeprefix(label).strip()


async def standing(db, phone=PHONE) -> loyalty.Standing:
    found = await loyalty.standing_for_phone(db, phone)
    assert found is not None
    return found


async def hub_says(db, lcfg, balance: int, *, phone=PHONE, seq: int | None = None,
                   at_seq: int = 1) -> None:
    """The hub's `loyalty.balance`, as the sync client applies it."""
    async with db.write() as s:
        if seq is None:
            seq = int(await s.scalar(select(func.max(OutboxEvent.seq))) or 0)
        await apply_hub_event(s, lcfg, Event(seq=at_seq, id=f"h{at_seq}", kind="loyalty.balance",
                                             at=utcnow().isoformat(), data={
            "phone": phone, "card": None, "consent_at": "2026-11-01T10:00:00+05:30",
            "balance": balance, "seq": seq}))


async def test_join_needs_consent_and_keeps_only_what_is_needed(db, lcfg, cashier):
    with pytest.raises(LoyaltyError, match="agree"):
        await loyalty.join(db, lcfg, phone=PHONE, card="", name="", consent=False, user=cashier)
    assert await one(db, select(func.count()).select_from(Customer)) == 0
    customer = await joined(db, lcfg, cashier, card="kc-000123")
    assert (customer.phone, customer.card, customer.name) == (PHONE, "KC-000123", "Asha")
    assert customer.consent_at is not None
    [event] = await events(db, "loyalty.joined")
    assert event == {"phone": PHONE, "card": "KC-000123",
                     "consent_at": customer.consent_at.isoformat()}  # no name leaves
    with pytest.raises(LoyaltyError, match="already joined"):
        await joined(db, lcfg, cashier)
    with pytest.raises(LoyaltyError, match="another customer"):
        await joined(db, lcfg, cashier, phone="9876543210", card="KC-000123")


@pytest.mark.parametrize("field,value", [
    ("phone", "98123\x0045610"), ("phone", "inf"), ("phone", "9" * 100_000),
    ("phone", str(2**63)), ("card", "KC\x00123456"), ("card", "x" * 100_000),
    ("name", "A" * 100_000), ("name", "Asha\x00"),
])
async def test_hostile_join_is_refused_and_changes_nothing(db, lcfg, cashier, field, value):
    form = {"phone": PHONE, "card": "", "name": "", field: value}
    with pytest.raises(LoyaltyError):
        await loyalty.join(db, lcfg, consent=True, user=cashier, **form)
    assert await one(db, select(func.count()).select_from(Customer)) == 0
    assert await events(db, "loyalty.joined") == []


async def test_points_earned_then_spent_within_the_rules_and_printed(db, lcfg, cashier):
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    first = await sell(db, lcfg, cashier, 5)  # ₹975: 97 points
    assert first.total_minor == 97_500
    st = await standing(db)
    assert (st.hub_balance, st.pending, st.balance, st.confirmed) == (0, 97, 97, False)
    [earned] = await events(db, "loyalty.earned")
    assert (earned["phone"], earned["kind"], earned["points"], earned["reference"]) == (
        PHONE, "earned", 97, first.number)
    text = await printed(db, first.id)
    assert "Loyalty 98xxxxxx10" in text and PHONE not in text
    assert _row(text, "Points earned") == "97" and _row(text, "Points balance") == "97"

    # The second bill (₹390) may take 97 points (the balance; the cap is ₹195).
    view = await lotions(db, lcfg, cashier, 2)
    with pytest.raises(PosError, match="at most 97 points"):
        await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 9_800)
    with pytest.raises(PosError, match="whole points"):
        await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 9_750)
    await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 9_700)
    await pay_cash(db, lcfg, "C1", view.cart.id)
    second = await payment.complete_sale(db, lcfg, "C1", view.cart.id, new_key(), cashier)
    assert {t.kind: t.amount_minor for t in second.tenders} == {"points": 9_700,
                                                                "cash": 29_300}
    text = await printed(db, second.id)
    assert (_row(text, "Points used"), _row(text, "Points earned"),
            _row(text, "Points balance")) == ("97", "29", "29")
    shown = await loyalty.points_of_sale(db, second.id)
    assert shown == {"earned": 29, "redeemed": 97, "balance": 29, "phone": "98xxxxxx10"}
    [redeemed] = await events(db, "loyalty.redeemed")
    assert (redeemed["kind"], redeemed["points"]) == ("redeemed", -97)
    # GST is on the price after discounts, whoever pays: points change no tax
    assert second.tax_minor == sum(x.tax_minor for x in second.lines) > 0


async def test_the_hubs_balance_confirms_and_offline_the_allowance_bounds(db, lcfg, cashier):
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await hub_says(db, lcfg, 1000)
    st = await standing(db)
    assert (st.balance, st.pending, st.confirmed) == (1000, 0, True)
    view = await lotions(db, lcfg, cashier, 20)  # ₹3,900: the cap is 1,950 points
    offer = await loyalty.till_offer(db, lcfg, PHONE, bill_total_minor=view.totals.total,
                                     on_bill_minor=0, remaining_minor=view.totals.total)
    assert offer is not None and offer.limit is not None and offer.limit.points == 1000
    # An hour later without word from the hub: at most the offline allowance.
    async with db.write() as s:
        await s.execute(update(Customer).values(hub_at=utcnow() - timedelta(hours=1)))
    with pytest.raises(PosError, match="offline, at most 200"):
        await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 20_100)
    await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 20_000)
    # An older balance arriving late changes nothing (seq only moves forward).
    await hub_says(db, lcfg, 5, seq=0, at_seq=2)
    assert (await standing(db)).hub_balance == 1000
    # The pay panel opening with an unconfirmed balance asks the hub (once a while).
    assert await events(db, "loyalty.lookup") == []
    for _ in range(2):
        await loyalty.till_offer(db, lcfg, PHONE, bill_total_minor=view.totals.total,
                                 on_bill_minor=20_000, remaining_minor=0)
    assert await events(db, "loyalty.lookup") == [{"phone": PHONE, "card": None}]


async def test_another_counter_spent_the_points_first(db, lcfg, cashier, manager):
    """Both tills took the customer's 97 points as a tender; the first to complete
    books them; the second is refused in its own transaction and changes nothing."""
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await shifts.open_shift(db, lcfg, "C2", manager, 0)
    await sell(db, lcfg, cashier, 5)
    a = await lotions(db, lcfg, cashier, 2)
    await payment.add_tender(db, lcfg, "C1", a.cart.id, "points", 9_700)
    await pay_cash(db, lcfg, "C1", a.cart.id)
    b = await cart.current_cart(db, lcfg, "C2", manager)
    for _ in range(2):
        b = await scan(db, lcfg, "C2", manager, b.cart.id, barcode(_CATALOG[0], LOTION))
    b = await cart.set_customer_phone(db, lcfg, "C2", b.cart.id, PHONE)
    await payment.add_tender(db, lcfg, "C2", b.cart.id, "points", 9_700)
    await pay_cash(db, lcfg, "C2", b.cart.id)
    await payment.complete_sale(db, lcfg, "C1", a.cart.id, new_key(), cashier)
    with pytest.raises(PosError, match="remove the points payment"):
        await payment.complete_sale(db, lcfg, "C2", b.cart.id, new_key(), manager)
    assert len(await events(db, "loyalty.redeemed")) == 1


async def test_refunds_take_back_earned_points_and_return_redeemed_ones(db, lcfg, cashier,
                                                                        manager):
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await sell(db, lcfg, cashier, 5)  # 97 points
    sale = await sell(db, lcfg, cashier, 2, points=97)  # ₹390: 97 points + ₹293 cash
    line = sale.lines[0]
    half = await refund_line(db, lcfg, sale.id, line.id, 1, "resaleable", manager)
    # half the bill: 14 of 29 earned back, 48 of 97 points returned; the points tender's
    # half of what it paid (₹48.50) is not money: ₹146.50 cash, half the ₹293 paid
    assert (half.total_minor, half.points_minor) == (19_500, 4_850)
    [job] = await rows(db, select(PrintJob).where(PrintJob.ref == half.id))
    slip = paper_text(job.layout)
    assert _row(slip, "Cash") == "Rs.146.50" and _row(slip, "Loyalty points") == "Rs.48.50"
    rest = await refund_line(db, lcfg, sale.id, line.id, 1, "resaleable", manager)
    assert (rest.total_minor, rest.points_minor) == (19_500, 4_850)
    moved = await rows(db, select(LoyaltyEntry).where(LoyaltyEntry.sale_id == sale.id))
    by_kind: dict[str, int] = {}
    for e in moved:
        by_kind[e.kind] = by_kind.get(e.kind, 0) + e.points
    assert by_kind == {"redeemed": -97, "earned": 29, "earned_back": -29, "points_back": 97}
    assert (await standing(db)).balance == 97  # as before the second sale
    reversed_ = await events(db, "loyalty.reversed")
    assert len(reversed_) == 4 and {e["sale"] for e in reversed_} == {sale.number}
    shift = await shifts.current_shift(db, "C1")
    assert shift is not None
    report = await shifts.shift_report(db, shift.id, lcfg)
    # the drawer gave back only the money part; the points went back as points
    assert report.refunds_by_tender == {"cash": 39_000 - 9_700, "points": 9_700}
    assert report.by_tender["points"] == 9_700


async def test_a_balance_is_confirmed_by_when_the_hub_booked_it(db, lcfg, cashier):
    """#21 review 9: a balance that arrives long after the hub sent it is not fresh."""
    await joined(db, lcfg, cashier)
    async with db.write() as s:
        seq = int(await s.scalar(select(func.max(OutboxEvent.seq))) or 0)
        await apply_hub_event(s, lcfg, Event(seq=1, id="h1", kind="loyalty.balance",
                                             at=utcnow().isoformat(), data={
            "phone": PHONE, "card": None, "consent_at": "2026-11-01T10:00:00+05:30",
            "balance": 300, "seq": seq,
            "at": (utcnow() - timedelta(seconds=600)).isoformat()}))
    st = await standing(db)
    assert st.balance == 300 and not st.confirmed
    await hub_says(db, lcfg, 300, at_seq=2)  # no `at` (an older hub): as it arrives
    assert (await standing(db)).confirmed
    async with db.write() as s:
        with pytest.raises(BadHubEvent):
            await apply_hub_event(s, lcfg, Event(seq=3, id="h3", kind="loyalty.balance",
                                                 at=utcnow().isoformat(), data={
                "phone": PHONE, "card": None, "consent_at": "2026-11-01T10:00:00+05:30",
                "balance": 1, "seq": seq, "at": "yesterday"}))


async def test_an_erased_customers_refund_pays_only_the_money_part(db, lcfg, cashier, manager):
    """#21 review 1: the points share of an erased customer's bill is forfeited (there
    is no account to return it to), never paid out in cash; the slip says so."""
    customer = await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    await sell(db, lcfg, cashier, 5)  # 97 points
    sale = await sell(db, lcfg, cashier, 2, points=97)  # ₹390: 97 points + ₹293 cash
    assert await loyalty.erase(db, lcfg, customer.id, manager)
    refund = await refund_line(db, lcfg, sale.id, sale.lines[0].id, 2, "resaleable", manager)
    assert (refund.total_minor, refund.points_minor) == (39_000, 9_700)  # ₹293 in cash
    [job] = await rows(db, select(PrintJob).where(PrintJob.ref == refund.id))
    slip = paper_text(job.layout)
    assert _row(slip, "Cash") == "Rs.293.00"
    assert _row(slip, "Points part, forfeited (erased)") == "Rs.97.00"
    assert await events(db, "loyalty.reversed") == []


async def test_a_refund_of_points_already_spent_keeps_their_value_back(db, lcfg, cashier,
                                                                       manager):
    """#21 review 2: points earned on a bill and spent since cannot be taken back; the
    refund keeps their value back from the money (printed on the slip), and nothing is
    sent to the hub to write off."""
    await joined(db, lcfg, cashier)
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    first = await sell(db, lcfg, cashier, 5)  # ₹975, 97 points
    await sell(db, lcfg, cashier, 2, points=97)  # spent them all (earns 29 on ₹293)
    assert (await standing(db)).balance == 29
    refund = await refund_line(db, lcfg, first.id, first.lines[0].id, 5, "resaleable", manager)
    # 29 points left are taken back; the 68 spent cost ₹68 from the ₹975
    assert (refund.total_minor, refund.points_minor) == (97_500, 6_800)
    assert (await standing(db)).balance == 0
    [job] = await rows(db, select(PrintJob).where(PrintJob.ref == refund.id))
    slip = paper_text(job.layout)
    assert _row(slip, "Cash") == "Rs.907.00"
    assert _row(slip, "Points already spent (68)") == "Rs.68.00"
    assert [e["points"] for e in await events(db, "loyalty.reversed")] == [-29]
    kinds = {e.kind: e.points for e in await rows(db, select(LoyaltyEntry).where(
        LoyaltyEntry.sale_id == first.id))}
    assert kinds == {"earned": 97, "earned_back": -29, "paid_back": -68}


async def test_erasing_a_customer_blanks_them_keeps_the_ledger_and_tells_the_hub(
        db, lcfg, cashier, manager):
    customer = await joined(db, lcfg, cashier, card="KC-000999")
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    sale = await sell(db, lcfg, cashier, 5)
    async with db.write() as s:  # a coupon use the till kept for the bill (coupons.py)
        s.add(CouponUse(code="DIWALI", sale_id=sale.id, customer_phone=PHONE,
                        at=utcnow()))
    acked = int(await one(db, select(func.max(OutboxEvent.seq)).where(
        OutboxEvent.kind == "loyalty.joined")))
    async with db.write() as s:  # the hub acknowledged the join, not yet the sale's points
        await s.execute(update(SyncState).where(SyncState.id == 1).values(acked_up=acked))
    assert await loyalty.erase(db, lcfg, customer.id, manager)
    assert not await loyalty.erase(db, lcfg, customer.id, manager)  # once
    async with db.read() as s:
        row = await s.get(Customer, customer.id)
        assert (row.phone, row.card, row.name, row.consent_at) == (None, None, "", None)
        assert row.erased_at is not None
    assert len(await rows(db, select(LoyaltyEntry))) == 1  # the books keep the movement
    assert await events(db, "loyalty.erased") == [{"phone": PHONE,
                                                  "at": row.erased_at.isoformat()}]
    # the outbox's acknowledged copy is scrubbed; the unsent one keeps what the hub needs
    assert (await events(db, "loyalty.joined"))[0]["phone"] == "98xxxxxx10"
    assert (await events(db, "loyalty.earned"))[0]["phone"] == PHONE
    assert await loyalty.customer_page(db, customer.id) is None
    # the till's own copies of the number (the bill, its cart) are erased with them
    assert await rows(db, select(Sale.customer_phone).where(Sale.id == sale.id)) == [""]
    assert await one(db, select(func.count()).select_from(Cart).where(
        Cart.customer_phone == PHONE)) == 0
    assert await one(db, select(func.count()).select_from(CouponUse).where(
        CouponUse.customer_phone == PHONE)) == 0
    assert await rows(db, select(CouponUse.customer_phone)) == [""]
    assert await loyalty.points_of_sale(db, sale.id) is None
    # A refund of their bill afterwards: no account to move points on, all in money.
    refund = await refund_line(db, lcfg, sale.id, sale.lines[0].id, 5, "resaleable", manager)
    assert refund.points_minor == 0 and await events(db, "loyalty.reversed") == []
    # The number can join again, from nothing.
    again = await joined(db, lcfg, cashier)
    assert again.id != customer.id and (await standing(db)).balance == 0


async def test_the_hubs_erase_and_bad_hub_events(db, lcfg, cashier):
    await joined(db, lcfg, cashier)
    async with db.write() as s:
        for data in ({"phone": "98123\x0045610", "balance": 1, "seq": 0,
                      "consent_at": "2026-11-01T10:00:00+05:30"},
                     {"phone": PHONE, "balance": -1, "seq": 0,
                      "consent_at": "2026-11-01T10:00:00+05:30"},
                     {"phone": PHONE, "balance": 2**63, "seq": 0,
                      "consent_at": "2026-11-01T10:00:00+05:30"},
                     {"phone": PHONE, "balance": 1.5, "seq": 0,
                      "consent_at": "2026-11-01T10:00:00+05:30"},
                     {"phone": PHONE, "balance": 1, "seq": 0, "consent_at": "x" * 100_000}):
            with pytest.raises(BadHubEvent):
                await apply_hub_event(s, lcfg, Event(seq=1, id="h1", kind="loyalty.balance",
                                                     at="2026-11-27T06:00:00+00:00", data=data))
    assert (await standing(db)).hub_balance == 0
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=2, id="h2", kind="loyalty.erase",
                                             at="2026-11-27T06:00:00+00:00",
                                             data={"phone": PHONE}))
    assert await loyalty.standing_for_phone(db, PHONE) is None


async def test_a_customer_who_joined_elsewhere_is_known_once_the_hub_answers(db, lcfg,
                                                                             cashier):
    assert await loyalty.look_up(db, lcfg, "KC-777777") is None
    assert await events(db, "loyalty.lookup") == [{"phone": None, "card": "KC-777777"}]
    async with db.write() as s:
        await apply_hub_event(s, lcfg, Event(seq=1, id="h1", kind="loyalty.balance",
                                             at="2026-11-27T06:00:00+00:00", data={
            "phone": "9876543210", "card": "KC-777777", "balance": 300, "seq": 0,
            "consent_at": "2026-11-01T10:00:00+05:30"}))
    assert await loyalty.phone_for(db, lcfg, "kc-777777") == "9876543210"
    found = await loyalty.look_up(db, lcfg, "9876543210")
    assert found is not None and found.balance == 300 and found.masked == "98xxxxxx10"


async def test_points_need_loyalty_on_and_a_joined_customer(db, cfg, lcfg, cashier):
    await shifts.open_shift(db, lcfg, "C1", cashier, 0)
    view = await lotions(db, lcfg, cashier, 1)
    with pytest.raises(PosError, match="has not joined"):
        await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", 100)
    with pytest.raises(PosError, match="off at this store"):
        await payment.add_tender(db, cfg, "C1", view.cart.id, "points", 100)
    with pytest.raises(PosError, match="how many points"):
        await payment.add_tender(db, lcfg, "C1", view.cart.id, "points", None)
    # a sale with a number that never joined earns nothing and sends nothing
    await pay_cash(db, lcfg, "C1", view.cart.id)
    await payment.complete_sale(db, lcfg, "C1", view.cart.id, new_key(), cashier)
    assert await events(db, "loyalty.earned") == []
