"""The print queue against printers that misbehave in ways test_print_confirm's
FakePrinter does not: they close the line right after a job, or answer twice."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from sqlalchemy import select

from app.core.db import Database
from app.printing.models import PrintJob
from app.printing.worker import PrintQueue
from tests.integration.test_print_confirm import enqueue, network_config, statuses, wait_for

READY = b"\x12\x12\x12"


class ScriptedPrinter:
    """A TCP printer on 127.0.0.1 whose answer to each status request is scripted by
    `answer(conn_no, request_no, writer)`; it records every byte it received per connection."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.received: list[bytearray] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = len(self.received)
        got = bytearray()
        self.received.append(got)
        requests = 0
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got.extend(chunk)
                while got.count(b"\x10\x04\x04") > requests:
                    requests += 1
                    if await self.answer(conn, requests, writer) == "close":
                        writer.close()
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def jobs_with(self, marker: bytes) -> int:
        return sum(bytes(c).count(marker) for c in self.received)

    async def close(self) -> None:
        if self.server:
            self.server.close()


@pytest.fixture
async def make(tmp_path, migrated_template):
    made: list = []

    async def build(answer):
        printer = ScriptedPrinter(answer)
        await printer.start()
        cfg = network_config(tmp_path, printer.port)
        shutil.copy(migrated_template, cfg.database_path)
        db = Database(cfg.database_path)
        queue = PrintQueue(db, cfg)
        made.append((printer, db, queue))
        return printer, db, queue

    yield build
    for printer, db, queue in made:
        await queue.stop()
        await printer.close()
        await db.dispose()


async def test_a_printer_that_closes_the_line_after_each_job_does_not_print_it_for_ever(make):
    async def answer(conn, request, writer):
        if request == 1:
            writer.write(READY)  # ready before the job ...
            return None
        return "close"  # ... then takes the job and hangs up without answering

    printer, db, queue = await make(answer)
    await enqueue(db, range(1, 3))
    await queue.start()
    await wait_for(lambda: _both_failed(db), 15, "each job to fail after 3 sends")
    await asyncio.sleep(1.0)  # and nothing is sent after that
    copies = printer.jobs_with(b"S1-000001")
    assert copies == 3, f"receipt 1 was sent {copies} times"
    assert printer.jobs_with(b"S1-000002") == 3
    async with db.read() as s:
        first = await s.scalar(select(PrintJob).order_by(PrintJob.seq).limit(1))
    assert "3 times" in first.last_error and "Reprint" in first.last_error



async def _both_failed(db: Database) -> bool:
    return await statuses(db) == ["failed", "failed"]
