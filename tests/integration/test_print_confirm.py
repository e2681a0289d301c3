""""Printed" means the printer said so: the print queue against a stand-in TCP printer
that can stop reading, run out of paper and come back (see FakePrinter).

Each test runs the real PrintQueue on a real SQLite file; the printer answers status
requests like an ESC/POS printer, after consuming the bytes sent before them.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from sqlalchemy import select

from app.core.db import Database
from app.printing import service, status
from app.printing.models import PrintJob
from app.printing.worker import PrintQueue
from tests.conftest import make_config
from tests.integration.test_print_queue import FakePrinter

PREVIEW_LINE = 'kind = "preview"               # network | usb | serial | file | cups | preview'


def network_config(tmp_path, port: int, extra: str = ""):
    return make_config(tmp_path, **{PREVIEW_LINE: (
        f'kind = "network"\nhost = "127.0.0.1"\nport = {port}\n'
        f'status_timeout_seconds = 0.5\npoll_seconds = 0.3\n{extra}')})


@pytest.fixture
def printer():
    p = FakePrinter()
    yield p
    p.close()


@pytest.fixture
async def setup(tmp_path, printer, migrated_template):
    cfg = network_config(tmp_path, printer.port)
    shutil.copy(migrated_template, cfg.database_path)
    db = Database(cfg.database_path)
    queues: list[PrintQueue] = []

    def new_queue() -> PrintQueue:
        queues.append(PrintQueue(db, cfg))
        return queues[-1]

    yield db, new_queue
    for q in queues:
        await q.stop()
    await db.dispose()


def receipt(n: int) -> str:
    return f"[c][b]Test Store\n[c]S1-{n:06d}\n[row]Tea 250 g||Rs. 120.00\n[cut]\n"


async def enqueue(db: Database, numbers: range) -> None:
    for n in numbers:  # one transaction each, like sales
        async with db.write() as s:
            service.enqueue(s, "counter-1", "receipt", receipt(n), title=f"S1-{n:06d}")


async def statuses(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(select(PrintJob.status).where(
            PrintJob.printer == "counter-1").order_by(PrintJob.seq)))


async def wait_for(predicate, seconds: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if await predicate():
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def numbers(n: range) -> list[str]:
    return [f"S1-{i:06d}" for i in n]


async def all_done(db: Database, count: int) -> bool:
    return await statuses(db) == ["done"] * count


async def test_a_printer_that_never_reads_gets_nothing_marked_done(setup, printer):
    db, new_queue = setup
    printer.mode = "stalled"  # jammed: takes the connection, reads nothing
    await enqueue(db, range(1, 6))
    queue = new_queue()
    await queue.start()
    await asyncio.sleep(2.0)
    assert "done" not in await statuses(db), "a job was marked done without a status reply"
    state = queue.state["counter-1"]
    assert state.reason == status.NOT_RESPONDING
    assert printer.receipt_numbers() == []

    printer.mode = "normal"  # the jam is cleared
    took = await wait_for(lambda: all_done(db, 5), 10, "the receipts after the jam")
    assert took < 3, f"the printer's return was noticed only after {took:.1f} s"
    assert printer.receipt_numbers() == numbers(range(1, 6)), "exactly once, in order"
    assert queue.state["counter-1"].reason == status.READY


async def test_a_jam_during_a_job_holds_it_until_the_printer_answers(setup, printer):
    db, new_queue = setup
    queue = new_queue()
    await queue.start()
    await enqueue(db, range(1, 3))
    await wait_for(lambda: all_done(db, 2), 10, "the first receipts")
    printer.after_next_status = "stalled"  # answers "ready", then jams as the job goes out
    await enqueue(db, range(3, 7))
    await asyncio.sleep(2.0)
    assert await statuses(db) == ["done", "done", "sending", "queued", "queued", "queued"]
    assert queue.state["counter-1"].reason == status.NOT_RESPONDING

    printer.mode = "normal"  # it reads its buffer again: the held job prints, then the rest
    await wait_for(lambda: all_done(db, 6), 10, "the receipts after the jam")
    assert printer.receipt_numbers() == numbers(range(1, 7)), "exactly once, in order"


async def test_paper_out_pauses_the_queue_and_it_resumes_by_itself(setup, printer):
    db, new_queue = setup
    printer.mode = "paper_out"
    queue = new_queue()
    await queue.start()
    await enqueue(db, range(1, 3))
    await asyncio.sleep(1.5)
    assert await statuses(db) == ["queued", "queued"]
    state = queue.state["counter-1"]
    assert state.reason == status.PAPER_OUT
    assert printer.lost == [], "no receipt may be sent to a printer that said it has no paper"
    alerts = await service.printer_alerts(db, queue.cfg, queue.state, "C1")
    assert alerts and alerts[0].text == "Printer counter-1: out of paper — 2 receipts waiting."
    assert alerts[0].next_step == "Load a new roll; the receipts will print by themselves."

    printer.mode = "normal"  # a new roll
    took = await wait_for(lambda: all_done(db, 2), 10, "the receipts after the new roll")
    assert took < 3
    assert printer.receipt_numbers() == numbers(range(1, 3))
    assert await service.printer_alerts(db, queue.cfg, queue.state, "C1") == []


async def test_paper_running_out_during_a_job_sends_it_again_whole(setup, printer):
    db, new_queue = setup
    printer.after_next_status = "paper_out"  # the roll ends as this receipt prints
    queue = new_queue()
    await queue.start()
    await enqueue(db, range(1, 4))
    await wait_for(lambda: _reason_is(queue, status.PAPER_OUT), 5, "paper out")
    await asyncio.sleep(0.8)
    assert await statuses(db) == ["queued", "queued", "queued"]
    assert printer.lost and b"S1-000001" in b"".join(printer.lost)

    printer.mode = "normal"
    await wait_for(lambda: all_done(db, 3), 10, "the receipts after the new roll")
    assert printer.receipt_numbers() == numbers(range(1, 4))
    async with db.read() as s:
        first = await s.scalar(select(PrintJob).order_by(PrintJob.seq).limit(1))
    assert first.attempts == 2


async def _reason_is(queue: PrintQueue, reason: str) -> bool:
    return queue.state["counter-1"].reason == reason


async def test_a_restart_while_a_job_is_unconfirmed_sends_it_again(setup, printer):
    db, new_queue = setup
    printer.after_next_status = "stalled"
    first = new_queue()
    await first.start()
    await enqueue(db, range(1, 4))
    await wait_for(lambda: _reason_is(first, status.NOT_RESPONDING), 5, "the jam")
    await first.stop()  # the store restarts while receipt 1 is unconfirmed
    printer.mode = "normal"
    second = new_queue()
    await second.start()
    await wait_for(lambda: all_done(db, 3), 10, "the receipts after the restart")
    await asyncio.sleep(0.3)
    printed = printer.receipt_numbers()
    # Receipt 1 may come out twice (the printer may still print what it had taken before
    # the restart): never lost, the rest exactly once and in order.
    assert printed in (numbers(range(1, 4)), ["S1-000001"] + numbers(range(1, 4)))


async def test_kinds_that_cannot_report_are_sent_not_confirmed(tmp_path, migrated_template):
    out = tmp_path / "printer.bin"
    cfg = make_config(tmp_path, **{PREVIEW_LINE: f'kind = "file"\ndevice = "{out}"'})
    shutil.copy(migrated_template, cfg.database_path)
    db = Database(cfg.database_path)
    queue = PrintQueue(db, cfg)
    try:
        await enqueue(db, range(1, 3))
        await queue.start()
        await wait_for(lambda: _statuses_are(db, ["sent", "sent"]), 10, "the file printer")
        assert queue.state["counter-1"].reason == status.UNCONFIRMED
        assert out.read_bytes().count(b"S1-0000") == 2
    finally:
        await queue.stop()
        await db.dispose()


async def _statuses_are(db: Database, expected: list[str]) -> bool:
    return await statuses(db) == expected


async def test_network_printer_without_status_replies_when_configured(tmp_path, printer,
                                                                       migrated_template):
    cfg = network_config(tmp_path, printer.port, "confirm = false")
    shutil.copy(migrated_template, cfg.database_path)
    db = Database(cfg.database_path)
    queue = PrintQueue(db, cfg)
    try:
        await enqueue(db, range(1, 3))
        await queue.start()
        await wait_for(lambda: _statuses_are(db, ["sent", "sent"]), 10, "confirm = false")
        await asyncio.sleep(0.3)
        assert printer.receipt_numbers() == numbers(range(1, 3))
        assert printer.status_requests == 0
    finally:
        await queue.stop()
        await db.dispose()


async def test_a_printer_back_after_a_long_outage_is_noticed_within_seconds(setup, printer):
    db, new_queue = setup
    port = printer.port
    printer.close()  # switched off: connections are refused
    queue = new_queue()
    await queue.start()
    await enqueue(db, range(1, 4))
    await asyncio.sleep(7.5)  # long enough for a growing backoff to reach 8 s
    assert queue.state["counter-1"].reason == status.UNREACHABLE
    back = FakePrinter(port=port)
    try:
        took = await wait_for(lambda: all_done(db, 3), 20, "the printer back on")
        assert took < 3, f"the printer's return was noticed only after {took:.1f} s"
        assert back.receipt_numbers() == numbers(range(1, 4))
    finally:
        back.close()


async def test_an_idle_printer_with_a_problem_is_asked_every_poll_not_in_a_loop(setup, printer):
    db, new_queue = setup
    printer.mode = "cover_open"
    queue = new_queue()
    await queue.start()
    await queue.check(queue.cfg.printers[0])
    assert queue.state["counter-1"].reason == status.COVER_OPEN
    before = printer.status_requests
    await asyncio.sleep(1.5)  # poll_seconds = 0.3: about 5 checks of 3 requests each
    assert 3 <= printer.status_requests - before <= 3 * 8
    printer.mode = "normal"
    await wait_for(lambda: _reason_is(queue, status.READY), 3, "the cover closed")
