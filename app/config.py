"""Typed store/hub configuration loaded from a TOML file.

Every value is checked at load time so a typo stops start-up with one line a
store manager can act on: ``store_config/s1.toml: store.kind: expected one of
'counter', 'darkstore', got 'shop'`` -- never a traceback.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
import weakref
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from stdnum.in_ import gstin as gstin_check

from app.catalog.barcodes import BarcodeError, MeasureRule
from app.locale import shipped_languages

# Documents a printer may be assigned (the dark-store ones print once orders land).
PRINT_DOCUMENTS = frozenset({"receipt", "refund", "report", "test", "pick_list",
                             "packing_slip", "bag_label", "price_label", "purchase_order"})


T = TypeVar("T")
C = TypeVar("C", bound="ConfigFile")


class ConfigError(Exception):
    """A config file is wrong; ``str(e)`` is ``file: key: what is wrong``."""


# GST documents (issue #18): the rules are app.core.gst_invoice's (config sits below core,
# so it keeps these two patterns itself; tests/unit/test_gst_invoice.py checks they agree).
GST_STATE_CODE = re.compile(r"0[1-9]|[12][0-9]|3[0-8]|97")
GST_SERIES = re.compile(r"[A-Za-z0-9/-]{1,4}")
PHOTO_MAX_KB_LIMIT = 8192  # returns.photo_max_kb's highest: fits the request limit
StoreId = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{0,7}$")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class StoreSection(Base):
    id: StoreId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    kind: Literal["counter", "darkstore"] = "counter"
    currency: Literal["INR"] = "INR"
    timezone: str = "Asia/Kolkata"
    gstin: str = ""
    address: str = ""
    phone: str = ""
    # GST documents (issue #18, docs/gst.md). state_code: the store's GST state when it
    # has no GSTIN ("29"); invoice_series: 1-4 letters, digits, '-' or '/' starting every
    # tax invoice and credit note number ("" = the store id); composition_scheme: every
    # bill is a bill of supply (no GST charged or shown).
    state_code: str = ""
    invoice_series: str = ""
    composition_scheme: bool = False
    # The language of the store's screens for anyone without their own (issue #22): one
    # of the shipped languages (app/locale: "en", "hi"); docs/translating.md.
    language: str = "en"

    @property
    def series(self) -> str:
        """The series of this store's tax invoices and credit notes."""
        return self.invoice_series or self.id

    @property
    def state(self) -> str:
        """The store's own GST state code ('' when neither GSTIN nor state_code is set)."""
        return self.gstin[:2] if self.gstin else self.state_code


class DatabaseSection(Base):
    path: str = "var/store.db"  # relative paths are relative to the config file


class ServerSection(Base):
    host: str = "127.0.0.1"
    port: Port = 8000
    data_dir: str = "var"  # sessions, secrets, certificates; relative to the config file
    secure_cookies: bool = False  # turn on once the store serves HTTPS (kirana tls init)
    # The address tablets and customers' phones use (printed as the e-receipt QR code);
    # empty: http://<host name>:<port>
    public_url: str = ""
    # "text": human lines; "json": one JSON object per line (docs/deploy.md). Both carry
    # each request's id (X-Request-ID).
    log_format: Literal["text", "json"] = "text"


class BarcodeRuleSection(Base):
    name: str
    pattern: str
    kind: Literal["weight", "price", "count"]


class PrinterSection(Base):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    kind: Literal["network", "usb", "serial", "file", "cups", "preview"] = "preview"
    host: str = ""
    port: Port = 9100
    vendor_id: int = 0
    product_id: int = 0
    device: str = ""
    baudrate: int = 9600
    queue: str = ""
    profile: str = "TM-T20II"  # escpos-printer-db profile; TM-T20II prints 48 columns
    columns: Literal[32, 42, 48] = 48
    documents: list[str] = []
    counters: list[str] = []
    # network: a job is done only when the printer answers a status request sent after it;
    # false for a printer that does not answer DLE EOT (its jobs are "sent, not confirmed").
    confirm: bool = True
    status_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 3.0
    poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 2.0  # a printer with a problem


class ReceiptsSection(Base):
    # A customer's e-receipt link (/r/<token>, the receipt's QR) works this many days
    # after the sale; then it answers "expired; ask the store for a copy".
    e_receipt_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90


class PrintingSection(Base):
    # The language of printed receipts (issue #22): "" = the store's language, a shipped
    # language ("en", "hi"), or "bilingual" (the store's language with English beside).
    receipt_language: str = ""


class DisplaySection(Base):
    # The customer display (issue #21, docs/customer-display.md): seconds each idle
    # slideshow image stays up, and seconds the thank-you screen (with the e-receipt QR)
    # stays after a sale before the screen goes back to the slideshow.
    slide_seconds: Annotated[int, msgspec.Meta(ge=2, le=600)] = 8
    thank_you_seconds: Annotated[int, msgspec.Meta(ge=3, le=300)] = 20


class LoyaltySection(Base):
    # Loyalty points (issue #21, docs/loyalty.md): earned per rupee paid (not with points),
    # spent as a tender worth point_value_paise each, at most redeem_cap_percent of a
    # bill and only from a balance of min_balance_points; of the points the hub has not
    # yet confirmed, a store may spend at most offline_allowance_points per customer.
    enabled: bool = False
    points_per_100_rupees: Annotated[int, msgspec.Meta(ge=0, le=100)] = 1
    point_value_paise: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    redeem_cap_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 50
    min_balance_points: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 100
    offline_allowance_points: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 200


class PosSection(Base):
    counters: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,6}$")]] = msgspec.field(
        default_factory=lambda: ["C1"]
    )
    rounding_step_paise: Literal[1, 10, 50, 100] = 100  # bills round to the nearest rupee
    discount_limit_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 10
    void_approval_above_rupees: Annotated[int, msgspec.Meta(ge=0)] = 500
    # Cash out of the drawer (issue #13 item 2): one entry above this, or a shift's cash
    # out without a manager above the second, needs a manager's PIN; the Z report flags a
    # shift whose cash out passes the second.
    cash_out_approval_above_rupees: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 1000
    cash_out_shift_limit_rupees: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 2000
    refund_needs_manager: bool = True
    upi_vpa: str = ""  # e.g. kiranafresh@okaxis ; empty hides UPI QR payments
    upi_payee_name: str = ""
    quick_keys: list[str] = []  # SKUs of loose items shown as big buttons
    cash_quick_amounts: list[Annotated[int, msgspec.Meta(gt=0)]] = msgspec.field(
        default_factory=lambda: [50, 100, 200, 500, 2000]
    )
    denominations: list[Annotated[int, msgspec.Meta(gt=0)]] = msgspec.field(
        default_factory=lambda: [2000, 500, 200, 100, 50, 20, 10, 5, 2, 1]
    )
    max_pieces_per_line: Annotated[int, msgspec.Meta(ge=1, le=100000)] = 999
    max_kg_per_line: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 100


class PickingSection(Base):
    max_orders_per_batch: Annotated[int, msgspec.Meta(ge=1, le=20)] = 4
    max_items_per_batch: Annotated[int, msgspec.Meta(ge=1, le=500)] = 40
    demo_orders_per_minute: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0


class StockSection(Base):
    # The expiry page's default look-ahead (stock/expiry_rules.MAX_DAYS is the same 90).
    expiry_days_ahead: Annotated[int, msgspec.Meta(ge=0, le=90)] = 7
    # Cycle counts (stock/count_rules.py): count again when the difference is above this
    # share of the book figure or this many base units (pieces, g, ml); a manager approves
    # a difference worth more than this.
    count_recount_percent: Annotated[int, msgspec.Meta(ge=0, le=100)] = 5
    count_recount_units: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 5
    count_approval_above_rupees: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 500


class BackupSection(Base):
    # `kirana backup` (app/ops/backup.py, docs/deploy.md): where backups go (relative to
    # the config file), how many of the newest to keep, and for how many days back the
    # newest of each day is kept too; `mirror`: a second folder (another disk) that gets
    # each backup as well ("" = none).
    folder: str = "var/backups"
    keep_last: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 24
    keep_daily: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 30
    mirror: str = ""


class ReturnsSection(Base):
    # Returns of online orders at the returns desk (app/returns/, docs/returns.md): a
    # refund above this many rupees (or a unit flagged as the wrong item) waits for a
    # manager's PIN; a photo of a graded unit may be at most photo_max_kb kilobytes.
    approval_above_rupees: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 500
    # At most 8192 KB: photo + form must fit under the request body limit (10,000,000
    # bytes), or a big photo would get a bare 413 instead of the desk's message.
    photo_max_kb: Annotated[int, msgspec.Meta(ge=16, le=PHOTO_MAX_KB_LIMIT)] = 2048


class HubLinkSection(Base):
    url: str = ""  # e.g. wss://hub.example.in/sync/v1 ; empty = run standalone
    token_file: str = ""
    # ws:// to another machine sends the store's token and all sync data in clear text;
    # refused unless this is set (a test network), and then logged as a warning.
    allow_insecure: bool = False

    @property
    def in_clear_text(self) -> bool:
        """ws:// to a host that is not this machine."""
        parts = urlsplit(self.url)
        if parts.scheme != "ws":
            return False
        host = (parts.hostname or "").rstrip(".")
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True


IdleMinutes = Annotated[int, msgspec.Meta(ge=1, le=24 * 60)]


# Days an acknowledged sync event is kept after it was written (app/sync/pruning.py,
# app/hub/pruning.py, docs/sync-protocol.md "Retention"); at most ten years.
RetentionDays = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class StoreSyncSection(Base):
    # Outbox rows the hub acknowledged and inbox rows are deleted once this old.
    retention_days: RetentionDays = 14


class IdleSection(Base):
    """Minutes without a touch, a key or a scan after which a signed-in device is signed
    out (per role; background refreshes of a page do not count as use)."""

    cashier: IdleMinutes = 15
    picker: IdleMinutes = 30
    manager: IdleMinutes = 15
    admin: IdleMinutes = 10

    def seconds(self, role: str) -> int:
        return int(getattr(self, role, min(self.cashier, self.manager, self.admin))) * 60


class SecuritySection(Base):
    pin_max_failures: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    lockout_seconds: Annotated[int, msgspec.Meta(ge=10, le=86400)] = 300
    # Each lockout in a row lasts twice as long as the last, up to this.
    max_lockout_seconds: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] = 86400
    # Sign-in checks (PIN, password) a second for the whole server, beyond which a
    # sign-in is answered "busy" without hashing anything: a flood cannot slow the tills.
    signins_per_second: Annotated[float, msgspec.Meta(gt=0, le=1000)] = 10.0
    # The hub asks its managers and admins for a TOTP code after the password. Turn
    # off only for a demo on one machine: every hub page then says so in red.
    require_totp: bool = True
    session_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 14)] = 12  # since sign-in
    idle_minutes: IdleSection = msgspec.field(default_factory=IdleSection)


class ConfigFile(Base, weakref=True):
    """What a store's config and the hub's share: the server and sign-in sections, the
    scale-label rules, and paths relative to the file's folder."""

    server: ServerSection = msgspec.field(default_factory=ServerSection)
    security: SecuritySection = msgspec.field(default_factory=SecuritySection)
    barcode_rules: list[BarcodeRuleSection] = []

    # Filled in by load_config, not read from the file.
    source: str = ""
    base_dir: str = "."

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.server.data_dir)

    @property
    def measure_rules(self) -> tuple[MeasureRule, ...]:
        return _compiled_rules(self)


class StoreConfig(ConfigFile, kw_only=True):
    store: StoreSection
    database: DatabaseSection = msgspec.field(default_factory=DatabaseSection)
    printers: list[PrinterSection] = []
    pos: PosSection = msgspec.field(default_factory=PosSection)
    receipts: ReceiptsSection = msgspec.field(default_factory=ReceiptsSection)
    printing: PrintingSection = msgspec.field(default_factory=PrintingSection)
    display: DisplaySection = msgspec.field(default_factory=DisplaySection)
    loyalty: LoyaltySection = msgspec.field(default_factory=LoyaltySection)
    picking: PickingSection = msgspec.field(default_factory=PickingSection)
    stock: StockSection = msgspec.field(default_factory=StockSection)
    hub: HubLinkSection = msgspec.field(default_factory=HubLinkSection)
    returns: ReturnsSection = msgspec.field(default_factory=ReturnsSection)
    backup: BackupSection = msgspec.field(default_factory=BackupSection)
    sync: StoreSyncSection = msgspec.field(default_factory=StoreSyncSection)

    @property
    def database_path(self) -> Path:
        return self.resolve(self.database.path)

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        import socket

        host = self.server.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        return f"http://{host}:{self.server.port}"

    @property
    def templates_dir(self) -> Path:
        """Where a store may override print layouts (print_templates/ beside the config)."""
        return Path(self.base_dir) / "print_templates"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.store.timezone)


def per_config(cache: dict, cfg: ConfigFile, make: Callable[[Any], T]) -> T:
    """A value derived once per loaded config. Keyed by id() but checked through a weak
    reference: a later config that reuses a freed config's id gets its own value."""
    entry = cache.get(id(cfg))
    if entry is None or entry[0]() is not cfg:
        entry = cache[id(cfg)] = (weakref.ref(cfg), make(cfg))
    return entry[1]


_RULE_CACHE: dict = {}


def _compiled_rules(cfg: ConfigFile) -> tuple[MeasureRule, ...]:
    return per_config(_RULE_CACHE, cfg, lambda c: tuple(
        MeasureRule.compile(r.name, r.pattern, r.kind) for r in c.barcode_rules))


_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _friendly(message: str) -> tuple[str, str]:
    """Turn msgspec's "Expected `int`, got `str` - at `$.a.b[0]`" into (key, reason)."""
    match = _PATH_RE.search(message)
    path = match.group("path").lstrip(".") if match else ""
    reason = _PATH_RE.sub("", message)
    unknown = re.match(r"Object contains unknown field `([^`]+)`", reason)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        reason = "unknown key (check the spelling; see store_config/README.md)"
    missing = re.match(r"Object missing required field `([^`]+)`", reason)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        reason = "required value is missing"
    reason = reason.replace("Expected `", "expected ").replace("`, got `", ", got ").rstrip("`")
    return path or "(top level)", reason


def _check_barcode_rules(rules: list[BarcodeRuleSection]) -> None:
    for i, rule in enumerate(rules):
        try:
            MeasureRule.compile(rule.name, rule.pattern, rule.kind)
        except BarcodeError as exc:
            raise ValueError(f"barcode_rules[{i}].pattern", str(exc)) from None


def _check_gst_documents(store: StoreSection) -> None:
    """store.state_code, store.invoice_series (issue #18); raises (key, reason)."""
    if store.state_code:
        if not GST_STATE_CODE.fullmatch(store.state_code):
            raise ValueError("store.state_code", f"{store.state_code[:20]!r} is not a GST "
                             "state code (01 to 38, or 97), like \"29\" for Karnataka")
        if store.gstin and store.gstin[:2] != store.state_code:
            raise ValueError("store.state_code", f"the GSTIN {store.gstin} is of state "
                             f"{store.gstin[:2]}, not {store.state_code}; leave state_code out")
    if not GST_SERIES.fullmatch(store.series):
        if store.invoice_series:
            raise ValueError("store.invoice_series", "a series has 1 to 4 letters, digits, "
                             "'-' or '/' (GST document numbers have at most 16 characters)")
        raise ValueError("store.id", "too long to number GST invoices; set "
                         "store.invoice_series (1 to 4 letters, digits, '-' or '/')")


def _check_languages(cfg: StoreConfig) -> None:
    """store.language, printing.receipt_language (issue #22); raises (key, reason)."""
    shipped = shipped_languages()
    if cfg.store.language not in shipped:
        raise ValueError("store.language", f"{cfg.store.language[:20]!r} is not a shipped "
                         f"language; use one of {', '.join(shipped)}")
    if cfg.printing.receipt_language not in ("", "bilingual", *shipped):
        raise ValueError("printing.receipt_language",
                         f"{cfg.printing.receipt_language[:20]!r} is not a shipped language; "
                         f"use one of {', '.join(shipped)}, \"bilingual\" or leave it out")


def _check_semantics(cfg: StoreConfig) -> None:
    """Checks msgspec's types cannot express; raises (key, reason)."""
    try:
        ZoneInfo(cfg.store.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("store.timezone", f"unknown time zone {cfg.store.timezone!r}") from None
    if cfg.store.gstin and not gstin_check.is_valid(cfg.store.gstin):
        raise ValueError("store.gstin", f"{cfg.store.gstin!r} is not a valid GSTIN")
    if cfg.store.gstin and cfg.store.gstin != gstin_check.compact(cfg.store.gstin):
        # printed and filed as written: " 29aaa..." would make the till's state " 2"
        raise ValueError("store.gstin", f"write the GSTIN as "
                         f"{gstin_check.compact(cfg.store.gstin)!r}: capitals, no spaces")
    _check_gst_documents(cfg.store)
    _check_languages(cfg)
    _check_barcode_rules(cfg.barcode_rules)
    names = [p.name for p in cfg.printers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError("printers", f"printer name {name!r} is used twice")
    for i, p in enumerate(cfg.printers):
        needs = {"network": "host", "file": "device", "serial": "device", "cups": "queue"}
        field = needs.get(p.kind)
        if field and not getattr(p, field):
            raise ValueError(f"printers[{i}].{field}", f"a {p.kind} printer needs {field}")
        unknown = sorted(set(p.documents) - PRINT_DOCUMENTS)
        if unknown:
            raise ValueError(f"printers[{i}].documents", f"unknown document {unknown[0]!r}; "
                             f"use {', '.join(sorted(PRINT_DOCUMENTS))}")
        bad_counters = sorted(set(p.counters) - set(cfg.pos.counters))
        if bad_counters:
            raise ValueError(f"printers[{i}].counters",
                             f"{bad_counters[0]!r} is not in pos.counters")
        if p.kind == "usb" and not (p.vendor_id and p.product_id):
            raise ValueError(f"printers[{i}]", "a usb printer needs vendor_id and product_id")
    if cfg.pos.upi_vpa and not re.match(r"^[A-Za-z0-9._-]{2,256}@[A-Za-z]{2,64}$", cfg.pos.upi_vpa):
        raise ValueError("pos.upi_vpa", f"{cfg.pos.upi_vpa!r} is not a UPI id like shop@bank")
    if len(set(cfg.pos.counters)) != len(cfg.pos.counters) or not cfg.pos.counters:
        raise ValueError("pos.counters", "list each counter once, at least one")
    if cfg.server.public_url and not re.match(r"^https?://[^/\s]+", cfg.server.public_url):
        raise ValueError("server.public_url", "must look like https://kirana.local:8000")
    if cfg.hub.url and not re.match(r"^wss?://", cfg.hub.url):
        raise ValueError("hub.url", "must start with ws:// or wss://")
    if cfg.hub.url and not urlsplit(cfg.hub.url).hostname:
        raise ValueError("hub.url", "name the hub, like wss://hub.example.in/sync/v1")
    if cfg.hub.in_clear_text and not cfg.hub.allow_insecure:
        raise ValueError("hub.url", "ws:// sends the store's token in clear text; use wss://, "
                         "or set hub.allow_insecure = true for a test network")


def parse_config(text: str, source: str = "<config>", base_dir: str = ".") -> StoreConfig:
    return _parse(text, source, base_dir, StoreConfig, _check_semantics)


def _parse(text: str, source: str, base_dir: str, kind: type[C], check: Callable[[C], None]
           ) -> C:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        key, reason = _friendly(str(exc))
        raise ConfigError(f"{source}: {key}: {reason}") from None
    try:
        check(cfg)
    except ValueError as exc:
        key, reason = exc.args
        raise ConfigError(f"{source}: {key}: {reason}") from None
    cfg.source = source
    cfg.base_dir = base_dir
    return cfg


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def load_config(path: str | Path) -> StoreConfig:
    path = Path(path)
    return parse_config(_read(path), source=str(path), base_dir=str(path.resolve().parent))


# --- the hub -------------------------------------------------------------------------


class HubSection(Base):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] = "Kirana hub"
    timezone: str = "Asia/Kolkata"
    currency: Literal["INR"] = "INR"
    # Empty: a SQLite file at database_path. "postgresql+asyncpg://user@host/db" runs the
    # hub on PostgreSQL, where several hub processes may share the database.
    database_url: str = ""
    database_path: str = "var/hub.db"  # relative to the config file
    # PostgreSQL connections per hub process: db_pool_size kept open, db_max_overflow more
    # at busy times; a request finding all in use waits up to db_pool_timeout_seconds.
    # Rule: processes x (pool + overflow + 1 LISTEN) + headroom < max_connections.
    db_pool_size: Annotated[int, msgspec.Meta(ge=1, le=500)] = 10
    db_max_overflow: Annotated[int, msgspec.Meta(ge=0, le=500)] = 10
    db_pool_timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=600)] = 30


class SyncSection(Base):
    # A store with no frame or ping for this long is shown offline even if its socket
    # was never closed (a hub process killed, a half-open link).
    offline_after_seconds: Annotated[int, msgspec.Meta(ge=10, le=3600)] = 60
    # Hub -> store events sent ahead of the store's ack (flow control per link).
    send_window: Annotated[int, msgspec.Meta(ge=500, le=20000)] = 2000
    hello_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    # hub_outbox rows a store acknowledged, and applied store events (but shift.closed),
    # are deleted once this old.
    retention_days: RetentionDays = 14


Criterion = Literal["distance", "coverage", "load", "priority"]


class RoutingSection(Base):
    """How the hub places online orders (the rules page may override these)."""

    criteria: list[Criterion] = msgspec.field(
        default_factory=lambda: ["distance", "coverage", "load", "priority"])
    radius_km: Annotated[float, msgspec.Meta(ge=0, le=100)] = 8.0
    safety_stock: Annotated[int, msgspec.Meta(ge=0, le=100000)] = 0
    # 0: never split. At most money.MAX_AMOUNT_MINOR in rupees (config imports nothing of
    # app; tests/unit/test_config_bounds.py keeps the two equal).
    split_above_rupees: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0
    orders_per_picker: Annotated[int, msgspec.Meta(ge=1, le=50)] = 4
    accept_timeout_seconds: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 120
    max_hops: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    # The stores' live load (issue #24, sync protocol 3; docs/routing.md): capacity from
    # the pickers signed in now instead of the registered figure (while fresh); the
    # weight of a store's own open orders per picker in the "load" ranking (0: unused);
    # a load older than this many seconds is ignored (a store sends it at least every 2 min).
    live_pickers: bool = True
    live_load_weight: Annotated[float, msgspec.Meta(ge=0, le=10)] = 0.25
    load_fresh_seconds: Annotated[int, msgspec.Meta(ge=10, le=3600)] = 300
    demo_orders_per_minute: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.0  # demo only


class CourierSection(Base):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    capacity: Annotated[int, msgspec.Meta(ge=0)] = 0  # open orders at once; 0: no limit


class CourierRuleSection(Base):
    match: str  # "560034", "5600*", "region:East" or "*"
    couriers: list[str]


class RegionSection(Base):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    pincodes: list[str]  # exact codes or prefixes ending in *


class HubIdentity(msgspec.Struct, frozen=True):
    id: str
    name: str
    kind: str


class HubConfig(ConfigFile, kw_only=True):
    """The hub's config; its barcode_rules are the scale-label rules the catalogue's
    in-store codes follow (the same as the stores')."""

    hub: HubSection = msgspec.field(default_factory=HubSection)
    sync: SyncSection = msgspec.field(default_factory=SyncSection)
    routing: RoutingSection = msgspec.field(default_factory=RoutingSection)
    couriers: list[CourierSection] = []
    courier_rules: list[CourierRuleSection] = []
    regions: list[RegionSection] = []

    @property
    def store(self) -> HubIdentity:
        """What shared pages (login, offline) show as the place's name."""
        return HubIdentity(id="HUB", name=self.hub.name, kind="hub")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL the hub runs on (async driver)."""
        if self.hub.database_url:
            return self.hub.database_url
        return f"sqlite:///{self.resolve(self.hub.database_path)}"

    @property
    def offline_after(self) -> timedelta:
        return timedelta(seconds=self.sync.offline_after_seconds)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.hub.timezone)


def _check_hub(cfg: HubConfig) -> None:
    try:
        ZoneInfo(cfg.hub.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("hub.timezone", f"unknown time zone {cfg.hub.timezone!r}") from None
    _check_barcode_rules(cfg.barcode_rules)
    if len(set(cfg.routing.criteria)) != len(cfg.routing.criteria) or not cfg.routing.criteria:
        raise ValueError("routing.criteria", "list each criterion once, at least one")
    courier_names = [c.name for c in cfg.couriers]
    if len(set(courier_names)) != len(courier_names):
        raise ValueError("couriers", "a courier is listed twice")
    region_names = {r.name for r in cfg.regions}
    pin = re.compile(r"^(\d{6}|\d{1,5}\*)$")
    for i, region in enumerate(cfg.regions):
        bad = [c for c in region.pincodes if not pin.match(c)]
        if bad:
            raise ValueError(f"regions[{i}].pincodes", f"{bad[0]!r}: use 560038 or 5600*")
    for i, rule in enumerate(cfg.courier_rules):
        match = rule.match
        if not (match == "*" or pin.match(match) or (
                match.startswith("region:") and match[7:] in region_names)):
            raise ValueError(f"courier_rules[{i}].match", f"{match!r}: use a PIN code "
                             "(560034), a prefix (5600*), region:NAME (a [[regions]] name) or *")
        unknown = [c for c in rule.couriers if c not in courier_names]
        if unknown or not rule.couriers:
            raise ValueError(f"courier_rules[{i}].couriers",
                             f"{unknown[0]!r} is not in [[couriers]]" if unknown
                             else "list at least one courier")
    url = cfg.hub.database_url
    if url and not re.match(r"^(postgresql\+asyncpg://\S+|sqlite:///\S+)$", url):
        raise ValueError("hub.database_url", "use postgresql+asyncpg://user@host:5432/db "
                         "(or leave empty for the SQLite file at hub.database_path)")


def parse_hub_config(text: str, source: str = "<config>", base_dir: str = ".") -> HubConfig:
    return _parse(text, source, base_dir, HubConfig, _check_hub)


def load_hub_config(path: str | Path) -> HubConfig:
    path = Path(path)
    return parse_hub_config(_read(path), source=str(path), base_dir=str(path.resolve().parent))
