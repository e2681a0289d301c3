"""Security headers on every HTTP response of the store and the hub (ASVS 14.4).

Added in one place, a Litestar ``before_send`` hook, so error pages, 404s, redirects,
CSV and JSON get them as well as pages. The pages hold no inline script, no inline event
handler (``onclick=``), no ``javascript:`` URL and no ``style=`` attribute: all of it
lives in static/js and static/css, so the policy needs no nonce and no 'unsafe-inline'
(tests/integration/test_security_headers.py checks every template for them).

- ``script-src 'self' 'wasm-unsafe-eval'``: our files and htmx; the camera scanner's
  ZXing reader is WebAssembly, which Chromium compiles only with 'wasm-unsafe-eval'
  (it allows WebAssembly, not JavaScript ``eval``). htmx runs with ``allowEval`` off.
- ``style-src 'self'``: no inline styles at all (htmx's own indicator style is in
  app.css instead); scripts may still set ``element.style``.
- ``img-src 'self' data: blob:``: QR codes are ``data:`` SVGs.
- ``connect-src 'self'``: htmx, server-sent events and websockets to this server only.
- ``frame-ancestors 'none'`` (and X-Frame-Options DENY for old browsers): no page can be
  framed, so no click-jacking of the till or the hub.
- ``Referrer-Policy: no-referrer``: the e-receipt address /r/<token> never leaves in a
  Referer header, not even to our own server's access log.
- ``Cache-Control: no-store`` on everything but /static/: signed-in pages, CSV and JSON
  are never kept by a browser, proxy or the service worker. Static files stay cacheable.
- ``Strict-Transport-Security`` only on responses sent over TLS (a plain-HTTP demo on
  127.0.0.1 must not teach the browser to insist on HTTPS there); no includeSubDomains,
  as other services may live under the same domain.
"""

from __future__ import annotations

from litestar.types import Message, Scope

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
])
ALWAYS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000"
NO_STORE = "no-store"
# A response that already says not to keep it (sw.js: "no-cache", revalidate each time).
_NOT_KEPT = ("no-store", "no-cache")


def security_headers(path: str, scheme: str, cache_control: str | None) -> dict[str, str]:
    """The headers to set on a response to `path` (pure: tested without a server)."""
    out = dict(ALWAYS)
    if scheme == "https":
        out["strict-transport-security"] = HSTS
    if not path.startswith("/static/") and not (
            cache_control and any(word in cache_control.lower() for word in _NOT_KEPT)):
        out["cache-control"] = NO_STORE
    return out


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar before_send hook: set the headers on every HTTP response start."""
    if message["type"] != "http.response.start":
        return
    headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", [])]
    existing = {k: v for k, v in headers}
    cache = existing.get(b"cache-control")
    wanted = security_headers(scope.get("path", ""), scope.get("scheme", "http"),
                              cache.decode("latin-1") if cache else None)
    names = {k.encode() for k in wanted}
    message["headers"] = [(k, v) for k, v in headers if k not in names] + [
        (k.encode(), v.encode()) for k, v in wanted.items()]
