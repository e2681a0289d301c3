"""Application wiring: configuration in, Litestar app out. No business rules here."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from litestar import Litestar, Request, Response, Router, get
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Empty

from app import __version__
from app.catalog import routes as catalog_routes
from app.catalog.units import format_quantity
from app.config import HubConfig, StoreConfig
from app.core import i18n, migrate, pairing, resources, secret_file, staff_routes
from app.core import routes as core_routes
from app.core.api_errors import document_api_errors
from app.core.auth import PUBLIC, requires
from app.core.db import AnyDatabase, Database
from app.core.headers import add_security_headers
from app.core.inputs import bounded_input
from app.core.logs import request_id_middleware
from app.core.loyalty import mask_phone
from app.core.page_words import page_words
from app.core.session_files import SessionFileStore
from app.core.timing import server_timing_middleware
from app.core.web import EXCEPTION_HANDLERS, TEMPLATES_DIR, nav_for, template_globals
from app.display import routes as display_routes
from app.display.live import Broker, till_hook
from app.loyalty import routes as loyalty_routes
from app.ops import routes as ops_routes
from app.ops.metrics import StoreMetrics
from app.orders import live as order_live
from app.orders import routes as order_routes
from app.orders.demo_feed import DemoFeed
from app.picking import routes as picking_routes
from app.pos import coupon_routes, pay_routes, receipt_pages, refund_routes, shift_routes
from app.pos import routes as pos_routes
from app.printing import routes as printing_routes
from app.printing.worker import PrintQueue
from app.promotions import routes as promotion_routes
from app.purchasing import receiving_routes
from app.purchasing import routes as purchasing_routes
from app.reports import gstr1_routes, promotions_routes, sales_routes
from app.reports import routes as report_routes
from app.reports import stock_routes as stock_report_routes
from app.returns import routes as returns_routes
from app.stock import count_routes, expiry_routes
from app.stock import routes as stock_routes
from app.sync.client import SyncClient
from app.sync.pruning import StorePruner

log = logging.getLogger("kirana")
STATIC_DIR = resources.STATIC


class StartupError(Exception):
    """Start-up refused, with a message for the person running `kirana serve`."""


SESSION_AS_LOADED = "kirana_session_as_loaded"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions that can take a new id mid-request (at login)."""

    def get_session_id(self, connection) -> str:
        new_id = connection.scope.get("state", {}).get(core_routes.NEW_SESSION_ID)
        return new_id or super().get_session_id(connection)

    async def load_from_connection(self, connection) -> dict:
        if connection.headers.get("authorization", "").lower().startswith("bearer "):
            data: dict = {}  # machines authenticate per request; no session file to read
        else:
            data = await super().load_from_connection(connection)
        connection.scope.setdefault("state", {})[SESSION_AS_LOADED] = (
            self.serialize_data(data, connection.scope) if data else b""
        )
        return data

    async def store_in_message(self, scope_session, message, connection) -> None:
        state = connection.scope.get("state", {})
        new_id = state.get(core_routes.NEW_SESSION_ID)
        if not new_id and scope_session is not Empty:
            now = self.serialize_data(scope_session, connection.scope) if scope_session else b""
            if now == state.get(SESSION_AS_LOADED, b""):
                # Unchanged, or still empty: no store write and no new cookie. Without this
                # every anonymous or API request would leave a session file behind.
                return
        old_id = connection.cookies.get(self.config.key)
        if new_id and old_id and old_id != new_id:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def _secret(data_dir: Path) -> str:
    """Per-install secret for CSRF tokens (and the PIN pepper); made once, kept out of
    config and logs."""
    return secret_file.install_secret(data_dir)


def asset_version() -> str:
    """Changes whenever a static file changes, so the service worker's cache does too."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(
                f"{path.relative_to(STATIC_DIR)}:{stat.st_size}:{stat.st_mtime_ns}".encode()
            )
    return digest.hexdigest()[:12]


def _jinja_globals(app: Litestar) -> dict[str, Any]:
    """The Jinja environment's globals of an app made by this module."""
    engine = app.template_engine
    assert isinstance(engine, JinjaTemplateEngine)  # TemplateConfig(engine=...) below
    return engine.engine.globals


def _template_engine(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    # A shipped server's pages do not change under it: without this Jinja stats every
    # template and include on each render (about 2 % of the till's CPU, issue #15).
    # KIRANA_RELOAD_TEMPLATES=1 brings it back for someone editing pages.
    env.auto_reload = os.environ.get("KIRANA_RELOAD_TEMPLATES") == "1"
    env.globals.update(template_globals())
    env.globals["qty"] = format_quantity  # features add their own helpers here
    env.globals["app_version"] = __version__

    @pass_context
    def user(context):
        request = context.get("request")
        return request.scope.get("state", {}).get("kirana_user") if request else None

    env.globals["current_user"] = user

    @pass_context
    def idle_seconds(context):
        """The signed-in role's idle limit: app.js signs the device out after it."""
        request = context.get("request")
        return request.scope.get("state", {}).get("kirana_idle_seconds") if request else None

    env.globals["idle_seconds"] = idle_seconds
    env.globals["security_banner"] = lambda: ""
    env.globals["nav_for"] = nav_for
    env.filters["fromjson"] = json.loads
    env.filters["masked_phone"] = mask_phone  # a customer's number on screens (#21 review 7)
    i18n.install(env)  # _(), {% trans %}, money and local() in the request's language
    env.globals["money"] = i18n.money
    env.globals["page_words"] = page_words  # the scripts' words (static/js), translated


def _common_middleware(cfg: StoreConfig | HubConfig, data_dir: Path) -> dict:
    return dict(
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=_template_engine,
        ),
        middleware=[
            request_id_middleware,
            server_timing_middleware,
            i18n.language_middleware,
            RotatingSessionConfig(
                max_age=cfg.security.session_hours * 3600,
                secure=cfg.server.secure_cookies,
                samesite="lax",
                exclude=["^/static/", "^/healthz$", "^/readyz$", "^/sw.js$", "^/sync/"],
            ).middleware
        ],
        # Each session file is read once, then only when it changed (core/session_files).
        stores={"sessions": SessionFileStore(data_dir / "sessions", create_directories=True)},
        # Store Wi-Fi is often weak: gzip halves the first load (htmx alone 52 -> 17 KB).
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024,
                                             gzip_compress_level=6),
        # CSP, nosniff, no-referrer, no-store, HSTS under TLS: on every response, errors too.
        before_send=[add_security_headers],
        csrf_config=CSRFConfig(
            secret=_secret(data_dir),
            cookie_secure=cfg.server.secure_cookies,
            exclude=["^/api/", "^/sync/"],
        ),
    )


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, the app, its routes and templates:
    about 200,000 objects) out of the cyclic garbage collector's sight (issue #15).

    Those objects live as long as the process, yet every full collection walked them
    all: measured in a store server, one full collection during a scan rush took 260 ms,
    a stall for every till at once, and the young collections cost three times the CPU.
    Refcounting still frees whatever of them is dropped later; only reference cycles
    among them would stay (the gc module's own advice for servers, gc.freeze). Run by
    `kirana serve` and `kirana hub` as their last start-up step, not by every app made
    (tests make thousands in one process: their live fixtures would be frozen too)."""
    gc.collect()
    gc.freeze()


def _finish(app: Litestar, cfg: StoreConfig | HubConfig, db: AnyDatabase) -> Litestar:
    app.state.cfg = cfg
    app.state.db = secret_file.attach_pepper(db, cfg.data_dir)
    document_api_errors(app)

    async def pepper_old_hashes() -> None:
        from app.core.auth import pepper_existing_hashes

        await pepper_existing_hashes(db)

    app.on_startup.insert(0, pepper_old_hashes)
    app.state.asset_version = asset_version()
    tz = cfg.tz
    _jinja_globals(app)["local"] = i18n.local_time(tz)
    app.state.service_worker = (
        (STATIC_DIR / "sw.js")
        .read_text(encoding="utf-8")
        .replace("__KIRANA_VERSION__", app.state.asset_version)
    )
    return app


def create_hub_app(cfg: HubConfig, *, check_migrations: bool = True) -> Litestar:
    """The hub: the same program in another mode (catalogue master, central stock,
    store health, the /sync/v1 endpoint)."""
    from app.hub import (
        channel_api,
        loyalty_pages,
        order_pages,
        promotion_pages,
        report_pages,
        transfer_pages,
    )
    from app.hub import pages as hub_pages
    from app.hub.db import PgDatabase, open_hub_database
    from app.hub.demo_feed import HubDemoFeed
    from app.hub.wake import PgWaker, Waker
    from app.hub.worker import HubWorker
    from app.sync import hub_link

    url = cfg.database_url
    if check_migrations:
        pending = migrate.hub_pending_message(url)
        if pending:
            raise StartupError(pending)
    db = open_hub_database(url, cfg.hub)
    waker = PgWaker(url) if db.dialect == "postgresql" else Waker()
    db.waker = waker  # every write's unit of work wakes store links after its commit
    worker = HubWorker(db, cfg, waker)
    demo_feed = HubDemoFeed(db, cfg, waker)
    links = hub_link.LinkRegistry(db, cfg)
    data_dir = cfg.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)

    async def start() -> None:
        from app.hub.sealing import SealingError, seal_at_start

        try:  # TOTP keys and webhook secrets sealed at rest (h011); none opens: stop here
            await seal_at_start(db)
        except SealingError as exc:
            raise StartupError(str(exc)) from None
        if isinstance(db, PgDatabase):  # placement's lock-then-read function (issue #15)
            from app.hub.routing_inputs import prepare

            await prepare(db.engine)
        await waker.start()
        await links.start()
        await worker.start()
        await demo_feed.start()

    async def close() -> None:
        await demo_feed.stop()
        await links.stop()
        await worker.stop()
        await waker.stop()
        await db.dispose()

    schema_router = Router(path="/schema", route_handlers=[], guards=[requires("manager")])
    from app.hub import account_routes
    from app.ops.hub_metrics import HubMetrics

    metrics = HubMetrics(cfg)  # /metrics (ops_routes.metrics, as the store's)
    common = _common_middleware(cfg, data_dir)
    common["middleware"] = [metrics.middleware, *common["middleware"]]

    # The hub signs in with a name, a password and a code, not the store's PIN tiles.
    # (The store's help pages are about the store's screens.)
    store_only = (core_routes.home, core_routes.readyz, core_routes.login_form,
                  core_routes.login_submit, core_routes.help_home, core_routes.help_page)
    shared = [r for r in core_routes.ROUTES if r not in store_only]
    app = Litestar(
        route_handlers=[
            *shared,
            *account_routes.ROUTES,
            hub_readyz,
            *hub_pages.ROUTES,
            *channel_api.ROUTES,
            *order_pages.ROUTES,
            *transfer_pages.ROUTES,
            *promotion_pages.ROUTES,
            *loyalty_pages.ROUTES,
            *report_pages.ROUTES,
            *hub_link.ROUTES,
            *ops_routes.ROUTES,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], opt=PUBLIC, send_as_attachment=False
            ),
        ],
        **common,
        openapi_config=OpenAPIConfig(
            title="Kirana hub", version=__version__,
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
            openapi_router=schema_router,
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=bounded_input,
        on_startup=[start],
        on_shutdown=[close],
        debug=False,
    )
    app.state.waker = waker
    app.state.worker = worker
    app.state.links = links
    app.state.metrics = metrics
    app.state.mode = "hub"
    _jinja_globals(app)["nav_for"] = hub_nav_for
    _jinja_globals(app)["hub_link"] = lambda: None
    if not cfg.security.require_totp:
        log.warning("security.require_totp is off: hub sign-in asks for no code. Never do "
                    "this on a hub reachable from the internet.")
        _jinja_globals(app)["security_banner"] = lambda: i18n.gettext(
            "Demo: signing in to this hub needs no code (security.require_totp = false). "
            "Never run a hub like this where the internet can reach it.")
    return _finish(app, cfg, db)


HUB_NAV = [(i18n.N_("Stores"), "/"), (i18n.N_("Orders"), "/hub/orders"),
           (i18n.N_("Catalogue"), "/hub/catalog"), (i18n.N_("Stock"), "/hub/inventory"),
           (i18n.N_("Transfers"), "/hub/transfers"), (i18n.N_("Sales"), "/hub/sales"),
           (i18n.N_("Promotions"), "/hub/promotions"), (i18n.N_("Loyalty"), "/hub/loyalty"),
           (i18n.N_("Reports"), "/hub/reports"), (i18n.N_("Rules"), "/hub/rules")]
HUB_ADMIN_NAV = [(i18n.N_("People and keys"), "/hub/people"),
                 (i18n.N_("Sign-in locks"), "/security/locks")]


def hub_nav_for(user) -> list[tuple[str, str]]:
    """The hub's menu in the signed-in person's language (issue #22)."""
    if user is None:
        return []
    links = HUB_NAV + (HUB_ADMIN_NAV if user.role == "admin" else [])
    return [(i18n.gettext(label), path) for label, path in links]


@get("/readyz", opt=PUBLIC)
async def hub_readyz(request: Request) -> Response:
    """The hub's database answers and is at the code's migration."""
    from sqlalchemy import text

    checks: dict = {}
    try:
        async with request.app.state.db.read() as s:
            current = await s.scalar(text("SELECT version_num FROM alembic_version"))
        checks["database"] = "ok"
    except Exception as exc:
        current, checks["database"] = None, f"unreachable: {type(exc).__name__}"
    head = migrate.hub_head()
    ready = checks["database"] == "ok" and current == head
    checks["migrations"] = "current" if current == head else f"database at {current}, code {head}"
    return Response({"status": "ready" if ready else "not ready", **checks},
                    status_code=200 if ready else 503)


def create_store_app(cfg: StoreConfig, *, check_migrations: bool = True) -> Litestar:
    from app.stock import transfer_routes  # (issue #17)

    db_path = cfg.database_path
    if check_migrations:
        pending = migrate.pending_message(db_path)
        if pending:
            raise StartupError(pending)
    db = Database(db_path)
    from app.core import log_redact

    log_redact.install()  # e-receipt tokens never reach the access log
    data_dir = cfg.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)

    print_queue = PrintQueue(db, cfg)
    demo_feed = DemoFeed(db, cfg)
    from app.ops.backup import newest_backup_at

    sync_client = SyncClient(db, cfg, newest_backup=newest_backup_at)
    pruner = StorePruner(db, cfg)  # sync retention (app/sync/pruning.py)

    async def start_workers() -> None:
        await print_queue.start()
        await demo_feed.start()
        await sync_client.start()
        await pruner.start()

    async def close_db() -> None:
        await pruner.stop()
        await sync_client.stop()
        await demo_feed.stop()
        await print_queue.stop()
        await db.dispose()

    metrics = StoreMetrics(cfg)
    display_broker = Broker()  # customer displays' per-counter feeds
    common = _common_middleware(cfg, data_dir)
    common["middleware"] = [metrics.middleware, *common["middleware"]]
    schema_router = Router(path="/schema", route_handlers=[], guards=[requires("manager")])
    app = Litestar(
        route_handlers=[
            *core_routes.ROUTES,
            *staff_routes.ROUTES,
            *catalog_routes.ROUTES,
            *stock_routes.ROUTES,
            *transfer_routes.ROUTES,
            *count_routes.ROUTES,
            *expiry_routes.ROUTES,
            # The till's steps, hooked: each one that succeeds bumps its counter's
            # customer displays (app/display/live.py; O(1), no database work).
            Router(path="/", route_handlers=[*pos_routes.ROUTES, *pay_routes.ROUTES,
                                             *coupon_routes.ROUTES],
                   middleware=[till_hook(display_broker)]),
            *display_routes.ROUTES,
            *refund_routes.ROUTES,
            *shift_routes.ROUTES,
            *receipt_pages.ROUTES,
            *order_live.ROUTES,
            *order_routes.ROUTES,
            *report_routes.ROUTES, *sales_routes.ROUTES, *gstr1_routes.ROUTES,
            *stock_report_routes.ROUTES, *promotions_routes.ROUTES,
            *picking_routes.ROUTES,
            *returns_routes.ROUTES,
            *ops_routes.ROUTES,
            *printing_routes.ROUTES,
            *purchasing_routes.ROUTES,
            *receiving_routes.ROUTES,
            *promotion_routes.ROUTES,
            *loyalty_routes.ROUTES,
            *pairing.ROUTES,
            create_static_files_router(
                path="/static", directories=[STATIC_DIR], opt=PUBLIC, send_as_attachment=False
            ),
        ],
        **common,
        openapi_config=OpenAPIConfig(
            title=f"Kirana store {cfg.store.id}",
            version=__version__,
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
            openapi_router=schema_router,
        ),
        exception_handlers={**EXCEPTION_HANDLERS, **pos_routes.EXCEPTION_HANDLERS},
        before_request=bounded_input,
        on_startup=[start_workers],
        on_shutdown=[close_db],
        debug=False,
    )
    app.state.print_queue = print_queue
    app.state.display_broker = display_broker
    app.state.sync_client = sync_client
    app.state.metrics = metrics
    app.state.mode = "store"
    _jinja_globals(app)["hub_link"] = lambda: sync_client.status
    return _finish(app, cfg, db)
