"""A steady trickle of made-up online orders, for the demo store only.

Turned on by `picking.demo_orders_per_minute` (the demo config sets it; `kirana demo
--no-orders` leaves it off). Orders go through the same intake as the API, from the
"demo" channel, for products that are in stock, promised 10-20 minutes out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from sqlalchemy import case, func, select

from app.catalog.models import Product
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Database
from app.orders import service
from app.stock.models import StockLevel

log = logging.getLogger("kirana.demo")
NAMES = ("Priya Sharma", "Rahul Verma", "Ananya Iyer", "Mohammed Arif", "Kavya Reddy",
         "Suresh Patil", "Neha Gupta", "Arjun Nair", "Fatima Khan", "Vikram Singh")
PINCODES = ("560102", "560034", "560068", "560076", "560095")
# About one demo order in three also has a loose item (fruit, vegetables, oil by the
# litre), so the weighed path of picking and packing is seen in the demo.
LOOSE_SHARE = 0.35
LOOSE_GRAMS = (250, 500, 750, 1000, 1500)  # or ml: what customers order by weight
LOOSE_MIN_STOCK = max(LOOSE_GRAMS)


def demo_lines(rng: random.Random, pieces: list[str], loose: list[str], most: int
               ) -> tuple[service.LineIn, ...]:
    """A made-up order's lines: 1 to `most` packets (1 or 2 of each), and sometimes one
    loose item by weight; at least one line when there is anything to order."""
    lines = [service.LineIn(sku, rng.randint(1, 2))
             for sku in rng.sample(pieces, k=min(len(pieces), rng.randint(1, most)))]
    if loose and (not lines or rng.random() < LOOSE_SHARE):
        lines.append(service.LineIn(rng.choice(loose), rng.choice(LOOSE_GRAMS)))
    return tuple(lines)


async def post_one(db: Database, cfg: StoreConfig, rng: random.Random, n: int) -> None:
    async with db.read() as s:
        stocked = (await s.execute(
            select(Product.sku, Product.unit).join(StockLevel, StockLevel.product_id == Product.id)
            .where(Product.active).group_by(Product.id)
            .having(func.sum(StockLevel.on_hand)
                    >= case((Product.unit == "piece", 3), else_=LOOSE_MIN_STOCK)))).all()
    lines = demo_lines(rng, [sku for sku, unit in stocked if unit == "piece"],
                       [sku for sku, unit in stocked if unit != "piece"], most=5)
    if not lines:
        return
    cod = rng.random() < 0.3
    incoming = service.OrderIn(
        channel="demo", external_id=f"DEMO-{utcnow():%Y%m%d%H%M%S}-{n}",
        customer_name=rng.choice(NAMES), customer_phone="9" + "".join(
            rng.choice("0123456789") for _ in range(9)),
        address=f"{rng.randint(1, 300)}, {rng.randint(1, 40)}th Cross, HSR Layout",
        pincode=rng.choice(PINCODES),
        promised_by=utcnow() + timedelta(minutes=rng.randint(10, 20)), lines=lines,
        payment="cod" if cod else "prepaid", cod_amount_minor=rng.randint(100, 900) * 100 if cod
        else 0, source="demo")
    await service.receive_order(db, cfg, incoming, "demo")


class Trickle:
    """Run `post(rng, n)` about `per_minute` times a minute, at jittered intervals, until
    stopped; a failure is logged and the trickle goes on (a demo helper must never take
    a server down)."""

    def __init__(self, name: str, per_minute: float, first_delay: float = 0.0) -> None:
        self.name, self.per_minute, self.first_delay = name, per_minute, first_delay
        self._task: asyncio.Task | None = None

    async def post(self, rng: random.Random, n: int) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        if self.per_minute > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(60.0 / self.per_minute), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)
            self._task = None

    async def _run(self, every: float) -> None:
        rng = random.Random()
        n = 0
        await asyncio.sleep(self.first_delay)
        while True:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * every)
            n += 1
            try:
                await self.post(rng, n)
            except Exception:
                log.exception("%s", self.name)


class DemoFeed(Trickle):
    def __init__(self, db: Database, cfg: StoreConfig) -> None:
        super().__init__("demo-orders", cfg.picking.demo_orders_per_minute)
        self.db, self.cfg = db, cfg

    async def post(self, rng: random.Random, n: int) -> None:
        await post_one(self.db, self.cfg, rng, n)
