"""`kirana demo`: a hub and two believable stores (counter S1, dark store D2) from the
committed demo catalogue, registered with the hub and syncing; `--store-only` makes
the single store S1 the tests and benches use.

Re-running it keeps the existing demo data (so sales made in the demo survive a
restart); delete the demo folder to start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.config import load_config
from app.core import migrate, resources
from app.core.auth import create_user
from app.core.clock import utcnow
from app.core.db import Database
from app.core.models import User
from app.core.secret_file import attach_pepper
from app.hub.accounts import create_hub_user
from app.stock.models import Bin
from app.stock.service import load_bins_csv, record_move

if TYPE_CHECKING:
    from app.hub.db import HubDatabase

STORE_CONFIG_DIR = resources.STORE_CONFIG
DEMO_LOGINS = [  # (name, role, PIN): printed at start so anyone can try each role
    ("Asha", "cashier", "3816"),
    ("Ravi", "picker", "5209"),
    ("Meena", "manager", "4726"),
    ("Arjun", "admin", "8351"),
]
ZONE_FOR_CATEGORY = {
    "Dairy & Eggs": "CHILLED",
    "Frozen": "FROZEN",
    "Fruits & Vegetables": "PRODUCE",
}


# (name, role, password) at the hub. The demo hub asks for no authenticator code
# (security.require_totp = false in its config; every hub page says so in red): a real
# hub asks its managers and admins for one (docs/security.md).
HUB_LOGINS = [("Meena", "manager", "monsoon mango pickle"),
              ("Arjun", "admin", "saffron kite festival")]


@dataclass(frozen=True)
class DemoStore:
    """A demo store as the hub registers it. Its name and kind are read from its example
    config, so the hub and the store's own pages give it the same name."""

    example: str  # file in store_config/
    lat: float
    lon: float
    pincodes: str

    def _store_table(self) -> dict:
        text = (STORE_CONFIG_DIR / self.example).read_text(encoding="utf-8")
        return tomllib.loads(text)["store"]

    @property
    def name(self) -> str:
        return str(self._store_table()["name"])

    @property
    def kind(self) -> str:
        return str(self._store_table()["kind"])


DEMO_STORES = {
    "S1": DemoStore("store.toml", 12.9719, 77.6412, "560038,560008"),
    "D2": DemoStore("darkstore.toml", 12.9352, 77.6245, "560034,560095,560047"),
}


# The demo site's stores have loyalty on (issue #21, docs/loyalty.md), set so a few bills
# earn enough to spend: 5 points per ₹100, spendable from 20. `--store-only` (what the
# tests and benches use) keeps the example config's default: off.
DEMO_LOYALTY = """
[loyalty]
enabled = true
points_per_100_rupees = 5
min_balance_points = 20
"""


def write_demo_config(directory: Path, host: str, port: int, orders_per_minute: float = 2.0,
                      *, example: str = "store.toml", hub_url: str = "",
                      loyalty: bool = False) -> Path:
    """A demo store's config: an example store config pointed at the demo folder
    (`loyalty`: with the loyalty scheme on)."""
    text = (STORE_CONFIG_DIR / example).read_text(encoding="utf-8")
    text = re.sub(r'path = "\.\./var/\w+/store\.db"', 'path = "store.db"', text)
    text = re.sub(r'data_dir = "\.\./var/\w+"', 'data_dir = "var"', text)
    text = text.replace('host = "0.0.0.0"', f'host = "{host}"')
    text = re.sub(r"(?m)^port = \d+", f"port = {port}", text)
    text = re.sub(r"(?m)^demo_orders_per_minute = .*$", "", text)
    text = text.replace("max_items_per_batch = 40\n",
                        f"max_items_per_batch = 40\ndemo_orders_per_minute = {orders_per_minute}\n")
    if hub_url:
        text = re.sub(r'(?m)^url = "".*$', f'url = "{hub_url}"\ntoken_file = "hub.token"', text)
    if loyalty and not re.search(r"(?m)^\[loyalty\]", text):
        text = text.rstrip("\n") + "\n" + DEMO_LOYALTY
    path = directory / "store.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _load(cfg_path: Path, progress: Callable | None) -> bool:
    cfg = load_config(cfg_path)
    migrate.upgrade(cfg.database_path)
    db = attach_pepper(Database(cfg.database_path), cfg.data_dir)
    try:
        async with db.read() as s:
            if await s.scalar(select(func.count()).select_from(Product)):
                return False
        await load_bins_csv(db, (STORE_CONFIG_DIR / "demo_bins.csv").read_text(encoding="utf-8"))
        parsed = parse_catalog(
            (STORE_CONFIG_DIR / "demo_catalog.csv").read_text(encoding="utf-8"), cfg.measure_rules
        )
        if parsed.errors:
            raise RuntimeError(f"demo catalogue has errors: {parsed.errors[:3]}")
        if progress:
            with progress() as bar:
                task = bar.add_task("Loading demo catalogue", total=len(parsed.rows))
                await import_catalog(
                    db, parsed, progress=lambda d, t: bar.update(task, completed=d, total=t)
                )
        else:
            await import_catalog(db, parsed)
        today = utcnow().astimezone(cfg.tz).date()
        await _opening_stock(db, seed=cfg.store.id, today=today)
        for name, role, pin in DEMO_LOGINS:
            async with db.read() as s:
                exists = await s.scalar(select(User).where(User.name == name))
            if not exists:
                await create_user(db, name, role, pin)
        await _suppliers_and_orders(db, today)
        await _a_cycle_count(db)
        return True
    finally:
        await db.dispose()


async def _opening_stock(db: Database, seed: str = "S1", today: date | None = None) -> None:
    """Put every active product on a shelf of the right zone, with believable counts
    (different per store, the same on every run). Products that track expiry (dairy,
    bread) come in one or two batches with their dates; EXPIRING_SOON has a batch that
    expires within three days and EXPIRED one already past, for the expiry page."""
    rng = random.Random(7 if seed == "S1" else seed)
    today = today or utcnow().date()
    async with db.write() as s:
        bins = list(await s.scalars(select(Bin).order_by(Bin.pick_seq)))
        by_zone: dict[str, list[Bin]] = {}
        for b in bins:
            by_zone.setdefault(b.zone, []).append(b)
        products = list(
            await s.scalars(
                select(Product).where(Product.active).order_by(Product.category, Product.name)
            )
        )
        cursor: dict[str, int] = {}
        for i, p in enumerate(products):
            zone = ZONE_FOR_CATEGORY.get(p.category, "AMBIENT")
            shelf = by_zone.get(zone) or by_zone.get("AMBIENT") or bins
            bin_ = shelf[cursor.get(zone, 0) % len(shelf)]
            cursor[zone] = cursor.get(zone, 0) + 1
            if p.unit == "piece":
                qty = rng.randint(2, 40) if i % 17 else rng.randint(0, 3)  # some run low
            else:
                qty = rng.randint(4, 40) * 1000
            if p.sku in (EXPIRING_SOON, EXPIRED):
                qty = max(qty, 6)  # always on the shelf: the expiry page's examples
            if qty and p.tracks_expiry:
                for batch, expiry, part in _demo_batches(p.sku, qty, today, rng):
                    await record_move(s, product=p, bin=bin_, delta=part, reason="receive",
                                      reference="opening stock", batch=batch, expiry=expiry)
            elif qty:
                await record_move(
                    s, product=p, bin=bin_, delta=qty, reason="receive", reference="opening stock"
                )


EXPIRING_SOON = "CRD-AMMD-400G"  # Amul Masti Dahi 400 g: a batch expires in two days
EXPIRED = "MLK-AMTZ-500ML"  # Amul Taaza Toned Milk 500 ml: a batch expired yesterday


def _demo_batches(sku: str, qty: int, today: date, rng: random.Random
                  ) -> list[tuple[str, date, int]]:
    """(batch, expiry, quantity) for a product's opening stock: a fresh batch, and for
    some an older one that leaves first (FEFO)."""
    fresh = today + timedelta(days=rng.randint(6, 20))
    batches = [(f"B{fresh:%y%m%d}", fresh, qty)]
    if sku in (EXPIRING_SOON, EXPIRED) or (qty >= 6 and rng.random() < 0.4):
        older = today + timedelta(days=2 if sku == EXPIRING_SOON else
                                  -1 if sku == EXPIRED else rng.randint(3, 5))
        first = max(1, qty // 3)
        batches = [(f"A{older:%y%m%d}", older, first)]
        if qty - first:
            batches.append((f"B{fresh:%y%m%d}", fresh, qty - first))
    return batches


# Suppliers of the demo stores: (name, GSTIN, phone, lead time in days, the categories
# they sell us, pieces in a case). The GSTINs are made up, with a right check character.
DEMO_SUPPLIERS = [
    ("Sharma Traders", "29AABCS1429B1ZQ", "+91 98450 12345", 2,
     ("Atta, Rice & Dals", "Oils & Ghee", "Masala & Spices"), 6),
    ("Koramangala Dairy Agency", "29AAFCK7788M1ZH", "+91 99000 44321", 1,
     ("Dairy & Eggs",), 12),
    ("Fresh Bake Distributors", "", "+91 80 4123 9876", 1, ("Bakery",), 10),
    ("Hindustan Wholesale", "29AAACH1234K1ZO", "+91 98860 55210", 3,
     ("Personal Care", "Household & Cleaning"), 24),
]
MARGIN_BP = 1800  # the shop buys at 18 % under the price on the pack


async def _suppliers_and_orders(db: Database, today: date) -> None:
    """The demo's suppliers, what each sells the store (cost of a case, pieces in it),
    and one purchase order already sent to Sharma Traders, due tomorrow."""
    from app.purchasing import rules, service
    from app.purchasing.models import SupplierProduct

    async with db.read() as s:
        products = list(await s.scalars(
            select(Product).where(Product.active, Product.unit == "piece")
            .order_by(Product.category, Product.name)))
        manager = await s.scalar(select(User.id).where(User.name == "Meena"))
    for name, gstin, phone, lead, categories, pack in DEMO_SUPPLIERS:
        supplier_id = await service.save_supplier(db, rules.parse_supplier(
            name=name, gstin=gstin, phone=phone, lead_time_days=str(lead)))
        mine = [p for p in products if p.category in categories]
        async with db.write() as s:  # what it sells us: one transaction, not one per product
            for p in mine:
                s.add(SupplierProduct(
                    supplier_id=supplier_id, product_id=p.id, pack_size=pack,
                    case_cost_minor=p.price_minor * pack * (10_000 - MARGIN_BP) // 10_000))
        if name == "Sharma Traders":
            wanted = [rules.WantedLine(p.id, 2 if i % 3 else 1) for i, p in enumerate(mine[:8])]
            po_id = await service.create_order(db, supplier_id, wanted,
                                               today + timedelta(days=1), manager)
            await service.move_order(db, po_id, "sent", manager)


async def _a_cycle_count(db: Database) -> None:
    """One shelf counted by Ravi, so the Counts page has history and work: the book
    figures matched but for one product he found short by two, which waits to be
    counted again by someone else (round 2)."""
    from app.core.auth import StaffUser
    from app.stock import counts
    from app.stock.models import StockLevel

    async with db.read() as s:
        people = {u.name: StaffUser(u.id, u.name, u.role)
                  for u in await s.scalars(select(User).where(User.name.in_(("Ravi", "Meena"))))}
        shelf = (await s.execute(
            select(Bin.code, Bin.id).join(StockLevel, StockLevel.bin_id == Bin.id)
            .join(Product, Product.id == StockLevel.product_id)
            .where(Bin.zone == "AMBIENT", StockLevel.on_hand > 2, Product.unit == "piece",
                   ~Product.tracks_expiry)
            .group_by(Bin.code, Bin.id).having(func.count() >= 2)
            .order_by(Bin.code).limit(1))).first()
        if shelf is None or len(people) < 2:
            return
        on_shelf = (await s.execute(
            select(Product.sku, func.sum(StockLevel.on_hand))
            .join(StockLevel, StockLevel.product_id == Product.id)
            .where(StockLevel.bin_id == shelf.id).group_by(Product.sku)
            .order_by(Product.sku))).all()
    task = await counts.create_task(db, kind="bin", target=shelf.code, user=people["Meena"])
    ravi, phone = people["Ravi"], counts.new_phone_key()
    await counts.claim(db, task.id, ravi, phone)
    await counts.open_bin(db, task.id, ravi, phone, shelf.code)
    for i, (sku, on_hand) in enumerate(on_shelf):
        found = int(on_hand) - 2 if i == 0 else int(on_hand)
        if found > 0:
            await counts.add_scan(db, task.id, shelf.id, ravi, phone, code=sku,
                                  quantity=str(found))
    await counts.finish_bin(db, task.id, shelf.id, ravi, phone)


# The counter store's offers in the demo site (issue #21, docs/promotions.md), as the
# manager's /promotions form posts them: a BOGO, a quantity slab, a happy hour and a
# coupon (README's demo section names the code).
DEMO_COUPON = "WELCOME50"
DEMO_OFFERS: tuple[dict[str, str], ...] = (
    {"kind": "buy_x_get_y", "name": "Coca-Cola 750 ml: buy 2 get 1 free",
     "skus": "SFT-COKE-750ML", "buy": "2", "get": "1"},
    {"kind": "qty_slab", "name": "Parle Monaco: ₹5 off each from 3",
     "skus": "BIS-PRMN-200G", "size": "3", "amount": "5"},
    {"kind": "percent_off", "name": "Bakery happy hour: 10% off, 5 to 8 pm",
     "categories": "Bakery", "percent": "10", "since": "17:00", "until": "20:00"},
    {"kind": "bill_amount_off", "name": "Welcome: ₹50 off on ₹500",
     "amount": "50", "min_bill": "500", "coupon": DEMO_COUPON},
)


async def _offers(cfg_path: Path) -> int:
    """The demo's offers at a store, made by its manager through the promotions service
    (the same checks as the page). Idempotent: an offer of the same name made here
    before (running or ended by the manager) is not made again. Returns how many made."""
    from app.core.auth import StaffUser
    from app.promotions import service as promotions
    from app.promotions.models import PromotionRow

    cfg = load_config(cfg_path)
    db = Database(cfg.database_path)
    try:
        async with db.read() as s:
            have = set(await s.scalars(select(PromotionRow.name).where(
                PromotionRow.source == "store")))
            manager = await s.scalar(select(User).where(User.name == "Meena"))
        if manager is None:
            return 0
        made = 0
        for form in DEMO_OFFERS:
            if form["name"] not in have:
                await promotions.create(db, cfg, form,
                                        StaffUser(manager.id, manager.name, manager.role))
                made += 1
        return made
    finally:
        await db.dispose()


def write_hub_config(directory: Path, host: str, port: int, orders_per_minute: float = 0.0
                     ) -> Path:
    text = (STORE_CONFIG_DIR / "hub.toml").read_text(encoding="utf-8")
    text = text.replace("max_hops = 3 ", f"demo_orders_per_minute = {orders_per_minute}\n"
                                        "max_hops = 3 ")
    text = text.replace('database_path = "../var/hub/hub.db"', 'database_path = "hub.db"')
    text = text.replace('data_dir = "../var/hub"', 'data_dir = "var"')
    text = text.replace('host = "0.0.0.0"', f'host = "{host}"')
    text = re.sub(r"(?m)^port = \d+", f"port = {port}", text)
    text = re.sub(r"(?m)^require_totp = true.*$",
                  "require_totp = false           # DEMO ONLY: no authenticator code", text)
    path = directory / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _load_hub(cfg_path: Path, store_dirs: dict[str, Path], progress: Callable | None
                    ) -> None:
    """Hub: users, the master catalogue, and the two stores (tokens into their folders)."""
    from app.config import load_hub_config
    from app.hub import service as hub
    from app.hub.db import open_hub_database

    cfg = load_hub_config(cfg_path)
    migrate.hub_upgrade(cfg.database_url)
    db = attach_pepper(open_hub_database(cfg.database_url, cfg.hub), cfg.data_dir)
    try:
        for name, role, password in HUB_LOGINS:
            async with db.read() as s:
                exists = await s.scalar(select(User).where(User.name == name))
            if not exists:
                await create_hub_user(db, name, role, password)
        async with db.read() as s:
            has_catalogue = await s.scalar(select(func.count()).select_from(Product))
        if not has_catalogue:
            parsed = parse_catalog(
                (STORE_CONFIG_DIR / "demo_catalog.csv").read_text(encoding="utf-8"),
                cfg.measure_rules)
            await hub.import_catalog_with_progress(db, parsed, progress, "Hub catalogue")
        from app.hub.webhooks import add_channel

        with contextlib.suppress(hub.HubError):  # registered on an earlier run
            await add_channel(db, "demo")
        for store_id, demo in DEMO_STORES.items():
            token_file = store_dirs[store_id] / "hub.token"
            try:
                made = await hub.add_store(db, store_id, name=demo.name, kind=demo.kind,
                                           lat=demo.lat, lon=demo.lon, pincodes=demo.pincodes)
            except hub.HubError:
                if token_file.exists():
                    continue
                token = await hub.rotate_token(db, store_id)
            else:
                token = made.token
            token_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
        await _transfer_in_flight(db)
    finally:
        await db.dispose()


DEMO_TRANSFER = (("ATA-AASH-1KG", 4), ("DAL-24RJ-500G", 2))


async def _transfer_in_flight(db: HubDatabase) -> None:
    """HQ has asked S1 to send D2 a few staples (issue #17): S1's manager sees a transfer
    to pick and send, D2 one on its way once it is sent, the hub one in flight. Made once."""
    from app.hub import transfers
    from app.hub.models import HubTransfer
    from app.stock.transfer_rules import Line

    async with db.read() as s:
        if await s.scalar(select(func.count()).select_from(HubTransfer)):
            return
    await transfers.create(db, transfers.NewTransfer(
        "S1", "D2", tuple(Line(sku, quantity) for sku, quantity in DEMO_TRANSFER),
        note="Demo: D2 runs short of atta and rajma before Thursday's delivery"), by="ops")


@dataclass(frozen=True)
class DemoSite:
    """Everything `kirana demo` starts: the hub and each store, with their URLs."""

    hub_config: Path
    hub_url: str
    stores: dict[str, tuple[Path, str]]  # id -> (config, url)
    fresh: bool


def prepare_site(directory: Path, *, host: str = "127.0.0.1", port: int = 8000,
                 progress: Callable | None = None, orders_per_minute: float = 2.0) -> DemoSite:
    """The whole demo: hub on port + 100, S1 on port, D2 on port + 1."""
    hub_dir = directory / "hub"
    hub_dir.mkdir(parents=True, exist_ok=True)
    hub_port = port + 100
    hub_cfg = write_hub_config(hub_dir, host, hub_port, orders_per_minute)
    store_dirs = {sid: directory / sid.lower() for sid in DEMO_STORES}
    asyncio.run(_load_hub(hub_cfg, store_dirs, progress))
    stores, fresh = {}, False
    for i, (store_id, demo) in enumerate(DEMO_STORES.items()):
        store_dirs[store_id].mkdir(parents=True, exist_ok=True)
        # Online orders come through the hub now (routed to the nearest store), not
        # straight into a store.
        cfg_path = write_demo_config(
            store_dirs[store_id], host, port + i, 0.0,
            example=demo.example, hub_url=f"ws://127.0.0.1:{hub_port}/sync/v1",
            loyalty=True)
        fresh = asyncio.run(_load(cfg_path, progress)) or fresh
        if demo.kind != "darkstore":  # the offers are the till's: the counter store's
            asyncio.run(_offers(cfg_path))
        stores[store_id] = (cfg_path, f"http://{host}:{port + i}/")
    return DemoSite(hub_cfg, f"http://{host}:{hub_port}/", stores, fresh)


def prepare_demo(
    directory: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    progress: Callable | None = None,
    orders_per_minute: float = 2.0,
) -> tuple[Path, list[tuple[str, str, str]], bool]:
    directory.mkdir(parents=True, exist_ok=True)
    cfg_path = write_demo_config(directory, host, port, orders_per_minute)
    fresh = asyncio.run(_load(cfg_path, progress))
    return cfg_path, DEMO_LOGINS, fresh
