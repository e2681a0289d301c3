"""The audit log as one core service (app/core/audit.py): every writer goes through
`record`, readers through `entries` / `named_entries`, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.pos.common import OVERRIDE_ACTIONS
from app.stock.service import count_requests


async def test_record_keeps_who_and_who_approved_and_fits_the_columns(db, staff):
    cashier = StaffUser(staff["cashier"], "Asha", "cashier")
    async with db.write() as s:
        audit.record(s, "refund", "x" * 900, user=cashier, approver=staff["manager"])
        audit.record(s, "y" * 60, "by nobody")
    rows = await audit.named_entries(db, ("refund", "y" * 40))
    by_action = {row.action: (row, who, ok) for row, who, ok in rows}
    row, who, ok = by_action["refund"]
    assert (row.user_id, row.approver_id, who) == (staff["cashier"], staff["manager"], "Asha")
    assert ok and len(row.detail) == audit.DETAIL_CHARS
    nobody, who, ok = by_action["y" * 40]  # the action cut to its column too
    assert (nobody.user_id, who, ok) == (None, "?", "")


async def test_entries_filter_by_action_and_time(db, staff):
    now = utcnow()
    async with db.write() as s:
        audit.record(s, "no_sale", "old", user=staff["cashier"], at=now - timedelta(days=9))
        audit.record(s, "no_sale", "new", user=staff["cashier"], at=now)
        audit.record(s, "login", "", user=staff["cashier"], at=now)
    async with db.read() as s:
        recent = await audit.entries(s, actions=("no_sale",), since=now - timedelta(days=1))
        every = await audit.entries(s, actions=("no_sale",))
    assert [r.detail for r in recent] == ["new"]
    assert [r.detail for r in every] == ["old", "new"]  # oldest first
    till = await audit.named_entries(db, OVERRIDE_ACTIONS)
    assert [r.detail for r, _who, _ok in till] == ["new", "old"]  # newest first, no logins


async def test_count_requests_read_the_pickers_audit_rows(db, staff):
    async with db.write() as s:
        audit.record(s, "count_needed", "bin A-01-1 ATTA-5KG: not on the shelf",
                     user=staff["picker"])
        audit.record(s, "count_needed", "long ago", user=staff["picker"],
                     at=utcnow() - timedelta(days=30))
    asked = await count_requests(db)
    assert [(r.bin_code, r.sku) for r in asked] == [("A-01-1", "ATTA-5KG")]
