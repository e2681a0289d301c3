"""Product search pages and the catalogue/scan JSON API. (A product's own page shows
its stock per bin, so it lives in stock/routes.py: stock builds on the catalogue.)"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Template

from app.catalog import service
from app.catalog.barcodes import BarcodeError
from app.catalog.models import BASE_UNIT, Product
from app.core.api_errors import api_errors
from app.core.auth import api_access, requires
from app.core.money import to_decimal_string
from app.core.web import current_user, page

STAFF = ("cashier", "picker", "manager")


@get("/products", guards=[requires(*STAFF)])
async def products_page(request: Request, q: str = "") -> Template:
    results = await service.search(request.app.state.db, q) if q else []
    return page(
        request,
        "catalog/products.html",
        fragment="catalog/_results.html",
        user=current_user(request),
        q=q,
        results=results,
    )


@get("/products/search", guards=[requires(*STAFF)])
async def products_search(request: Request, q: str = "") -> Template:
    results = await service.search(request.app.state.db, q)
    return page(request, "catalog/_results.html", q=q, results=results)


def product_json(p: Product | service.ProductCard) -> dict[str, Any]:
    """A product for the API: an ORM Product with its barcodes loaded, or the plain
    ProductCard the scan reads (the same JSON either way)."""
    codes = (list(p.barcodes) if isinstance(p, service.ProductCard)
             else [b.code for b in p.barcodes])
    return {
        "sku": p.sku,
        "name": p.name,
        "barcodes": codes,
        "price": to_decimal_string(p.price_minor),
        "price_minor": p.price_minor,
        # MRP (maximum retail price, tax inclusive); null when not known
        "mrp": None if p.mrp_minor is None else to_decimal_string(p.mrp_minor),
        "mrp_minor": p.mrp_minor,
        "currency": "INR",
        "gst_rate": p.gst_rate_bp / 100,
        "hsn": p.hsn,
        "unit": p.unit,
        "base_unit": BASE_UNIT[p.unit],
        "pack_size": p.pack_size,
        "category": p.category,
        "active": p.active,
        "tracks_expiry": p.tracks_expiry,
    }


@get("/api/v1/products/{sku:str}", guards=[api_access("catalog:read", *STAFF)])
async def api_product(request: Request, sku: str) -> dict[str, Any]:
    product = await service.get_by_sku(request.app.state.db, sku, with_barcodes=True)
    if product is None:
        raise NotFoundException(f"no product with sku {sku}")
    return product_json(product)


@get("/api/v1/scan/{code:str}", guards=[api_access("catalog:read", *STAFF)],
     responses=api_errors(422))
async def api_scan(request: Request, code: str) -> dict[str, Any]:
    """Parse a scanned code and return the product with what the code carries."""
    try:
        found = await service.lookup_scan_card(
            request.app.state.db, code, request.app.state.cfg.measure_rules)
    except BarcodeError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except service.UnknownProduct as exc:
        raise NotFoundException(str(exc)) from None
    scan = found.scan
    return {
        "code": scan.raw,
        "symbology": scan.symbology,
        "lookup_code": scan.lookup_code,
        "quantity": scan.quantity,
        "weight_g": scan.weight_g,
        "price_minor": scan.price_minor,
        "batch": scan.batch,
        "expiry": scan.expiry.isoformat() if scan.expiry else None,
        "product": product_json(found.product),
    }


ROUTES = [products_page, products_search, api_product, api_scan]
