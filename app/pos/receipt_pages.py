"""The customer's e-receipt page (public, found only by its unguessable token): the
bill as printed, with its refunds and credit notes, GST rows from receipts.py."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.catalog.units import format_measure
from app.core.auth import PUBLIC
from app.core.i18n import _, pin_language
from app.core.web import page
from app.loyalty import service as loyalty
from app.pos import receipts
from app.printing import service as printing


@get("/r/{token:str}", opt=PUBLIC)
async def e_receipt(request: Request, token: str) -> Response | Template:
    """The customer's copy, for [receipts] e_receipt_days after the sale (the access log
    shows /r/…, core/log_redact). In the receipt's language, whoever opens it."""
    cfg = request.app.state.cfg
    code, bilingual = printing.document_language(cfg, "receipt")
    pin_language(request.scope, code, bilingual=bilingual)
    found = await receipts.e_receipt(request.app.state.db, cfg, token)
    if found is None:
        raise NotFoundException(_("This receipt link is not valid."))
    if found.expired:
        return page(request, "errors/error.html", status_code=410,
                    title=_("Receipt link expired"),
                    message=_("This receipt link has expired; ask the store for a copy."),
                    user=None)
    points = await loyalty.points_of_sale(request.app.state.db, found.sale.id)
    if points is not None:  # anyone holding the link sees it: no balance (issue #21)
        points = {**points, "balance": None}
    return page(request, "pos/e_receipt.html", sale=found.sale, store=cfg.store,
                loyalty_points=points,
                tax_rows=found.tax_rows, refunds=found.refunds,
                refund_tax_rows=found.refund_tax_rows, line_text=receipts.sale_line_text,
                you_saved=receipts.sale_saved,
                measure=format_measure, **receipts.gst_context(found.sale))


ROUTES = [e_receipt]
