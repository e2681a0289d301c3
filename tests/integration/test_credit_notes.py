"""Exchange credit notes are bearer value, so they carry an unguessable code printed on the
slip (text and QR); only that code spends them (issue #13 item 3, ASVS 4.0.3 V11.1.x, V2.x
for bearer secrets). The refund number (S1-R00001, sequential) spends nothing.

The hostile stand-in is a cashier at another counter typing refund numbers and guesses."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from app.pos import credit_notes, payment, shifts
from app.pos.models import Refund, SaleTender
from app.pos.till_rules import PosError
from tests.integration.test_pos_service import (  # noqa: F401 (fixtures)
    ATTA,
    DAL,
    barcode,
    cashier,
    catalog,
    manager,
    new_cart,
    new_key,
    parsed,
    pay_cash,
    refund_line,
    users,
)


async def sold_and_exchanged(db, cfg, catalog, manager, key=None):  # noqa: F811
    await shifts.open_shift(db, cfg, "C1", manager, 100_000)
    view = await new_cart(db, cfg, "C1", manager, barcode(catalog, DAL))
    await pay_cash(db, cfg, "C1", view.cart.id)
    sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, new_key(), manager)
    full = await payment.get_sale(db, sale.id)
    return await refund_line(db, cfg, sale.id, full.lines[0].id, 1, "resaleable", manager,
                             tender="exchange", key=key)


async def test_only_the_printed_code_spends_a_credit_note(cfg, db, catalog, cashier, manager):  # noqa: F811
    note = await sold_and_exchanged(db, cfg, catalog, manager)
    await shifts.open_shift(db, cfg, "C2", cashier, 0)
    view = await new_cart(db, cfg, "C2", cashier, barcode(catalog, ATTA))
    for guess in (note.number, "S1-R00002", "CN-AAAA-AAAA-AAAA-AAAA", ""):
        with pytest.raises(PosError, match="code printed on the credit note"):
            await payment.add_tender(db, cfg, "C2", view.cart.id, "exchange", None, reference=guess)
    code = note.credit_code
    assert note.number == "S1-R00001" and code.startswith("CN-") and len(code) >= 20
    with pytest.raises(PosError, match="code printed on the credit note"):
        await payment.add_tender(db, cfg, "C2", view.cart.id, "exchange", None,
                             reference=code[:-1] + ("Y" if code[-1] != "Y" else "Z"))
    # The code spends it (typed with spaces, lower case, or scanned as printed).
    spent = await payment.add_tender(db, cfg, "C2", view.cart.id, "exchange", None,
                                 reference=" " + code.lower().replace("-", " ") + " ")
    tender = spent.cart.tenders[0]
    assert tender.reference == note.number and tender.amount_minor == 6800
    await payment.complete_sale(db, cfg, "C2", view.cart.id, new_key(), cashier)
    async with db.read() as s:
        [used] = list(await s.scalars(select(SaleTender).where(SaleTender.kind == "exchange")))
    assert used.reference == note.number
    # The rest (₹115 - ₹68) on the next bill, then nothing is left.
    again = await new_cart(db, cfg, "C2", cashier, barcode(catalog, ATTA))
    rest = await payment.add_tender(db, cfg, "C2", again.cart.id, "exchange", None, reference=code)
    assert rest.cart.tenders[0].amount_minor == note.total_minor - 6800
    await pay_cash(db, cfg, "C2", again.cart.id)
    await payment.complete_sale(db, cfg, "C2", again.cart.id, new_key(), cashier)
    third = await new_cart(db, cfg, "C2", cashier, barcode(catalog, ATTA))
    with pytest.raises(PosError, match=f"no exchange credit left on {note.number}"):
        await payment.add_tender(db, cfg, "C2", third.cart.id, "exchange", None, reference=code)


async def test_the_code_is_kept_only_as_a_hash(cfg, db, catalog, manager):  # noqa: F811
    key = new_key()
    note = await sold_and_exchanged(db, cfg, catalog, manager, key)
    code = credit_notes.normalise_credit_code(note.credit_code)
    async with db.read() as s:
        stored = await s.get(Refund, note.id)
        dump = "\n".join(str(row) for row in (await s.execute(text(
            "SELECT * FROM refunds"))).all())
    assert stored.credit_code_hash == hashlib.sha256(code.encode()).hexdigest()
    assert code not in dump and note.credit_code not in dump
    # A repeat of the same refund (a double submit) does not make a second code.
    again = await refund_line(db, cfg, note.sale_id, note.lines[0].sale_line_id, 1,
                              "resaleable", manager, tender="exchange", key=key)
    assert again.id == note.id and getattr(again, "credit_code", "") == ""


async def test_the_slip_prints_the_code_and_a_qr(cfg, db, catalog, manager):  # noqa: F811
    from app.pos.receipts import refund_layout

    note = await sold_and_exchanged(db, cfg, catalog, manager)
    sale = await payment.get_sale(db, note.sale_id)
    layout = repr(refund_layout(cfg, note, sale, {ln.id: ln for ln in sale.lines},
                                credit_code=note.credit_code))
    assert note.credit_code in layout and "CREDIT NOTE" in layout
    reprint = repr(refund_layout(cfg, note, sale, {ln.id: ln for ln in sale.lines}))
    assert note.credit_code not in reprint and "original slip" in reprint


async def test_the_slip_layout_parses_with_its_qr(cfg, db, catalog, manager):  # noqa: F811
    from app.pos.receipts import refund_layout
    from app.printing.layout import QR, parse_layout

    note = await sold_and_exchanged(db, cfg, catalog, manager)
    sale = await payment.get_sale(db, note.sale_id)
    blocks = parse_layout(refund_layout(cfg, note, sale, {ln.id: ln for ln in sale.lines},
                                        credit_code=note.credit_code))
    assert [b.data for b in blocks if isinstance(b, QR)] == [note.credit_code]


async def test_the_print_queue_keeps_no_code_once_printed_nor_in_a_reprint(
        cfg, db, catalog, manager):  # noqa: F811
    """A manager's reprint (or a look at the job) must not bring a spendable code back."""
    import asyncio

    from app.printing import service as printing
    from app.printing.models import PrintJob
    from app.printing.worker import PrintQueue

    assert any("refund" in p.documents for p in cfg.printers)
    note = await sold_and_exchanged(db, cfg, catalog, manager)
    async with db.read() as s:
        [job] = list(await s.scalars(select(PrintJob).where(PrintJob.document == "refund")))
    assert note.credit_code in job.layout  # queued: the printer must still print it
    queue = PrintQueue(db, cfg)
    await queue.start()
    try:
        for _ in range(100):
            async with db.read() as s:
                job = await s.scalar(select(PrintJob).where(PrintJob.id == job.id))
            if job.status in ("done", "sent"):
                break
            queue.wake()
            await asyncio.sleep(0.05)
    finally:
        await queue.stop()
    assert job.status in ("done", "sent")
    assert note.credit_code not in job.layout and "original slip" in job.layout
    copy = await printing.reprint(db, job.id)
    assert note.credit_code not in copy.layout and "[qr]CN" not in copy.layout
    code = credit_notes.normalise_credit_code(note.credit_code)
    assert printing.ONE_TIME_CODE.fullmatch(credit_notes.new_credit_code()) and code


async def test_two_tills_spending_one_note_at_once_spend_it_once(
        cfg, db, catalog, cashier, manager):  # noqa: F811
    """Both tills add the whole note to their bills before either completes, then both
    complete at the same moment: exactly one sale takes the credit."""
    import asyncio
    import contextlib

    note = await sold_and_exchanged(db, cfg, catalog, manager)
    await shifts.open_shift(db, cfg, "C2", cashier, 0)
    carts = []
    for counter in ("C1", "C2"):
        view = await new_cart(db, cfg, counter, cashier, barcode(catalog, ATTA))
        await payment.add_tender(db, cfg, counter, view.cart.id, "exchange", None,
                             reference=note.credit_code)
        with contextlib.suppress(PosError):  # the note may cover the whole bill
            await pay_cash(db, cfg, counter, view.cart.id)
        carts.append((counter, view.cart.id))

    async def complete(counter: str, cart_id: str) -> str:
        try:
            await payment.complete_sale(db, cfg, counter, cart_id, new_key(), cashier)
        except PosError as exc:
            return str(exc)
        return "sold"

    results = await asyncio.gather(*(complete(c, i) for c, i in carts))
    assert results.count("sold") == 1 and "already used" in " ".join(results), results
    async with db.read() as s:
        spent = sum(t.amount_minor for t in await s.scalars(
            select(SaleTender).where(SaleTender.kind == "exchange")))
    assert spent <= note.total_minor
