"""Cash out of the drawer needs a manager above the limits (issue #13 item 2, ASVS 4.0.3
V11.1.1/V11.1.2 business limits), and unusual totals show on the Z report.

The hostile stand-in is a cashier taking cash out again and again: twice under the
per-entry limit, once above it, then once more when the shift's total passes its limit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.pos import shifts
from app.pos.models import CashMovement
from app.pos.till_rules import NeedsApproval
from tests.integration.test_pos_service import cashier, catalog, manager, parsed, users  # noqa: F401


async def test_cash_out_above_the_limits_needs_a_manager(cfg, db, catalog, cashier, manager):  # noqa: F811
    assert (cfg.pos.cash_out_approval_above_rupees, cfg.pos.cash_out_shift_limit_rupees) == (
        1000, 2000)
    await shifts.open_shift(db, cfg, "C1", cashier, 500_000)
    await shifts.cash_movement(db, "C1", cashier, -90_000, "milk supplier", cfg=cfg)
    await shifts.cash_movement(db, "C1", cashier, -90_000, "bread supplier", cfg=cfg)
    with pytest.raises(NeedsApproval, match="above ₹1,000.00 needs a manager's PIN"):
        await shifts.cash_movement(db, "C1", cashier, -150_000, "rent", cfg=cfg)
    # Small amounts again and again: the shift's total without a manager is capped too.
    with pytest.raises(NeedsApproval, match="₹2,000.00 in this shift"):
        await shifts.cash_movement(db, "C1", cashier, -30_000, "tea", cfg=cfg)
    # Cash in is not limited; a manager's PIN lets the big one through, recorded as theirs.
    await shifts.cash_movement(db, "C1", cashier, 10_000, "change from the bank", cfg=cfg)
    await shifts.cash_movement(db, "C1", cashier, -150_000, "rent", manager, cfg=cfg)
    # A manager at the till needs nobody else.
    await shifts.cash_movement(db, "C1", manager, -5_000, "stamps", cfg=cfg)
    async with db.read() as s:
        moves = list(await s.scalars(select(CashMovement).order_by(CashMovement.at)))
    assert [(m.amount_minor, m.approver_id) for m in moves] == [
        (-90_000, None), (-90_000, None), (10_000, None), (-150_000, manager.id),
        (-5_000, manager.id)]
    shift = await shifts.current_shift(db, "C1")
    report = await shifts.shift_report(db, shift.id, cfg)
    assert report.cash_out == 335_000 and report.cash_out_approved == 155_000
    assert report.cash_out_count == 4
    assert "above the usual ₹2,000.00" in report.cash_out_warning


async def test_closing_and_reopening_shifts_does_not_renew_the_allowance(
        cfg, db, catalog, cashier, manager):  # noqa: F811
    """The shift limit was per shift, and a cashier may close and open shifts: ₹2,000
    without a manager in each of as many shifts as they liked, every Z looking usual.
    A person's cash out without a manager counts over the last 24 hours, across shifts."""
    for _ in range(2):
        shift = await shifts.open_shift(db, cfg, "C1", cashier, 0)
        try:
            await shifts.cash_movement(db, "C1", cashier, -100_000, "supplier", cfg=cfg)
            await shifts.cash_movement(db, "C1", cashier, -100_000, "supplier", cfg=cfg)
        except NeedsApproval:
            break
        finally:
            await shifts.close_shift(db, cfg, shift.id, cashier, {})
    else:
        pytest.fail("₹4,000 out in two shifts without a manager")
    # A manager's PIN still lets it through.
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    await shifts.cash_movement(db, "C1", cashier, -100_000, "supplier", manager, cfg=cfg)


async def test_the_z_report_shows_unusual_cash_out(cfg, db, catalog, cashier, manager):  # noqa: F811
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    await shifts.cash_movement(db, "C1", cashier, -50_000, "supplier", cfg=cfg)
    shift = await shifts.current_shift(db, "C1")
    assert (await shifts.shift_report(db, shift.id, cfg)).cash_out_warning == ""
    await shifts.cash_movement(db, "C1", cashier, -400_000, "owner took cash", manager, cfg=cfg)
    report = await shifts.close_shift(db, cfg, shift.id, manager, {})
    assert "Cash out ₹4,500.00 (2 entries, ₹4,000.00 approved by a manager)" in \
        report.cash_out_warning
    from app.pos.receipts import report_layout

    assert "above the usual" in repr(report_layout(cfg, report, True, False))


async def test_the_till_asks_for_a_managers_pin_above_the_limit(client, login_as, db, staff):
    from tests.conftest import STAFF
    from tests.integration.test_counter_documents import hx

    await login_as("cashier")
    r = await client.post("/pos/shift/open", data={"counter": "C1", "float": "500"},
                          headers=hx(client))
    assert r.status_code < 400
    form = {"amount": "1,500", "direction": "out", "reason": "rent"}
    r = await client.post("/pos/shift/cash", data=form, headers=hx(client))
    assert 'data-testid="approval"' in r.text and "needs a manager" in r.text
    r = await client.post("/pos/shift/cash", data={**form, "approver_id": staff["manager"],
                                                   "approver_pin": "9999"}, headers=hx(client))
    assert 'data-testid="approval"' in r.text and "Wrong PIN" in r.text
    async with db.read() as s:
        assert list(await s.scalars(select(CashMovement))) == []
    r = await client.post("/pos/shift/cash", data={
        **form, "approver_id": staff["manager"], "approver_pin": STAFF["manager"][1]},
        headers=hx(client))
    assert r.status_code < 400 and 'data-testid="approval"' not in r.text
    async with db.read() as s:
        [move] = list(await s.scalars(select(CashMovement)))
    assert (move.amount_minor, move.approver_id) == (-150_000, staff["manager"])
    page = (await client.get("/pos/shift")).text
    assert "approved by a manager" in page
