"""The print queue against a real TCP "printer" on 127.0.0.1 and a real store process.

50 receipts; the printer goes away in the middle; the store process is killed and
started again; the printer comes back: every receipt arrives exactly once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.catalog.csv_io import parse_catalog
from app.catalog.service import import_catalog
from app.core.auth import StaffUser, create_user
from app.core.db import Database
from app.core.secret_file import attach_pepper
from app.pos import cart, payment, shifts
from app.printing.models import PrintJob
from app.stock.service import load_bins_csv
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]
KIRANA = Path(sys.executable).with_name("kirana")
CUT = b"\x1dV"  # GS V: every complete receipt ends with a cut


class FakePrinter:
    """A LAN receipt printer on 127.0.0.1 (like port 9100): one connection per job.

    Like an ESC/POS printer it scans the byte stream for real-time status requests
    (DLE EOT n = 0x10 0x04 n) and answers each in order, after consuming the bytes
    before it. `mode` can be switched at any time:

    * "normal": reads, prints, answers "ready";
    * "stalled": accepts connections but reads nothing (jammed; full buffers);
    * "paper_out" / "cover_open": reads, answers with that status, prints nothing
      (what arrives meanwhile is kept in `lost`).

    `after_next_status = "stalled"` (or "paper_out") switches the mode right after
    answering the next status request: the printer fails just as a job starts.
    """

    def __init__(self, port: int = 0) -> None:
        self.jobs: list[bytes] = []  # what was printed, one entry per closed connection
        self._open: list[bytearray] = []  # what connections still open have printed
        self.lost: list[bytes] = []
        self.mode = "normal"
        self.after_next_status: str | None = None
        self.status_requests = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = False
        self._handlers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            handler = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._handlers.append(handler)
            handler.start()

    def _reply(self, n: int) -> int:
        out, cover = self.mode == "paper_out", self.mode == "cover_open"
        if n == 1:
            return 0x12 | (0x08 if out or cover else 0)
        if n == 2:
            return 0x12 | (0x20 if out else 0) | (0x04 if cover else 0)
        if n == 4:
            return 0x12 | (0x60 if out else 0)
        return 0x12

    def _handle(self, conn: socket.socket) -> None:
        printed, pending = bytearray(), b""
        with self._lock:
            self._open.append(printed)
        with conn:
            conn.settimeout(0.05)
            while not self._stop:
                if self.mode == "stalled":
                    time.sleep(0.02)
                    continue
                if pending:
                    pending = self._process(conn, pending, printed)
                    if self.mode == "stalled":
                        continue
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                pending = self._process(conn, pending + data, printed)
            self._consume(printed, pending)
        with self._lock:
            self._open.remove(printed)
            if printed:
                self.jobs.append(bytes(printed))

    def _process(self, conn: socket.socket, buf: bytes, printed: bytearray) -> bytes:
        """Consume data up to each status request and answer it; returns what is left."""
        while buf and self.mode != "stalled":
            i = buf.find(b"\x10\x04")
            if i < 0:
                keep = 1 if buf.endswith(b"\x10") else 0
                self._consume(printed, buf[:len(buf) - keep])
                return buf[len(buf) - keep:]
            if len(buf) < i + 3:
                self._consume(printed, buf[:i])
                return buf[i:]
            n = buf[i + 2]
            if n not in (1, 2, 3, 4):
                self._consume(printed, buf[:i + 2])
                buf = buf[i + 2:]
                continue
            self._consume(printed, buf[:i])
            buf = buf[i + 3:]
            self.status_requests += 1
            with contextlib.suppress(OSError):
                conn.sendall(bytes([self._reply(n)]))
            if self.after_next_status and n == 4:  # the last of one request
                self.mode, self.after_next_status = self.after_next_status, None
        return buf

    def _consume(self, printed: bytearray, data: bytes) -> None:
        if not data:
            return
        if self.mode in ("paper_out", "cover_open"):
            self.lost.append(bytes(data))
        else:
            printed.extend(data)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        for handler in self._handlers:
            handler.join(timeout=5)
        self._sock.close()

    def receipt_numbers(self) -> list[str]:
        """Receipts printed whole (up to their cut), including on a connection the queue
        has not closed yet: the printer answered the status after it, so it is printed."""
        with self._lock:
            jobs = list(self.jobs) + [bytes(job) for job in self._open]
        return [m.group().decode() for job in jobs if CUT in job
                for m in [re.search(rb"S1-\d{6}", job)] if m]


def start_store(config: Path) -> subprocess.Popen:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([str(KIRANA), "serve", "--config", str(config), "--host",
                             "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def printer():
    p = FakePrinter()
    yield p
    p.close()


async def set_up_till(db: Database, cfg):
    parsed = parse_catalog((ROOT / "store_config" / "demo_catalog.csv").read_text(),
                           cfg.measure_rules)
    await import_catalog(db, parsed)
    await load_bins_csv(db, (ROOT / "store_config" / "demo_bins.csv").read_text())
    user = await create_user(db, "Printer Test", "cashier", "3816")
    staff = StaffUser(user.id, user.name, user.role)
    await shifts.open_shift(db, cfg, "C1", staff, 0)
    code = next(r.barcodes[0] for r in parsed.rows if r.unit == "piece" and r.barcodes)
    return staff, code


async def sell(db: Database, cfg, staff: StaffUser, code: str, n: int, start: int) -> list[str]:
    numbers = []
    for i in range(start, start + n):
        view = await cart.current_cart(db, cfg, "C1", staff)
        await cart.add_scan(db, cfg, "C1", staff, view.cart.id, code, cfg.measure_rules)
        await payment.add_tender(db, cfg, "C1", view.cart.id, "cash", None, 10_000_000)
        sale = await payment.complete_sale(db, cfg, "C1", view.cart.id, f"print-test-{i:04d}", staff)
        numbers.append(sale.number)
    return numbers


async def job_states(db: Database) -> dict[str, int]:
    async with db.read() as s:
        states: dict[str, int] = {}
        for status in await s.scalars(select(PrintJob.status)):
            states[status] = states.get(status, 0) + 1
        return states


async def test_fifty_receipts_survive_printer_off_and_store_restart(tmp_path, printer,
                                                                      migrated_template):
    import shutil

    cfg = make_config(tmp_path, **{
        'kind = "preview"               # network | usb | serial | file | cups | preview':
        f'kind = "network"\nhost = "127.0.0.1"\nport = {printer.port}',
    })
    shutil.copy(migrated_template, cfg.database_path)
    db = attach_pepper(Database(cfg.database_path), cfg.data_dir)
    staff, code = await set_up_till(db, cfg)
    store = start_store(Path(cfg.source))
    try:
        numbers = await sell(db, cfg, staff, code, 20, 0)

        async def first_twenty_printed() -> bool:
            return len(printer.receipt_numbers()) == 20

        await wait_for(first_twenty_printed, 60, "the first 20 receipts")
        printer.close()  # the printer is switched off in the middle of the day
        numbers += await sell(db, cfg, staff, code, 30, 20)  # selling goes on
        await asyncio.sleep(1.5)  # the worker tries, fails and backs off
        states = await job_states(db)
        assert states.get("done") == 20 and states.get("queued", 0) + states.get("sending", 0) == 30
        store.send_signal(signal.SIGKILL)  # and the store's computer crashes
        store.wait(timeout=10)
        printed_before = printer.receipt_numbers()

        back = FakePrinter(port=printer.port)  # the printer comes back on the same address
        store = start_store(Path(cfg.source))
        try:
            async def all_done() -> bool:
                return (await job_states(db)).get("done", 0) == 50

            await wait_for(all_done, 90, "all 50 receipts to print")
        finally:
            back.close()
        received = printed_before + back.receipt_numbers()
        assert received == numbers, "every receipt exactly once, in sale order"
        assert all(CUT in job for job in printer.jobs + back.jobs)
    finally:
        if store.poll() is None:
            store.terminate()
            store.wait(timeout=10)
        await db.dispose()
