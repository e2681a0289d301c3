"""Stock pages for managers (receive, adjust, stock list) and the stock JSON API.

Receiving and adjusting are two steps on one screen: scan (or type) a code, the
server finds the product and shows a short form; submit it and the screen shows
the new level and is ready for the next scan.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.catalog import service as catalog
from app.catalog.barcodes import BarcodeError
from app.catalog.units import QuantityError, format_quantity, parse_quantity
from app.core.auth import api_access, requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.web import Form, current_user, page
from app.stock import service
from app.stock.service import ADJUST_REASONS, StockError

MANAGER = requires("manager")


def _ctx(request: Request, mode: str, **extra: Any) -> dict[str, Any]:
    return {"user": current_user(request), "mode": mode, "reasons": list(ADJUST_REASONS), **extra}


@get("/stock", guards=[requires("manager", "picker")])
async def stock_page(request: Request, low: bool = False, q: str = "") -> Template:
    rows = await service.stock_list(request.app.state.db, low_only=low, query=q.strip())
    counts = await service.count_requests(request.app.state.db)
    return page(
        request,
        "stock/list.html",
        fragment="stock/_rows.html",
        user=current_user(request),
        rows=rows,
        counts=counts,
        low=low,
        q=q,
        fq=format_quantity,
    )


@get("/stock/receive", guards=[MANAGER])
async def receive_page(request: Request) -> Template:
    return page(request, "stock/move.html", **_ctx(request, "receive"))


@get("/stock/adjust", guards=[MANAGER])
async def adjust_page(request: Request) -> Template:
    return page(request, "stock/move.html", **_ctx(request, "adjust"))


@post("/stock/{mode:str}/scan", guards=[MANAGER])
async def move_scan(request: Request, mode: str, data: Form) -> Template:
    """Step 1: a scanned or typed code -> the product and the quantity form."""
    if mode not in ("receive", "adjust"):
        raise NotFoundException()
    db = request.app.state.db
    code = data.get("code", "").strip()
    try:
        found = await catalog.lookup_scan(db, code, request.app.state.cfg.measure_rules)
    except (BarcodeError, catalog.UnknownProduct) as exc:
        return page(
            request,
            "stock/_move_step.html",
            status_code=200,
            **_ctx(
                request,
                mode,
                error=str(exc),
                code=code,
                matches=(await catalog.search(db, code, limit=5) if code else []),
            ),
        )
    product, scan = found.product, found.scan
    levels = await service.levels_for_product(db, product.id)
    bins = await service.list_bins(db)
    default_qty = ""
    if scan.weight_g and product.unit != "piece":
        default_qty = format_quantity(scan.weight_g, product.unit).split()[0]
    elif scan.quantity:
        default_qty = str(scan.quantity)
    return page(
        request,
        "stock/_move_step.html",
        **_ctx(
            request,
            mode,
            product=product,
            scan=scan,
            levels=levels,
            bins=bins,
            default_bin=levels[0].bin_code if levels else "",
            default_qty=default_qty,
            fq=format_quantity,
        ),
    )


@get("/stock/{mode:str}/pick/{sku:str}", guards=[MANAGER])
async def move_pick(request: Request, mode: str, sku: str) -> Template:
    """Picking a product from the 'did you mean' list behaves like scanning its SKU."""
    return await move_scan.fn(request, mode, {"code": sku})


def _parse_expiry(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StockError(_("expiry %(text)s is not a date like 2026-12-31")
                         % {"text": repr(text)}) from None


@post("/stock/receive", guards=[MANAGER])
async def receive_submit(request: Request, data: Form) -> Template:
    return await _move_submit(request, "receive", data)


@post("/stock/adjust", guards=[MANAGER])
async def adjust_submit(request: Request, data: Form) -> Template:
    return await _move_submit(request, "adjust", data)


async def _move_submit(request: Request, mode: str, data: dict[str, str]) -> Template:
    """Step 2: record the movement; show the new level and get ready for the next scan."""
    db = request.app.state.db
    user = current_user(request)
    product_id = data.get("product_id", "")
    try:
        product = await catalog.get_by_id(db, product_id)
        if product is None:
            raise StockError(_("scan the product again: it was not found"))
        reason = data.get("reason", "count") if mode == "adjust" else "receive"
        qty_text = data.get("quantity", "").strip()
        if mode == "adjust" and reason == "count" and qty_text in ("0", "0.0", "0.000"):
            quantity = 0
        else:
            quantity = parse_quantity(qty_text, product.unit)
        if mode == "receive":
            batch = data.get("batch", "").strip()[:20] or None
            expiry = _parse_expiry(data.get("expiry", ""))
            if (batch or expiry) and not product.tracks_expiry:
                # A batch would put the product on the expiry page and make the till
                # sell it batch by batch: only for products the catalogue says are dated.
                raise StockError(_("%(name)s is not kept by batch and expiry date: receive it "
                                   "without them (or mark it 'Has an expiry date' in the "
                                   "hub's catalogue)") % {"name": product.name})
            if expiry is not None and expiry < utcnow().astimezone(
                    request.app.state.cfg.tz).date():
                raise StockError(_("expiry %(date)s has passed: expired goods are not taken "
                                   "into stock") % {"date": f"{expiry:%d %b %Y}"})
            result = await service.receive(
                db,
                product_id=product.id,
                bin_code=data.get("bin", ""),
                quantity=quantity,
                user_id=user.id if user else None,
                reference=data.get("reference", "")[:80],
                batch=batch,
                expiry=expiry,
            )
        else:
            result = await service.adjust(
                db,
                product_id=product.id,
                bin_code=data.get("bin", ""),
                reason=reason,
                quantity=quantity,
                user_id=user.id if user else None,
                note=data.get("reference", "")[:80],
            )
    except (StockError, QuantityError) as exc:
        product = await catalog.get_by_id(db, product_id)
        if product is None:
            return page(request, "stock/_move_error.html", **_ctx(request, mode, error=str(exc)))
        # Show the same form again, filled in, with the reason: nothing to re-scan.
        return page(request, "stock/_move_step.html", **_ctx(
            request, mode, product=product, scan=None, form_error=str(exc), values=data,
            levels=await service.levels_for_product(db, product.id),
            bins=await service.list_bins(db), default_bin="", default_qty="",
            fq=format_quantity))
    return page(
        request, "stock/_move_done.html", **_ctx(request, mode, result=result, fq=format_quantity)
    )


@get("/products/{sku:str}", guards=[requires("cashier", "picker", "manager")])
async def product_detail(request: Request, sku: str) -> Template:
    """A product's page: its catalogue data and its stock per bin."""
    db = request.app.state.db
    product = await catalog.get_by_sku(db, sku, with_barcodes=True)
    if product is None:
        raise NotFoundException(_("No product with SKU %(sku)s.") % {"sku": sku})
    levels = await service.levels_for_product(db, product.id)
    return page(
        request,
        "catalog/product.html",
        user=current_user(request),
        product=product,
        levels=levels,
        total=sum(level.on_hand for level in levels),
        qty=lambda n: format_quantity(n, product.unit),
    )


@get("/api/v1/stock/{sku:str}", guards=[api_access("stock:read", "cashier", "picker", "manager")])
async def api_stock(request: Request, sku: str) -> dict[str, Any]:
    db = request.app.state.db
    product = await catalog.get_by_sku(db, sku)
    if product is None:
        raise NotFoundException(f"no product with sku {sku}")
    levels = await service.levels_for_product(db, product.id)
    return {
        "sku": product.sku,
        "unit": product.unit,
        "on_hand": sum(level.on_hand for level in levels),
        "bins": [
            {"bin": level.bin_code, "zone": level.zone, "on_hand": level.on_hand}
            for level in levels
        ],
        "low": sum(level.on_hand for level in levels) <= product.reorder_level,
    }


ROUTES = [
    stock_page,
    receive_page,
    adjust_page,
    move_scan,
    move_pick,
    receive_submit,
    adjust_submit,
    product_detail,
    api_stock,
]
