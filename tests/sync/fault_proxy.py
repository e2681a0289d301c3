"""A fault-injecting TCP proxy for the sync tests: store -> proxy -> hub on 127.0.0.1.

It runs its own event loop in a background thread (the store and hub are other
processes; the test's own loop stays free). The HTTP upgrade passes through as bytes;
after it, both directions are parsed as RFC 6455 frames, so a whole frame can be sent
twice without corrupting the stream. Faults (seeded, changeable while running):

* cut: every connection gets a random lifetime, after which both sides are aborted
  (RST), wherever the traffic is; and with a small chance per frame, only a random
  prefix of the frame is forwarded before the cut (a frame torn in half);
* delay: a frame is held back a random while (order is kept, as TCP does);
* duplicate: a complete text data frame (FIN set, opcode 1) is forwarded twice.
  By default only protocol messages a repeat cannot turn into a protocol violation
  are doubled (`events`, `ack`, `resend`): a second `hello` or `welcome` is a broken
  peer, not a bad network, and both ends rightly answer it with error 4400.

`stats` counts what it did, so a test can check that faults really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import threading
from dataclasses import dataclass, field, replace

DEFAULT_DUPLICATE_TYPES = frozenset({"events", "ack", "resend"})
_TYPE = re.compile(rb'"type"\s*:\s*"([a-z_]+)"')


@dataclass(frozen=True)
class Faults:
    """Fault rates. All off by default: a transparent proxy."""

    cut_after_mean: float | None = None  # mean lifetime (s) of a connection before a cut
    cut_after_min: float = 0.3  # lifetime floor, so a handshake mostly gets through
    cut_mid_frame: float = 0.0  # chance per frame: forward a random prefix, then cut
    delay: float = 0.0  # chance per frame of being held back
    delay_max: float = 0.1  # seconds, uniform in [0, delay_max]
    duplicate: float = 0.0  # chance per eligible text frame of being sent twice
    duplicate_types: frozenset[str] | None = DEFAULT_DUPLICATE_TYPES  # None: any text frame


@dataclass
class Stats:
    connections: int = 0
    upstream_refused: int = 0  # the target was down: the client was cut at once
    cuts: int = 0  # connections cut on a timer
    mid_frame_cuts: int = 0  # connections cut inside a frame
    duplicates: int = 0
    delays: int = 0
    frames: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})

    @property
    def all_cuts(self) -> int:
        return self.cuts + self.mid_frame_cuts

    def snapshot(self) -> dict:
        return {"connections": self.connections, "upstream_refused": self.upstream_refused,
                "cuts": self.cuts, "mid_frame_cuts": self.mid_frame_cuts,
                "duplicates": self.duplicates, "delays": self.delays,
                "frames_up": self.frames["up"], "frames_down": self.frames["down"]}


@dataclass
class Frame:
    raw: bytes  # exactly as received (masked if it came from the client)
    fin: bool
    opcode: int
    header_len: int
    mask: bytes

    def payload_prefix(self, n: int = 64) -> bytes:
        body = self.raw[self.header_len:self.header_len + n]
        if not self.mask:
            return body
        return bytes(b ^ self.mask[i % 4] for i, b in enumerate(body))


async def read_frame(reader: asyncio.StreamReader) -> Frame:
    """One RFC 6455 frame: 2-byte header, 7/16/64-bit length, mask key if masked."""
    head = await reader.readexactly(2)
    fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
    masked, length = bool(head[1] & 0x80), head[1] & 0x7F
    ext = b""
    if length == 126:
        ext = await reader.readexactly(2)
        length = int.from_bytes(ext, "big")
    elif length == 127:
        ext = await reader.readexactly(8)
        length = int.from_bytes(ext, "big")
    mask = await reader.readexactly(4) if masked else b""
    payload = await reader.readexactly(length)
    header = head + ext + mask
    return Frame(header + payload, fin, opcode, len(header), mask)


async def read_http_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


class _Conn:
    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client, self.upstream = client, upstream
        self.closed = False

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class FaultProxy:
    def __init__(self, target_port: int, *, seed: int = 0, faults: Faults | None = None,
                 target_host: str = "127.0.0.1") -> None:
        self.target_host, self.target_port = target_host, target_port
        self.faults = faults or Faults()
        self.stats = Stats()
        self.port = 0
        self._rng = random.Random(seed)
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # --- control (from the test's thread) ----------------------------------------------

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sync/v1"

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, "127.0.0.1", 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failed.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failed:
            raise failed[0]
        return self

    def set_faults(self, faults: Faults | None = None, **changes) -> None:
        """Swap the fault rates: `faults` (default: all off) with `changes` applied.
        `set_faults()` heals the network (open connections are no longer cut)."""
        self.faults = replace(faults or Faults(), **changes)

    def cut_all(self) -> int:
        """Cut every open connection now; returns how many."""
        return self._call(self._cut_all)

    def open_connections(self) -> int:
        return self._call(lambda: len(self._conns))

    def stop(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _call(self, fn):
        async def go():
            return fn()
        return asyncio.run_coroutine_threadsafe(go(), self._loop).result(10)

    # --- the proxy's loop ---------------------------------------------------------------

    def _cut_all(self) -> int:
        conns = list(self._conns)
        for conn in conns:
            conn.abort()
        return len(conns)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._cut_all()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)

    async def _cutter(self, conn: _Conn) -> None:
        """Cut the connection after a random lifetime, drawn while cuts are on (a
        connection opened before cuts were turned on gets one too)."""
        while not conn.closed:
            mean = self.faults.cut_after_mean
            if not mean:
                await asyncio.sleep(0.1)
                continue
            await asyncio.sleep(self.faults.cut_after_min + self._rng.expovariate(1.0 / mean))
            if not conn.closed and self.faults.cut_after_mean:  # not healed meanwhile
                self.stats.cuts += 1
                conn.abort()

    async def _handle(self, creader: asyncio.StreamReader,
                      cwriter: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        me = asyncio.current_task()
        self._handlers.add(me)
        me.add_done_callback(self._handlers.discard)
        try:
            ureader, uwriter = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self.stats.upstream_refused += 1
            cwriter.transport.abort()
            return
        conn = _Conn(cwriter, uwriter)
        self._conns.add(conn)
        upgraded: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        pumps = [asyncio.create_task(self._pump(conn, creader, uwriter, "up", upgraded)),
                 asyncio.create_task(self._pump(conn, ureader, cwriter, "down", upgraded))]
        cutter = asyncio.create_task(self._cutter(conn))
        try:
            done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if pending:  # one side finished: give the other a moment to finish too
                await asyncio.wait(pending, timeout=5)
        finally:
            conn.abort()
            for task in (*pumps, cutter):
                task.cancel()
            await asyncio.gather(*pumps, cutter, return_exceptions=True)
            self._conns.discard(conn)

    async def _pump(self, conn: _Conn, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, direction: str,
                    upgraded: asyncio.Future[bool]) -> None:
        try:
            head = await read_http_head(reader)
            writer.write(head)
            await writer.drain()
            if direction == "down":
                frames = head.startswith(b"HTTP/1.1 101")
                if not upgraded.done():
                    upgraded.set_result(frames)
            else:
                # Frames only flow once the hub answered 101; anything else stays raw.
                frames = b"upgrade: websocket" in head.lower() and await upgraded
            if not frames:
                await self._raw(reader, writer)
                return
            while not conn.closed:
                frame = await read_frame(reader)
                await self._forward(conn, frame, writer, direction)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            # EOF from this side: pass the half-close on.
            with contextlib.suppress(Exception):
                if writer.can_write_eof() and not conn.closed:
                    writer.write_eof()
        except (ConnectionError, OSError):
            conn.abort()
        finally:
            if not upgraded.done():
                upgraded.set_result(False)

    async def _raw(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()

    async def _forward(self, conn: _Conn, frame: Frame, writer: asyncio.StreamWriter,
                       direction: str) -> None:
        faults, rng = self.faults, self._rng
        if faults.delay and rng.random() < faults.delay:
            self.stats.delays += 1
            await asyncio.sleep(rng.uniform(0, faults.delay_max))
            if conn.closed:
                return
        if faults.cut_mid_frame and rng.random() < faults.cut_mid_frame:
            self.stats.mid_frame_cuts += 1
            writer.write(frame.raw[:rng.randrange(1, len(frame.raw))] if len(frame.raw) > 1
                         else b"")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.drain(), 1)
            conn.abort()
            return
        times = 1
        if (faults.duplicate and frame.fin and frame.opcode == 1
                and self._may_duplicate(frame, faults) and rng.random() < faults.duplicate):
            times = 2
            self.stats.duplicates += 1
        for _ in range(times):
            writer.write(frame.raw)
        self.stats.frames[direction] += 1
        await writer.drain()

    @staticmethod
    def _may_duplicate(frame: Frame, faults: Faults) -> bool:
        if faults.duplicate_types is None:
            return True
        found = _TYPE.search(frame.payload_prefix())
        return bool(found) and found.group(1).decode() in faults.duplicate_types
