"""A "preview" printer (a store without a receipt printer sees the paper on screen): its
worker makes no ESC/POS bytes, marks a job done in one write, and still fails a layout
that does not parse. Real PrintQueue on a real SQLite file (issue #15: the bytes were
rendered, QR raster included, and thrown away after every sale)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from app.core.db import Database
from app.printing import service, worker
from app.printing.models import PrintJob
from app.printing.worker import PrintQueue

CODE = "CN-AB12-CD34-EF56-GH78"
LAYOUT = (f"[c][b]Test Store\n[row]Tea 250 g||Rs. 120.00\n[c]Credit note {CODE}\n"
          f"[c][qr]{CODE}\n[cut]\n")


@pytest.fixture
async def queue(cfg, db):
    assert cfg.printers[0].kind == "preview"
    q = PrintQueue(db, cfg)
    yield q
    await q.stop()


async def job_row(db: Database, job_id: str) -> PrintJob:
    async with db.read() as s:
        job = await s.scalar(select(PrintJob).where(PrintJob.id == job_id))
    assert job is not None
    return job


async def until_settled(db: Database, q: PrintQueue, job_id: str) -> PrintJob:
    for _ in range(200):
        job = await job_row(db, job_id)
        if job.status not in ("queued", "sending"):
            return job
        q.wake()
        await asyncio.sleep(0.02)
    raise AssertionError(f"job still {job.status}")


async def queue_job(db: Database, printer: str, layout: str) -> str:
    async with db.write() as s:
        return service.enqueue(s, printer, "receipt", layout, title="Receipt").id


async def test_a_preview_job_is_done_in_one_write_without_escpos_bytes(cfg, db, queue,
                                                                        monkeypatch):
    rendered: list[str] = []
    monkeypatch.setattr(worker, "render_job", lambda printer, layout: rendered.append(layout))
    printer = cfg.printers[0].name
    job_id = await queue_job(db, printer, LAYOUT)
    writes: list[int] = []
    write = db.write

    def counted_write():
        writes.append(1)
        return write()

    monkeypatch.setattr(db, "write", counted_write)
    await queue.start()
    job = await until_settled(db, queue, job_id)
    monkeypatch.setattr(db, "write", write)
    assert job.status == "done" and job.attempts == 1 and job.sent_at is not None
    assert rendered == [], "no ESC/POS for a printer that is a screen"
    assert len(writes) == 1, "queued -> done in one write"
    assert CODE not in job.layout and "original slip" in job.layout  # as for paper
    assert queue.state[printer].reason == "ready" and queue.state[printer].sent == 1


async def test_a_preview_job_whose_layout_does_not_parse_fails(cfg, db, queue):
    job_id = await queue_job(db, cfg.printers[0].name, "[c][nonsense]Hello\n")
    await queue.start()
    job = await until_settled(db, queue, job_id)
    assert job.status == "failed" and job.last_error.startswith("layout: ")
