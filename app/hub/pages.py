"""Hub pages (HQ operations) and the hub's read API. Thin: the rules are in service.py."""

from __future__ import annotations

import io
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Template

from app.catalog import rules
from app.catalog.csv_io import parse_catalog, write_catalog
from app.catalog.service import ImportRejected, export_rows, import_catalog, search
from app.core import csv_safe
from app.core.auth import api_access, requires
from app.core.clock import utcnow
from app.core.i18n import N_, _
from app.core.web import Form, UploadProblem, go, page, upload_text
from app.hub import charts, order_states, views
from app.hub import service as hub

HQ = ("manager",)  # HQ operations; admins may do everything
# Words the pages show from data, for the catalogue: a store's link state (order page's
# store list) and the catalogue's units (product page's "Sold by").
SHOWN_WORDS = (N_("online"), N_("syncing"), N_("offline"), N_("piece"), N_("kg"), N_("litre"))


# --- stores and their health ---------------------------------------------------------


async def _stores_board(request: Request) -> dict[str, Any]:
    """What the Stores page shows: each store's link, today's sales by hour and its
    open orders, with the chart shapes (app/hub/charts.py) for the template."""
    cfg = request.app.state.cfg
    stores = await views.store_health(request.app.state.db, cfg.offline_after)
    today = utcnow().astimezone(cfg.tz).date()
    glance = await views.stores_at_a_glance(request.app.state.db, today, cfg.tz)
    return {"stores": stores, "glance": glance, "today": today.isoformat(),
            "columns": charts.columns, "share": charts.share}


@get("/", guards=[requires(*HQ)])
async def dashboard(request: Request) -> Template:
    return page(request, "hub/dashboard.html", "hub/_stores.html",
                **await _stores_board(request))


@get("/hub/stores/live", guards=[requires(*HQ)])
async def stores_fragment(request: Request) -> Template:
    return Template(template_name="hub/_stores.html", context=await _stores_board(request),
                    headers={"Vary": "HX-Request", "Cache-Control": "no-store"})


@get("/hub/stores/{store_id:str}", guards=[requires(*HQ)])
async def store_page(request: Request, store_id: str) -> Template:
    """One store: its link and the link's history, events waiting both ways, today's
    sales by hour and its online orders by state."""
    cfg = request.app.state.cfg
    today = utcnow().astimezone(cfg.tz).date()
    detail = await views.store_detail(request.app.state.db, store_id, cfg.offline_after,
                                      today, cfg.tz)
    if detail is None:
        raise NotFoundException(_("No store %(store)s at this hub")
                                % {"store": store_id.strip().upper()[:8]})
    return page(request, "hub/store.html", d=detail, today=today.isoformat(),
                columns=charts.columns, share=charts.share, labels=order_states.LABELS)


@post("/hub/stores/{store_id:str}/accept-database", guards=[requires("admin")])
async def accept_database(request: Request, store_id: str, data: Form) -> Response | Template:
    """Refused (with the reason on the Stores page) while the store's own link is up, or
    if another connection was refused after the page was loaded."""
    cfg = request.app.state.cfg
    try:
        await hub.accept_store_database(request.app.state.db, store_id,
                                        offline_after=cfg.offline_after,
                                        epoch=data.get("epoch"))
    except hub.UnknownStore as exc:
        raise NotFoundException(str(exc)) from None
    except hub.HubError as exc:
        return page(request, "hub/dashboard.html", "hub/_stores.html", status_code=409,
                    accept_error=str(exc), **await _stores_board(request))
    return go(request, "/")


@get("/api/v1/stores", guards=[api_access("stock:read", *HQ)])
async def api_stores(request: Request) -> dict[str, Any]:
    stores = await views.store_health(request.app.state.db, request.app.state.cfg.offline_after)
    return {"stores": [s.as_json() for s in stores]}


# --- catalogue master ----------------------------------------------------------------


@get("/hub/catalog", guards=[requires(*HQ)])
async def catalog_page(request: Request, q: str = "") -> Template:
    products = await search(request.app.state.db, q, limit=50) if q.strip() else []
    return page(request, "hub/catalog.html", "hub/_catalog_results.html", q=q,
                products=products)


@get("/hub/catalog/new", guards=[requires(*HQ)])
async def product_new(request: Request) -> Template:
    return page(request, "hub/product_edit.html", product=None, codes=[], error="", form={})


@get("/hub/catalog/item/{sku:str}", guards=[requires(*HQ)])
async def product_edit(request: Request, sku: str) -> Template:
    product, codes = await hub.product_with_codes(request.app.state.db, sku)
    if product is None:
        raise NotFoundException(f"no product {sku}")
    delivery = await views.catalogue_delivery(request.app.state.db,
                                              request.app.state.cfg.offline_after, product.sku)
    return page(request, "hub/product_edit.html", product=product, codes=codes, error="",
                form={}, saved=request.query_params.get("saved") == "1", delivery=delivery)


STOP_POLLING = 286  # htmx stops an `every` trigger on this status (and swaps the answer)


@get("/hub/catalog/delivery", guards=[requires(*HQ)])
async def catalogue_delivery(request: Request, sku: str = "") -> Template:
    """Which stores have applied a product's latest change (or, without a SKU, every
    catalogue change): polled by the product and import pages until all have."""
    delivery = await views.catalogue_delivery(request.app.state.db,
                                              request.app.state.cfg.offline_after,
                                              sku or None)
    if delivery is None:
        raise NotFoundException(f"no product {sku.strip().upper()}")
    return Template(template_name="hub/_delivery.html",
                    context={"delivery": delivery, "sku": sku.strip().upper()},
                    status_code=STOP_POLLING if delivery.done else 200,
                    headers={"Vary": "HX-Request", "Cache-Control": "no-store"})


@post("/hub/catalog/save", guards=[requires(*HQ)])
async def product_save(request: Request, data: Form) -> Response | Template:
    measure_rules = request.app.state.cfg.measure_rules
    try:
        edit = rules.parse_product(  # the product rules every catalogue input uses
            sku=data.get("sku", ""), name=data.get("name", ""), price=data.get("price", ""),
            name_local=data.get("name_local", ""),
            mrp=data.get("mrp", ""), gst_rate=data.get("gst", ""), unit=data.get("unit", ""),
            hsn=data.get("hsn", ""),
            pack_size=data.get("pack_size", ""), category=data.get("category", ""),
            reorder_level=data.get("reorder_level", ""),
            tracks_expiry=data.get("tracks_expiry") == "on",
            barcodes=rules.split_codes(data.get("barcodes", "")),
            active=data.get("active") == "on", measure_rules=measure_rules)
        product = await hub.save_product(request.app.state.db, edit, measure_rules)
    except (hub.HubError, ValueError) as exc:
        existing, codes = await hub.product_with_codes(request.app.state.db,
                                                       data.get("sku", ""))
        return page(request, "hub/product_edit.html", status_code=400, product=existing,
                    codes=codes, error=str(exc), form=data)
    await request.app.state.waker.wake_all_stores()
    return go(request, f"/hub/catalog/item/{product.sku}?saved=1")


@get("/hub/catalog/import", guards=[requires(*HQ)])
async def import_form(request: Request) -> Template:
    return page(request, "hub/import.html", report=None, errors=[], error="")


@post("/hub/catalog/import", guards=[requires(*HQ)])
async def import_upload(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    try:
        text = await upload_text(data)
    except UploadProblem as exc:
        return page(request, "hub/import.html", status_code=400, report=None, errors=[],
                    error=str(exc))
    parsed = parse_catalog(text, request.app.state.cfg.measure_rules)
    try:
        report = await import_catalog(request.app.state.db, parsed,
                                      dry_run=data.get("dry_run") == "on",
                                      after_write=hub.announce_products)
    except ImportRejected as exc:
        return page(request, "hub/import.html", status_code=400, report=None,
                    errors=exc.errors[:200], error=str(exc))
    await request.app.state.waker.wake_all_stores()
    delivery = (await views.catalogue_delivery(request.app.state.db,
                                               request.app.state.cfg.offline_after)
                if report.written and (report.created or report.updated) else None)
    return page(request, "hub/import.html", report=report, errors=report.skipped[:200],
                error="", delivery=delivery)


@get("/hub/catalog.csv", guards=[requires(*HQ)])
async def catalog_csv(request: Request) -> Response:
    """The whole master catalogue in the import's format: edit it and import it back."""
    out = io.StringIO()
    write_catalog(await export_rows(request.app.state.db), out)
    stamp = utcnow().astimezone(request.app.state.cfg.tz).strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="catalogue-{stamp}.csv"'})


# --- central stock -------------------------------------------------------------------


@get("/hub/inventory", guards=[requires(*HQ)])
async def inventory_page(request: Request, sku: str = "") -> Template:
    product, rows = (await views.inventory_for(request.app.state.db, sku) if sku.strip()
                     else (None, []))
    low = await views.low_stock(request.app.state.db, limit=100)
    return page(request, "hub/inventory.html", sku=sku.strip().upper(), product=product,
                rows=rows, low=low)


@get("/hub/inventory.csv", guards=[requires(*HQ)])
async def inventory_csv(request: Request) -> Response:
    rows = await views.inventory_rows(request.app.state.db)
    out = io.StringIO()
    columns = ["sku", "name", "store", "on_hand", "reserved", "available"]
    writer = csv_safe.writer(out)
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
    stamp = utcnow().astimezone(request.app.state.cfg.tz).strftime("%Y%m%d-%H%M")
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="stock-all-stores-{stamp}.csv"'})


@get("/api/v1/inventory/{sku:str}", guards=[api_access("stock:read", *HQ)])
async def api_inventory(request: Request, sku: str) -> dict[str, Any]:
    product, rows = await views.inventory_for(request.app.state.db, sku)
    if product is None and not any(r.on_hand for r in rows):
        raise NotFoundException(f"no product {sku.upper()}")
    return {
        "sku": sku.upper(), "name": product.name if product else None,
        "stores": [{"store": r.store_id, "name": r.store_name, "on_hand": r.on_hand,
                    "reserved": r.reserved, "available": r.available} for r in rows],
        "total": {"on_hand": sum(r.on_hand for r in rows),
                  "reserved": sum(r.reserved for r in rows),
                  "available": sum(r.available for r in rows)},
    }


# --- sales ---------------------------------------------------------------------------


@get("/hub/sales", guards=[requires(*HQ)])
async def sales_page(request: Request, day: str = "") -> Template:
    today = utcnow().astimezone(request.app.state.cfg.tz).date()
    chosen = day or today.isoformat()
    try:
        from datetime import date

        date.fromisoformat(chosen)
    except ValueError:
        chosen = today.isoformat()
    rows = await views.day_sales(request.app.state.db, chosen)
    top = max((r.net for r in rows), default=0)
    return page(request, "hub/sales.html", day=chosen, rows=rows, top=max(top, 1))


ROUTES = [dashboard, stores_fragment, store_page, accept_database, api_stores, catalog_page, product_new,
          product_edit, catalogue_delivery, product_save, import_form, import_upload, catalog_csv,
          inventory_page, inventory_csv, api_inventory, sales_page]
