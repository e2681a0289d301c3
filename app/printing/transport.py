"""Getting bytes to a printer. Blocking I/O: the worker calls these in a thread."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from app.config import PrinterSection

DLE_EOT_PAPER = b"\x10\x04\x04"  # ESC/POS real-time status: paper roll sensor


class TransportError(Exception):
    """The printer could not be reached or refused the data; the job is retried."""


@dataclass
class ProbeResult:
    online: bool
    detail: str


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
    except Exception as exc:  # noqa: BLE001 - driver errors vary by backend
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


def probe(printer: PrinterSection, timeout: float = 1.5) -> ProbeResult:
    """Ask a network printer for its paper status; other kinds report what we know."""
    if printer.kind == "preview":
        return ProbeResult(True, "preview: jobs are shown on screen")
    if printer.kind != "network":
        return ProbeResult(True, f"{printer.kind} printer: status is known after the next job")
    try:
        with socket.create_connection((printer.host, printer.port), timeout=timeout) as sock:
            sock.sendall(DLE_EOT_PAPER)
            sock.settimeout(timeout)
            try:
                status = sock.recv(1)
            except TimeoutError:
                return ProbeResult(True, "online (the printer does not report paper status)")
    except OSError as exc:
        return ProbeResult(False, _os_reason(printer, exc))
    if status and status[0] & 0x60:
        return ProbeResult(False, "paper out: load a new roll")
    if status and status[0] & 0x0C:
        return ProbeResult(True, "online, paper running low")
    return ProbeResult(True, "online")
