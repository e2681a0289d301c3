"""HTTPS and plain HTTP on one port, so a new phone can fetch the store's CA.

A phone that does not trust the store's CA yet cannot open any HTTPS page of the store
without "Your connection is not private", so the CA has to come over plain HTTP. Plain
HTTP goes to the same port as HTTPS: each new connection's first byte says which it is (a
TLS connection starts with a handshake record, 0x16; an HTTP request with a letter). The
address in the README and on the phone stays the same, no second port needs opening in a
firewall, and plain HTTP to the HTTPS port gets a redirect instead of an empty reply.

How (public asyncio calls only): uvicorn listens without TLS and makes one
`OnePortProtocol` per connection. It pauses reading before the first read, waits until
the socket is readable, peeks at one byte (MSG_PEEK on a duplicate descriptor, so nothing
is consumed), then either starts TLS on the connection (`loop.start_tls`) or leaves it
plain, and hands it to uvicorn's own HTTP protocol. A client that sends nothing is
dropped after FIRST_BYTE_SECONDS.

Over plain HTTP the app itself is never reached: `PlainHttpDoor` answers
/pair/ca.crt (the CA certificate, public by nature), /pair/trust (what to do with it, and
its SHA-256 fingerprint to compare with the one on /pair) and redirects everything else
to HTTPS. The TLS context lives in a `TlsSwitch`, so a renewed certificate is served to
new connections without a restart: `CertificateWatch` checks every hour, renews when due
(a server up for a year must not serve an expired certificate) and picks up a
certificate renewed by hand (`kirana tls renew`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.core import i18n, resources
from app.core.cert_names import covers
from app.core.headers import security_headers
from app.core.tls import TlsFiles, ca_fingerprint, san_of, server_cert

log = logging.getLogger("kirana.https")
FIRST_BYTE_SECONDS = 10.0
HANDSHAKE_SECONDS = 10.0
TLS_HANDSHAKE_RECORD = 0x16
CA_PATH = "/pair/ca.crt"
TRUST_PATH = "/pair/trust"
TRUST_PAGE_CSP = ("default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
                  "frame-ancestors 'none'")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[..., Awaitable[None]]


def ssl_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.cert), str(files.key))
    context.set_alpn_protocols(["http/1.1"])
    return context


class TlsSwitch:
    """The certificate being served, its names and the CA handed out over plain HTTP.
    `reload()` makes new connections use the files as they are now; connections already
    open keep the old certificate until they close."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self.reload()

    def reload(self) -> None:
        served = self.files.cert.read_bytes()
        context = ssl_context(self.files)  # raises before anything is swapped
        cert = server_cert(self.files)
        assert cert is not None  # ssl_context() just loaded it
        self.served = served
        self.ca_pem = self.files.ca_cert.read_bytes()
        self.fingerprint = ca_fingerprint(self.files)
        self.names, self.ips = san_of(cert)
        self.valid_until = cert.not_valid_after_utc
        self.context = context


    def stale(self) -> bool:
        """The certificate on disk is not the one being served (renewed since)."""
        try:
            return self.files.cert.read_bytes() != self.served
        except OSError:
            return False


RENEW_CHECK_SECONDS = 3600.0
WARN_AGAIN_SECONDS = 86400.0


class CertificateWatch:
    """While the server runs: renew the server certificate when due (`renew`, which
    returns tls.Renewal), and serve whatever certificate is on disk now. Started and
    stopped by the app's lifespan hooks."""

    def __init__(self, switch: TlsSwitch, renew: Callable[[], Any],
                 every: float | None = None) -> None:
        self.switch = switch
        self.renew = renew
        self.every = every
        self._task: asyncio.Task | None = None
        self._said = ("", 0.0)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every if self.every is not None else RENEW_CHECK_SECONDS)
            try:
                await self.check()
            except Exception:  # a bad check must not stop the next ones
                log.exception("checking the server certificate failed")

    async def check(self) -> None:
        renewal = await asyncio.to_thread(self.renew)
        message = getattr(renewal, "message", "")
        now = asyncio.get_running_loop().time()
        if message and (message != self._said[0] or now - self._said[1] > WARN_AGAIN_SECONDS):
            (log.warning if message.startswith("Warning") else log.info)("%s", message)
            self._said = (message, now)
        if self.switch.stale():
            try:
                self.switch.reload()
            except (OSError, ssl.SSLError, ValueError) as exc:  # half-written by another process?
                log.warning("the new server certificate could not be loaded (%s); still "
                            "serving the old one, trying again in an hour", exc)
                return
            log.info("Now serving the server certificate valid until %s.",
                     f"{self.switch.valid_until:%d %b %Y}")


_handing_over: set[asyncio.Task] = set()


def sniffing_protocol(switch: TlsSwitch, inner: Callable[..., asyncio.Protocol] | None = None
                      ) -> type[asyncio.Protocol]:
    """A uvicorn `http=` protocol class that serves TLS and plain HTTP on one port;
    `inner` is uvicorn's HTTP protocol class (h11 or httptools, as uvicorn chooses)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    http: Callable[..., asyncio.Protocol] = inner or AutoHTTPProtocol

    class OnePortProtocol(asyncio.Protocol):
        def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                     _loop: asyncio.AbstractEventLoop | None = None) -> None:
            self._make = functools.partial(http, config=config, server_state=server_state,
                                           app_state=app_state, _loop=_loop)
            self._task: asyncio.Task | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            transport.pause_reading()  # before the loop's first read: nothing is consumed
            self._task = asyncio.get_running_loop().create_task(self._hand_over(transport))
            _handing_over.add(self._task)
            self._task.add_done_callback(_handing_over.discard)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._task is not None:
                self._task.cancel()

        async def _hand_over(self, transport: asyncio.Transport) -> None:
            try:
                first = await asyncio.wait_for(_first_byte(transport), FIRST_BYTE_SECONDS)
            except (TimeoutError, OSError):
                first = b""
            except asyncio.CancelledError:
                transport.abort()
                raise
            if not first or transport.is_closing():
                transport.abort()
                return
            protocol = self._make()
            if first[0] != TLS_HANDSHAKE_RECORD:
                transport.set_protocol(protocol)
                protocol.connection_made(transport)
                transport.resume_reading()
                return
            waiting = _Deferred()
            try:
                secure = await asyncio.get_running_loop().start_tls(
                    transport, waiting, switch.context, server_side=True,
                    ssl_handshake_timeout=HANDSHAKE_SECONDS)
            except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
                log.debug("TLS handshake failed: %s", exc)
                transport.abort()
                return
            if secure is None:
                transport.abort()
                return
            secure.set_protocol(protocol)
            protocol.connection_made(secure)
            waiting.hand_to(protocol)

    return OnePortProtocol


class _Deferred(asyncio.Protocol):
    """Stands in for uvicorn's protocol while TLS starts: the request may arrive before
    start_tls() returns its transport, and uvicorn's protocol must not see data before
    it has a transport. What came is passed on in order by hand_to()."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.eof = False
        self.lost: tuple[Exception | None] | None = None

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def eof_received(self) -> bool | None:
        self.eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = (exc,)

    def hand_to(self, protocol: asyncio.Protocol) -> None:
        if self.received:
            protocol.data_received(b"".join(self.received))
        if self.eof:
            protocol.eof_received()
        if self.lost is not None:
            protocol.connection_lost(self.lost[0])


async def _first_byte(transport: asyncio.Transport) -> bytes:
    """The connection's first byte, left in place for whoever reads next (b"" once the
    peer has closed)."""
    loop = asyncio.get_running_loop()
    raw = transport.get_extra_info("socket")
    peeker = socket.socket(fileno=os.dup(raw.fileno()))  # same connection, own descriptor
    try:
        while True:
            readable: asyncio.Future[None] = loop.create_future()

            def wake(future: asyncio.Future[None] = readable) -> None:
                if not future.done():
                    future.set_result(None)

            loop.add_reader(peeker.fileno(), wake)
            try:
                await readable
            finally:
                loop.remove_reader(peeker.fileno())
            try:
                return peeker.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
    finally:
        peeker.close()  # closes the duplicate only


_pages = Environment(loader=FileSystemLoader(resources.TEMPLATES),
                     autoescape=select_autoescape(default=True, default_for_string=True))
i18n.install(_pages)  # the trust page speaks the store's default language (issue #22)


class PlainHttpDoor:
    """ASGI wrapper in front of the store app: what came over TLS goes to the app; over
    plain HTTP only the CA, the page about it, and redirects to HTTPS are answered."""

    def __init__(self, app: Asgi, *, switch: TlsSwitch, base_url: str, store_name: str,
                 language: str = "en") -> None:
        self.app = app
        self.switch = switch
        self.base_url = base_url.rstrip("/")
        self.store_name = store_name
        self.language = language  # [store] language: the phone's own is not known here

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("scheme") == "http":
            await self._plain(scope, send)
        elif scope["type"] == "websocket" and scope.get("scheme") == "ws":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await self.app(scope, receive, send)

    async def _plain(self, scope: Scope, send: Send) -> None:
        path, method = scope.get("path", "/"), scope.get("method", "GET")
        if method in ("GET", "HEAD") and path == CA_PATH:
            await _answer(send, 200, self.switch.ca_pem, {
                "content-type": "application/x-x509-ca-cert",
                "content-disposition": 'attachment; filename="kirana-store-ca.crt"'},
                head=method == "HEAD", path=path)
        elif method in ("GET", "HEAD") and path == TRUST_PATH:
            with i18n.use_language(self.language):
                page = _pages.get_template("core/pair_trust.html").render(
                    store_name=self.store_name, fingerprint=self.switch.fingerprint,
                    ca_path=CA_PATH, app_url=self._https_url(scope, "/"))
            await _answer(send, 200, page.encode(), {
                "content-type": "text/html; charset=utf-8",
                "content-security-policy": TRUST_PAGE_CSP}, head=method == "HEAD", path=path)
        else:
            target = self._https_url(scope, _raw_target(scope))
            body = f"This store's server uses HTTPS: {target}\n".encode()
            await _answer(send, 307, body, {"location": target,
                                            "content-type": "text/plain; charset=utf-8"},
                          head=method == "HEAD", path=path)

    def _https_url(self, scope: Scope, target: str) -> str:
        """The same address over HTTPS when the certificate covers the host the client
        asked for (so a device keeps the address it knows), else the store's address."""
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        try:
            parts = urlsplit(f"//{host}")
            name, port = (parts.hostname or ""), parts.port
        except ValueError:
            name, port = "", None
        if name and port and covers(name, self.switch.names, self.switch.ips):
            return f"https://{f'[{name}]' if ':' in name else name}:{port}{target}"
        return f"{self.base_url}{target}"


def _raw_target(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope.get("path", "/").encode()
    path = raw.decode("latin-1")
    if not path.startswith("/") or path.startswith("//"):
        path = "/"
    query = (scope.get("query_string") or b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


async def _answer(send: Send, status: int, body: bytes, headers: dict[str, str], *,
                  head: bool, path: str) -> None:
    out = {**security_headers(path, "http", None), **headers,
           "content-length": str(len(body))}
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in out.items()]})
    await send({"type": "http.response.body", "body": b"" if head else body})
