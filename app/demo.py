"""`kirana demo`: a believable store from the committed demo catalogue.

Re-running it keeps the existing demo data (so sales made in the demo survive a
restart); delete the demo folder to start again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from app.catalog.csv_io import parse_catalog
from app.catalog.models import Product
from app.catalog.service import import_catalog
from app.config import load_config
from app.core import migrate
from app.core.auth import create_user
from app.core.db import Database
from app.core.models import User
from app.stock.models import Bin
from app.stock.service import load_bins_csv, record_move

STORE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "store_config"
DEMO_LOGINS = [  # (name, role, PIN): printed at start so anyone can try each role
    ("Asha", "cashier", "2580"),
    ("Ravi", "picker", "1357"),
    ("Meena", "manager", "2468"),
    ("Arjun", "admin", "9753"),
]
ZONE_FOR_CATEGORY = {
    "Dairy & Eggs": "CHILLED",
    "Frozen": "FROZEN",
    "Fruits & Vegetables": "PRODUCE",
}


def write_demo_config(directory: Path, host: str, port: int, orders_per_minute: float = 2.0
                      ) -> Path:
    """The demo store's config: the example counter store, pointed at the demo folder."""
    text = (STORE_CONFIG_DIR / "store.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../var/s1/store.db"', 'path = "store.db"')
    text = text.replace('data_dir = "../var/s1"', 'data_dir = "var"')
    text = text.replace('host = "0.0.0.0"', f'host = "{host}"').replace(
        "port = 8001", f"port = {port}"
    )
    text = text.replace("max_items_per_batch = 40\n",
                        f"max_items_per_batch = 40\ndemo_orders_per_minute = {orders_per_minute}\n")
    path = directory / "store.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _load(cfg_path: Path, progress: Callable | None) -> bool:
    cfg = load_config(cfg_path)
    migrate.upgrade(cfg.database_path)
    db = Database(cfg.database_path)
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
        await _opening_stock(db)
        for name, role, pin in DEMO_LOGINS:
            async with db.read() as s:
                exists = await s.scalar(select(User).where(User.name == name))
            if not exists:
                await create_user(db, name, role, pin)
        return True
    finally:
        await db.dispose()


async def _opening_stock(db: Database) -> None:
    """Put every active product on a shelf of the right zone, with believable counts."""
    rng = random.Random(7)
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
            if qty:
                await record_move(
                    s, product=p, bin=bin_, delta=qty, reason="receive", reference="opening stock"
                )


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
