"""Security headers on every kind of response, and pages that need no inline script or
style (issue #13 item 16, ASVS 14.4.1-14.4.7, 14.5, 8.2.1, 8.3.x)."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from app.core.auth import create_api_key
from app.core.headers import security_headers
from app.pos.models import Sale
from tests.integration.test_counter_documents import ATTA, catalog, open_till, sell  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
CSP_PARTS = ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'",
             "img-src 'self' data: blob:", "connect-src 'self'", "worker-src 'self'",
             "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'",
             "object-src 'none'"]


def assert_secured(response, *, stored: bool = False) -> None:
    """The headers every response carries; `stored`: a static file the browser may keep."""
    h = response.headers
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    csp = h.get("content-security-policy", "")
    assert all(part in csp for part in CSP_PARTS), f"{where}: CSP {csp!r}"
    assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp, where
    assert h.get("x-content-type-options") == "nosniff", where
    assert h.get("x-frame-options") == "DENY", where
    assert h.get("referrer-policy") == "no-referrer", where
    if stored:
        assert "no-store" not in h.get("cache-control", ""), where
    else:
        assert h.get("cache-control") == "no-store", where
    assert "strict-transport-security" not in h, f"{where}: HSTS over plain HTTP"


async def test_every_kind_of_store_response_carries_the_headers(client, login_as, catalog, db):  # noqa: F811
    assert_secured(await client.get("/login"))  # page, signed out
    assert_secured(await client.get("/healthz"))  # JSON
    assert_secured(await client.get("/no/such/page"))  # 404 page
    assert_secured(await client.get("/pos", follow_redirects=False))  # redirect to sign in
    assert_secured(await client.get("/static/css/app.css"), stored=True)
    assert_secured(await client.get("/static/js/app.js"), stored=True)
    sw = await client.get("/sw.js")
    assert sw.headers["cache-control"] == "no-cache"  # revalidated each time, not stored
    await login_as("manager")
    assert_secured(await client.get("/pos"))  # signed-in page
    assert_secured(await client.get("/stock", headers={"HX-Request": "true"}))  # fragment
    report = await client.get("/reports/fulfilment.csv")
    assert report.headers["content-type"].startswith("text/csv")
    assert_secured(report)  # CSV
    await open_till(client)
    sale_id = await sell(client, catalog[ATTA].barcodes[0])
    async with db.read() as s:
        token = (await s.scalar(select(Sale).where(Sale.id == sale_id))).receipt_token
    receipt = await client.get(f"/r/{token}")
    assert receipt.status_code == 200
    assert_secured(receipt)  # the customer's e-receipt: its token never leaves as a Referer
    key = (await create_api_key(db, "app", "all"))[1]
    api = await client.get(f"/api/v1/products/{catalog[ATTA].sku}",
                           headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 200
    assert_secured(api)  # JSON API


async def test_hsts_only_over_tls(app):
    async with AsyncTestClient(app=app, base_url="https://store.example") as tls:
        response = await tls.get("/login")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert "content-security-policy" in response.headers
    assert "strict-transport-security" not in security_headers("/login", "http", None)


def test_static_files_stay_cacheable_and_no_cache_is_kept():
    assert "cache-control" not in security_headers("/static/js/app.js", "https", None)
    assert security_headers("/sw.js", "http", "no-cache").get("cache-control") is None
    assert security_headers("/hub/inventory.csv", "http", "public, max-age=60")[
        "cache-control"] == "no-store"


INLINE = [
    # A JSON data block (base.html's page words) is never run, so the CSP does not
    # apply to it; Jinja's tojson escapes <, > and & inside it, so it cannot be closed.
    (re.compile(r'<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>', re.I),
     "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler (on...=)"),
    (re.compile(r"\bhx-on", re.I), "hx-on handler (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "inline <style>"),
]


def test_no_template_needs_inline_script_or_style():
    """The CSP allows no inline script, handler or style: each of these would be blocked
    in the browser (and show as a console error in the e2e tests)."""
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)
