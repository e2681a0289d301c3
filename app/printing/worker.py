"""One worker per printer: sends queued jobs strictly in order, retries with backoff.

A job is marked `sending` before its bytes go out and `done` right after the
printer accepted all of them. A printer that is off or unreachable leaves the job
`queued` with the reason, and the worker tries again after 1, 2, 4 ... 30 s;
later jobs wait behind it, so receipts never come out of order. After a restart,
a job left `sending` (the process died mid-send) is sent again: a printer that
died halfway prints the whole receipt again rather than lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from app.config import PrinterSection, StoreConfig
from app.core.clock import utcnow
from app.core.db import Database
from app.printing import transport
from app.printing.escpos_render import to_escpos
from app.printing.layout import parse_layout
from app.printing.models import PrintJob

log = logging.getLogger("kirana.printing")
IDLE_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class PrinterState:
    name: str
    online: bool | None = None  # None: nothing sent yet
    detail: str = "waiting for the first job"
    last_ok_at: datetime | None = None
    retry_in: float = 0.0
    sent: int = 0
    errors: list[str] = field(default_factory=list)


def render_job(printer: PrinterSection, layout: str) -> bytes:
    return to_escpos(parse_layout(layout), columns=printer.columns, profile=printer.profile)


class PrintQueue:
    def __init__(self, db: Database, cfg: StoreConfig, *, first_backoff: float = 1.0) -> None:
        self.db = db
        self.cfg = cfg
        self.first_backoff = first_backoff
        self.state = {p.name: PrinterState(p.name) for p in cfg.printers}
        self._events: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Start one worker per printer, once: a second start (a second test client
        on the same app, say) finds them running and leaves them to their owner."""
        if self._tasks:
            return
        self._loop = asyncio.get_running_loop()
        self._events = {p.name: asyncio.Event() for p in self.cfg.printers}
        for printer in self.cfg.printers:
            self._tasks.append(asyncio.create_task(self._run(printer), name=f"print-{printer.name}"))

    async def stop(self) -> None:
        if asyncio.get_running_loop() is not self._loop:
            return  # only the loop that started the workers stops them
        for task in self._tasks:
            task.cancel()
        # A worker inside a thread call (a printer that hangs) must not hold up shutdown.
        await asyncio.wait(self._tasks, timeout=5)
        self._tasks.clear()

    def wake(self, printer: str | None = None) -> None:
        """Skip the idle wait or the backoff: a job was queued or a printer is back."""
        loop = self._loop
        for name, event in self._events.items():
            if printer is None or name == printer:
                if loop is None or loop.is_closed():
                    continue
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is loop:
                    event.set()
                else:
                    loop.call_soon_threadsafe(event.set)

    async def _next_job(self, printer: str) -> PrintJob | None:
        async with self.db.read() as s:
            return await s.scalar(
                select(PrintJob)
                .where(PrintJob.printer == printer, PrintJob.status.in_(("queued", "sending")))
                .order_by(PrintJob.seq).limit(1))

    async def _mark(self, job_id: str, *, expect: tuple[str, ...] = ("queued", "sending"),
                    **values) -> bool:  # noqa: ANN003
        """Move a job on, unless a manager cancelled it meanwhile; False if it was."""
        async with self.db.write() as s:
            result = await s.execute(update(PrintJob).where(
                PrintJob.id == job_id, PrintJob.status.in_(expect)).values(**values))
            return result.rowcount == 1

    async def _wait(self, name: str, seconds: float) -> None:
        event = self._events[name]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds)
        event.clear()

    async def _run(self, printer: PrinterSection) -> None:
        """Never dies: any error is logged, shown on the printers page, and retried."""
        state = self.state[printer.name]
        backoff = self.first_backoff
        while True:
            try:
                backoff = await self._step(printer, state, backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a dead worker would stop all printing
                log.exception("print queue for %s", printer.name)
                state.online, state.detail = False, f"print queue problem: {exc}"[:200]
                await asyncio.sleep(min(backoff, MAX_BACKOFF_SECONDS))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _step(self, printer: PrinterSection, state: PrinterState, backoff: float) -> float:
        """Send the next job if there is one; returns the backoff for the next step."""
        job = await self._next_job(printer.name)
        if job is None:
            await self._wait(printer.name, IDLE_POLL_SECONDS)
            return backoff
        if not await self._mark(job.id, status="sending", attempts=job.attempts + 1):
            return backoff  # cancelled between reading and sending
        try:
            data = await asyncio.to_thread(render_job, printer, job.layout)
        except Exception as exc:  # noqa: BLE001 - a layout that cannot render never will
            await self._mark(job.id, status="failed", last_error=f"layout: {exc}"[:300])
            return backoff
        try:
            await asyncio.to_thread(transport.send, printer, data)
        except Exception as exc:  # noqa: BLE001 - driver errors vary; retry them all
            reason = str(exc)[:250] or type(exc).__name__
            await self._mark(job.id, status="queued",
                             last_error=f"{reason}; retrying in {backoff:.0f} s")
            state.online, state.detail, state.retry_in = False, reason, backoff
            log.warning("printer %s: %s (retry in %.0f s)", printer.name, reason, backoff)
            await self._wait(printer.name, backoff)
            return min(backoff * 2, MAX_BACKOFF_SECONDS)
        now = utcnow()
        await self._mark(job.id, status="done", sent_at=now, last_error="")
        state.online, state.detail, state.last_ok_at, state.retry_in = True, "online", now, 0
        state.sent += 1
        return self.first_backoff
