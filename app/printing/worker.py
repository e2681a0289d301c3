"""One worker per printer: sends queued jobs strictly in order; "done" means printed.

A network printer that confirms (the default) is asked for its status before each
job; a printer that does not answer, or reports paper out, cover open or an error,
is not sent the job: its queue pauses and the worker asks again every
`poll_seconds` (2 s) until it reports ready, then carries on by itself. The job is
then sent followed by a status request on the same connection, and marked `done`
only when that reply comes (the printer answers it after consuming the job). While
the reply is late the job stays `sending` and the connection is held: a printer
that was only stuck answers once it reads again and the job is confirmed exactly
once. If the connection breaks first, or the reply says the paper ran out during
the job, the job goes back to `queued` and is sent again whole (it may have printed
in part). After a restart a job left `sending` is sent again, so an unconfirmed
receipt can print twice but is never lost.

Kinds that cannot report (usb, serial, cups, file, and network printers with
`confirm = false`) end in `sent`: handed over, not confirmed. Preview jobs are
`done` once their layout parses (they are shown on screen; no ESC/POS is made).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update

from app.config import PrinterSection, StoreConfig
from app.core.clock import utcnow
from app.core.db import Database, rowcount
from app.core.prepared import Prepared
from app.core.waits import wait_event
from app.printing import status as st
from app.printing import transport
from app.printing.escpos_render import to_escpos
from app.printing.layout import parse_layout
from app.printing.models import PrintJob
from app.printing.service import without_one_time_codes

log = logging.getLogger("kirana.printing")
IDLE_POLL_SECONDS = 1.0
BYTES_PER_SECOND = 2000  # a slow printer's pace: the reply to a big job may take longer
WAITING = "waiting"  # PrinterState.reason before the first contact
# A printer that hangs up after every job without confirming it may print each copy:
# after this many sends the job fails (a person checks the paper) instead of looping.
MAX_SENDS_WITHOUT_ANSWER = 3


@dataclass
class PrinterState:
    name: str
    reason: str = WAITING  # status.READY, status.UNCONFIRMED or one of status.PROBLEMS
    detail: str = "waiting for the first job"
    last_ok_at: datetime | None = None
    sent: int = 0

    @property
    def online(self) -> bool | None:
        return None if self.reason == WAITING else self.reason not in st.PROBLEMS

    @property
    def problem(self) -> bool:
        return self.reason in st.PROBLEMS

    @property
    def headline(self) -> str:
        return st.headline(self.reason)

    @property
    def next_step(self) -> str:
        return st.next_step(self.reason)


def render_job(printer: PrinterSection, layout: str) -> bytes:
    return to_escpos(parse_layout(layout), columns=printer.columns, profile=printer.profile)


@dataclass(frozen=True)
class QueuedJob:
    """What a worker needs of its printer's next job (read as a plain row: a worker reads
    its queue after every job, and a preview printer's job takes one write)."""

    id: str
    layout: str
    attempts: int
    title: str
    last_error: str


_J = cast(Table, PrintJob.__table__).c
_NEXT_JOB = Prepared(
    select(_J.id, _J.layout, _J.attempts, _J.title, _J.last_error)
    .where(_J.printer == bindparam("printer"),
           or_(_J.status == "queued", _J.status == "sending"))
    .order_by(_J.seq).limit(1))
# A preview printer's job, queued (or left sending by a restart) -> done, in one write.
_SHOWN = Prepared(
    update(cast(Table, PrintJob.__table__))
    .where(_J.id == bindparam("job_id"), or_(_J.status == "queued", _J.status == "sending"))
    .values(status="done", attempts=bindparam("attempts"), sent_at=bindparam("sent_at"),
            last_error="", layout=bindparam("layout")))


class PrintQueue:
    def __init__(self, db: Database, cfg: StoreConfig) -> None:
        self.db = db
        self.cfg = cfg
        self.state = {p.name: PrinterState(p.name) for p in cfg.printers}
        self._events: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holding: set[str] = set()  # printers with a job sent and not yet confirmed

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
        if asyncio.get_running_loop() is not self._loop or not self._tasks:
            return  # only the loop that started the workers stops them, once
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

    async def _next_job(self, printer: str) -> QueuedJob | None:
        async with self.db.read() as s:
            row = await _NEXT_JOB.first(s, {"printer": printer})
        return QueuedJob(*row) if row is not None else None

    async def _mark(self, job_id: str, *, expect: tuple[str, ...] = ("queued", "sending"),
                    **values) -> bool:
        """Move a job on, unless a manager cancelled it meanwhile; False if it was."""
        async with self.db.write() as s:
            result = await s.execute(update(PrintJob).where(
                PrintJob.id == job_id, PrintJob.status.in_(expect)).values(**values))
            return rowcount(result) == 1

    async def _wait(self, name: str, seconds: float) -> None:
        event = self._events[name]
        await wait_event(event, seconds)
        event.clear()

    async def check(self, printer: PrinterSection) -> transport.ProbeResult:
        """Check now (printers page): ask the printer and wake its worker."""
        result = await self._probe(printer, self.state[printer.name])
        self.wake(printer.name)
        return result

    async def _probe(self, printer: PrinterSection, state: PrinterState) -> transport.ProbeResult:
        if printer.name in self._holding:  # one connection at a time to a printer
            return transport.ProbeResult(False, state.detail, state.reason)
        result = await transport.probe(printer, printer.status_timeout_seconds)
        if transport.confirms(printer) or result.reason == st.UNREACHABLE:
            self._set(printer, state, result.reason, result.detail)
        return result

    def _set(self, printer: PrinterSection, state: PrinterState, reason: str,
             detail: str) -> None:
        if reason != state.reason and reason in st.PROBLEMS:
            log.warning("printer %s: %s", printer.name, detail)
        elif reason != state.reason and state.problem:
            log.info("printer %s is back: %s", printer.name, detail)
        state.reason, state.detail = reason, detail

    async def _run(self, printer: PrinterSection) -> None:
        """Never dies: any error is logged, shown on the printers page, and retried."""
        state = self.state[printer.name]
        while True:
            try:
                await self._step(printer, state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("print queue for %s", printer.name)
                state.reason, state.detail = st.ERROR, f"print queue problem: {exc}"[:200]
                await asyncio.sleep(printer.poll_seconds)

    async def _step(self, printer: PrinterSection, state: PrinterState) -> None:
        """Send the next job if there is one (or watch a printer with a problem)."""
        job = await self._next_job(printer.name)
        if job is None:
            if state.problem and transport.confirms(printer):
                await self._probe(printer, state)  # so the page and the till clear by themselves
                await self._wait(printer.name, printer.poll_seconds if state.problem
                                 else IDLE_POLL_SECONDS)
            else:
                await self._wait(printer.name, IDLE_POLL_SECONDS)
            return
        if printer.kind == "preview":
            await self._show_on_screen(printer, state, job)
            return
        try:
            data = await asyncio.to_thread(render_job, printer, job.layout)
        except Exception as exc:
            await self._mark(job.id, status="failed", last_error=f"layout: {exc}"[:300])
            return
        if transport.confirms(printer):
            await self._deliver_confirmed(printer, state, job, data)
        else:
            await self._deliver_unconfirmed(printer, state, job, data)

    async def _pause(self, printer: PrinterSection, state: PrinterState, job: QueuedJob,
                     reason: str, detail: str, *, requeue: bool = False,
                     link: transport.NetworkLink | None = None) -> None:
        """The printer cannot take the job now: say why, keep the job, ask again soon."""
        if link is not None:
            link.abort()  # not held open while we wait
        self._set(printer, state, reason, detail)
        message = detail[:300]
        if requeue:
            await self._mark(job.id, expect=("sending",), status="queued", last_error=message)
        elif job.last_error != message:
            await self._mark(job.id, last_error=message)
        await self._wait(printer.name, printer.poll_seconds)

    async def _deliver_confirmed(self, printer: PrinterSection, state: PrinterState,
                                 job: QueuedJob, data: bytes) -> None:
        timeout = printer.status_timeout_seconds
        try:
            link = await transport.NetworkLink.open(printer, timeout)
        except transport.TransportError as exc:
            await self._pause(printer, state, job, st.UNREACHABLE, str(exc))
            return
        confirmed = False
        try:
            try:
                before = await link.status(timeout)
            except transport.LinkLost:
                before = None
            if before is None:
                await self._pause(printer, state, job, st.NOT_RESPONDING,
                                  "not responding: the printer takes the connection but does "
                                  "not answer (paper jam, cover open?)", link=link)
                return
            if not before.ready:
                await self._pause(printer, state, job, before.reason,
                                  f"{st.headline(before.reason)}: {st.next_step(before.reason)}",
                                  link=link)
                return
            if not await self._mark(job.id, status="sending", attempts=job.attempts + 1):
                return  # cancelled meanwhile
            self._holding.add(printer.name)
            expected = link.send_job(data)
            after = await link.wait_reply(expected, timeout + len(data) / BYTES_PER_SECOND)
            while after is None:  # keep the line: a stuck printer answers once it reads again
                detail = ("not responding: the printer has not confirmed "
                          f"{job.title or 'the job'}; waiting for it")
                if state.detail != detail:
                    self._set(printer, state, st.NOT_RESPONDING, detail)
                    await self._mark(job.id, expect=("sending",), last_error=detail)
                after = await link.wait_reply(expected, printer.poll_seconds)
            if not after.ready:
                await self._pause(printer, state, job, after.reason,
                                  f"{st.headline(after.reason)} while printing this; it will "
                                  "be printed again in full", requeue=True, link=link)
                return
            now = utcnow()
            await self._mark(job.id, expect=("sending",), status="done", sent_at=now,
                             last_error="", layout=without_one_time_codes(job.layout))
            confirmed = True
            self._set(printer, state, st.READY,
                      "online, paper running low" if after.paper_low else "online")
            state.last_ok_at = now
            state.sent += 1
        except transport.LinkLost as exc:
            if job.attempts + 1 >= MAX_SENDS_WITHOUT_ANSWER:
                link.abort()
                self._set(printer, state, st.NOT_RESPONDING, str(exc))
                await self._mark(job.id, expect=("sending",), status="failed", last_error=(
                    f"{exc}, {job.attempts + 1} times; it may have printed: check the "
                    "printer, then Retry or Reprint")[:300])
                return
            await self._pause(printer, state, job, st.NOT_RESPONDING,
                              f"{exc}; the job will be sent again", requeue=True,
                              link=link)
        finally:
            self._holding.discard(printer.name)
            if confirmed:
                await link.close()
            else:
                link.abort()

    async def _show_on_screen(self, printer: PrinterSection, state: PrinterState,
                              job: QueuedJob) -> None:
        """A "preview" printer's job is done once its layout parses: the paper is the HTML
        the till shows (printing.service.paper_preview). No ESC/POS bytes are made (their QR
        and barcode rasters cost ~5 ms of CPU a receipt, thrown away) and the job goes from
        queued to done in one write."""
        try:
            parse_layout(job.layout)
        except Exception as exc:
            await self._mark(job.id, status="failed", last_error=f"layout: {exc}"[:300])
            return
        now = utcnow()
        async with self.db.write() as s:
            shown = await _SHOWN.run(s, {"job_id": job.id, "attempts": job.attempts + 1,
                                         "sent_at": now,
                                         "layout": without_one_time_codes(job.layout)})
        if shown != 1:
            return  # cancelled meanwhile
        self._set(printer, state, st.READY, "online")
        state.last_ok_at = now
        state.sent += 1

    async def _deliver_unconfirmed(self, printer: PrinterSection, state: PrinterState,
                                   job: QueuedJob, data: bytes) -> None:
        if not await self._mark(job.id, status="sending", attempts=job.attempts + 1):
            return  # cancelled between reading and sending
        try:
            await asyncio.to_thread(transport.send, printer, data)
        except Exception as exc:
            await self._pause(printer, state, job, st.UNREACHABLE,
                              str(exc)[:250] or type(exc).__name__, requeue=True)
            return
        now = utcnow()
        await self._mark(job.id, expect=("sending",), status="sent",
                         sent_at=now, last_error="", layout=without_one_time_codes(job.layout))
        self._set(printer, state, st.UNCONFIRMED,
                  "sent; this printer cannot confirm what it prints")
        state.last_ok_at = now
        state.sent += 1
