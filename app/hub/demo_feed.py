"""Made-up online orders posted at the hub for the demo, so routing is there to see.

Turned on by `[routing] demo_orders_per_minute` (the demo sets it; `kirana demo
--no-orders` leaves it off). Orders go through the same intake as a channel's API
call, from the "demo" channel, for products some store has in stock (packets, and in
about one order in three a loose item by weight), from customers around the demo stores.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from sqlalchemy import case, select

from app.catalog.models import Product
from app.config import HubConfig
from app.core.clock import utcnow
from app.hub import placement
from app.hub.db import HubDatabase
from app.hub.models import HubStockLevel
from app.hub.wake import Waker
from app.orders.demo_feed import LOOSE_MIN_STOCK, NAMES, Trickle, demo_lines
from app.orders.service import OrderError, OrderIn

log = logging.getLogger("kirana.demo")
# (PIN code, lat, lon) around the demo stores: Koramangala, HSR, Indiranagar.
PLACES = (("560034", 12.9352, 77.6245), ("560095", 12.9390, 77.6270),
          ("560102", 12.9116, 77.6474), ("560038", 12.9719, 77.6412))


async def post_one(db: HubDatabase, cfg: HubConfig, rng: random.Random, n: int
                   ) -> tuple[str, ...]:
    async with db.read() as s:
        stocked = set((await s.execute(
            select(HubStockLevel.sku, Product.unit).join(Product, Product.sku == HubStockLevel.sku)
            .where(Product.active.is_(True), HubStockLevel.on_hand >= case(
                (Product.unit == "piece", 4), else_=LOOSE_MIN_STOCK)))).all())
    lines = demo_lines(rng, sorted(sku for sku, unit in stocked if unit == "piece"),
                       sorted(sku for sku, unit in stocked if unit != "piece"), most=4)
    if not lines:
        return ()
    pincode, lat, lon = rng.choice(PLACES)
    cod = rng.random() < 0.3
    incoming = OrderIn(
        channel="demo", external_id=f"WEB-{utcnow():%Y%m%d%H%M%S}-{n}",
        customer_name=rng.choice(NAMES), customer_phone="9" + "".join(
            rng.choice("0123456789") for _ in range(9)),
        address=f"{rng.randint(1, 300)}, {rng.randint(1, 40)}th Cross", pincode=pincode,
        lat=lat + rng.uniform(-0.01, 0.01), lon=lon + rng.uniform(-0.01, 0.01),
        promised_by=utcnow() + timedelta(minutes=rng.randint(15, 30)), lines=lines,
        payment="cod" if cod else "prepaid",
        cod_amount_minor=rng.randint(100, 900) * 100 if cod else 0)
    try:
        placed = await placement.take_order(db, cfg, incoming)
    except OrderError as exc:
        log.info("demo order refused: %s", exc)
        return ()
    return placed.wake


class HubDemoFeed(Trickle):
    def __init__(self, db: HubDatabase, cfg: HubConfig, waker: Waker) -> None:
        # The first order waits a little: the stores connect first.
        super().__init__("hub-demo-orders", cfg.routing.demo_orders_per_minute,
                         first_delay=5.0)
        self.db, self.cfg, self.waker = db, cfg, waker

    async def post(self, rng: random.Random, n: int) -> None:
        await post_one(self.db, self.cfg, rng, n)  # its stores are woken at the commit
