"""Getting bytes to a printer, and asking it whether it printed them.

Network printers that confirm (the default) go through `NetworkLink` (asyncio): the
job is followed by a status request on the same connection, and only the reply
proves the printer consumed the job. `send()` is blocking I/O for the kinds that
cannot report (usb, serial, cups, file, and network printers with confirm = false):
the worker calls it in a thread and records the job as "sent, not confirmed".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

from app.config import PrinterSection
from app.printing import status as st


class TransportError(Exception):
    """The printer could not be reached or refused the data; the job is retried."""


class LinkLost(TransportError):
    """The connection ended before the printer answered."""


@dataclass
class ProbeResult:
    online: bool
    detail: str
    reason: str = st.READY


def confirms(printer: PrinterSection) -> bool:
    """Whether this printer's jobs are confirmed by a status reply after them."""
    return printer.kind == "network" and printer.confirm


class NetworkLink:
    """One TCP connection to a network printer (port 9100), held while a job is unconfirmed."""

    def __init__(self, printer: PrinterSection, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.printer = printer
        self.reader, self.writer = reader, writer
        self._replies = b""

    @classmethod
    async def open(cls, printer: PrinterSection, within: float) -> NetworkLink:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(printer.host, printer.port), within)
        except TimeoutError:
            raise TransportError(_os_reason(printer, TimeoutError())) from None
        except OSError as exc:
            raise TransportError(_os_reason(printer, exc)) from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            _keepalive(sock)
        return cls(printer, reader, writer)

    async def status(self, within: float) -> st.Status | None:
        """Ask now (nothing else in flight); None if no answer `within` seconds."""
        self.writer.write(st.STATUS_REQUEST)
        return await self.wait_reply(st.REPLY_BYTES, within)

    def send_job(self, data: bytes) -> int:
        """Queue the job and a status request behind it; returns the reply bytes to expect."""
        self._replies = b""
        self.writer.write(data + st.STATUS_REQUEST)
        return st.requests_in(data) + st.REPLY_BYTES

    async def wait_reply(self, expected: int, within: float) -> st.Status | None:
        """The status after everything sent so far, or None if it has not come yet (call
        again to keep waiting). Raises LinkLost when the printer closed or reset the line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self._replies) < expected:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(self.reader.read(64), left)
            except TimeoutError:
                break
            except OSError as exc:
                raise LinkLost(_os_reason(self.printer, exc)) from None
            if not chunk:
                raise LinkLost("the printer closed the connection before it answered")
            self._replies += bytes(b for b in chunk if st.is_reply_byte(b))
        if len(self._replies) < st.REPLY_BYTES:
            return None
        # Fewer than expected only when the printer ignored requests inside the job's own
        # image bytes; ours are always the last three (replies come in order).
        if len(self._replies) < expected and loop.time() < deadline:
            return None
        a, b, c = self._replies[-3:]
        self._replies = b""
        return st.decode(a, b, c)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)

    def abort(self) -> None:
        """Drop the line and whatever is still in our buffers (nothing more reaches the printer
        from this connection)."""
        self.writer.transport.abort()


def _keepalive(sock: socket.socket) -> None:
    """Notice within seconds a printer that vanished (power cut) while we wait for its reply."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def send(printer: PrinterSection, data: bytes, timeout: float = 10.0) -> None:
    kind = printer.kind
    try:
        if kind == "preview":
            return  # kept in the database and shown on screen
        if kind == "network":
            with socket.create_connection((printer.host, printer.port), timeout=timeout) as sock:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)  # everything sent: let the printer finish
            return
        if kind == "file":
            with open(printer.device, "ab") as fh:
                fh.write(data)
                fh.flush()
            return
        _send_with_escpos(printer, data)
    except TransportError:
        raise
    except OSError as exc:
        raise TransportError(_os_reason(printer, exc)) from None


def _send_with_escpos(printer: PrinterSection, data: bytes) -> None:
    """USB, serial and CUPS go through python-escpos's own connection classes."""
    try:
        from escpos import printer as escpos_printer

        if printer.kind == "usb":
            device = escpos_printer.Usb(printer.vendor_id, printer.product_id)
        elif printer.kind == "serial":
            device = escpos_printer.Serial(devfile=printer.device, baudrate=printer.baudrate)
        elif printer.kind == "cups":
            device = escpos_printer.CupsPrinter(printer_name=printer.queue)
        else:
            raise TransportError(f"unknown printer kind {printer.kind!r}")
    except ImportError as exc:
        raise TransportError(f"{printer.kind} printing needs an extra package: {exc}") from None
    except Exception as exc:
        raise TransportError(f"cannot open the {printer.kind} printer: {exc}") from None
    try:
        device._raw(data)
    finally:
        close = getattr(device, "close", None)
        if close:
            close()


def _os_reason(printer: PrinterSection, exc: OSError) -> str:
    where = f"{printer.host}:{printer.port}" if printer.kind == "network" else printer.device
    if isinstance(exc, ConnectionRefusedError):
        return f"printer at {where} refused the connection (off, or another port?)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"printer at {where} did not answer (off, or not on this network?)"
    return f"printer at {where}: {exc.strerror or exc}"


async def probe(printer: PrinterSection, within: float = 1.5) -> ProbeResult:
    """Ask a network printer how it is (one status request); other kinds report what we know."""
    if printer.kind == "preview":
        return ProbeResult(True, "preview: jobs are shown on screen")
    if printer.kind != "network":
        return ProbeResult(True, f"{printer.kind} printer: it cannot report its status, so its "
                           "jobs show as sent, not confirmed", st.UNCONFIRMED)
    try:
        link = await NetworkLink.open(printer, within)
    except TransportError as exc:
        return ProbeResult(False, str(exc), st.UNREACHABLE)
    try:
        result = await link.status(within)
    except LinkLost as exc:
        return ProbeResult(False, str(exc), st.NOT_RESPONDING)
    finally:
        link.abort()
    if result is None:
        if not printer.confirm:
            return ProbeResult(True, "online (this printer does not report its status)",
                               st.UNCONFIRMED)
        return ProbeResult(False, "not responding: it takes the connection but does not answer",
                           st.NOT_RESPONDING)
    if not result.ready:
        return ProbeResult(False, f"{st.headline(result.reason)}: {st.next_step(result.reason)}",
                           result.reason)
    return ProbeResult(True, "online, paper running low" if result.paper_low else "online")
