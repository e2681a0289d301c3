"""Pairing a new tablet or phone: trust the store's CA, then open (and install) the app."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import PUBLIC, requires
from app.core.cert_names import pairing_problems, trust_page_url
from app.core.tls import TlsFiles, ca_fingerprint, san_of, server_cert
from app.core.web import current_user, page, qr_svg_data_uri


def _files(request: Request) -> TlsFiles:
    return TlsFiles(request.app.state.cfg.data_dir / "tls")


@get("/pair", guards=[requires("manager")])
async def pair_page(request: Request) -> Template:
    cfg = request.app.state.cfg
    files = _files(request)
    base = cfg.public_url
    cert = server_cert(files) if files.present() else None
    # Under `kirana serve` with TLS the CA also comes over plain HTTP on the same port
    # (app/core/lan_https.py): a phone that does not trust the store yet gets no warning.
    ca_url = (trust_page_url(base) if getattr(request.app.state, "plain_http_ca", False)
              else base + "/pair/ca.crt")
    https = base.startswith("https://")
    san = san_of(cert) if cert is not None and https else (None, None)
    return page(
        request, "core/pair.html", user=current_user(request), has_tls=files.present(),
        problems=pairing_problems(base, *san),
        https=https, app_url=base + "/", ca_url=ca_url,
        app_qr=qr_svg_data_uri(base + "/"), ca_qr=qr_svg_data_uri(ca_url),
        fingerprint=ca_fingerprint(files) if files.ca_cert.exists() else "",
        valid_until=cert.not_valid_after_utc if cert else None,
    )


@get("/pair/ca.crt", opt=PUBLIC)
async def ca_certificate(request: Request) -> Response:
    """The CA certificate is public by nature; a device needs it before anyone signs in."""
    files = _files(request)
    if not files.ca_cert.exists():
        raise NotFoundException("This store has no certificate yet: run `kirana tls init`.")
    return Response(
        files.ca_cert.read_bytes(), media_type="application/x-x509-ca-cert",
        headers={"Content-Disposition": 'attachment; filename="kirana-store-ca.crt"'},
    )


ROUTES = [pair_page, ca_certificate]
