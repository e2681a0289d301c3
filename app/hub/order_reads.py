"""Online orders at the hub, the reading side: an order's page (lines, decision log,
webhook calls, a split's parts), the order list and its counts, the rules page's
figures, and the order as JSON (the channel's view and hub staff's). Nothing here
writes; what changes orders is placement.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.config import HubConfig
from app.core.clock import utcnow
from app.core.db import Session
from app.hub import allocation, routing_inputs
from app.hub.db import HubDatabase
from app.hub.models import HubCourier, HubOrder, HubOrderLine, HubOrderLog, HubSetting, HubWebhook
from app.hub.order_states import CUSTOMER_TEXT, LABELS, OPEN


async def current_rules(s: Session, cfg: HubConfig) -> allocation.Rules:
    """The config's routing rules, overridden by the Rules page (hub_settings)."""
    saved = await s.scalar(select(HubSetting.value).where(HubSetting.key == "routing"))
    return routing_inputs.rules_of(saved, cfg)


async def order_lines(s: Session, order: HubOrder) -> list[HubOrderLine]:
    """An order's lines, in their order."""
    return list(await s.scalars(select(HubOrderLine).where(HubOrderLine.order_id == order.id)
                                .order_by(HubOrderLine.position)))


@dataclass(frozen=True)
class OrderPage:
    order: HubOrder
    lines: list[HubOrderLine]
    log: list[HubOrderLog]
    webhooks: list[HubWebhook]
    parts: list[HubOrder]  # a split order's parts, one per store


async def get_order(db: HubDatabase, order_id: str) -> OrderPage | None:
    async with db.read() as s:
        order = await s.get(HubOrder, order_id)
        if order is None:
            order = await s.scalar(select(HubOrder).where(HubOrder.number == order_id.upper()))
        if order is None:
            return None
        lines = await order_lines(s, order)
        log = list(await s.scalars(select(HubOrderLog).where(HubOrderLog.order_id == order.id)
                                   .order_by(HubOrderLog.at, HubOrderLog.id)))
        hooks = list(await s.scalars(select(HubWebhook).where(HubWebhook.order_id == order.id)
                                     .order_by(HubWebhook.created_at)))
        parts = list(await s.scalars(select(HubOrder).where(HubOrder.parent_id == order.id)
                                     .order_by(HubOrder.number)))
    return OrderPage(order, lines, log, hooks, parts)


async def list_orders(db: HubDatabase, *, status: str = "", store: str = "", channel: str = "",
                      late: bool = False, limit: int = 200) -> list[HubOrder]:
    now = utcnow()
    async with db.read() as s:
        query = select(HubOrder).order_by(HubOrder.created_at.desc()).limit(limit)
        if status == "open":
            query = query.where(HubOrder.status.in_((*OPEN, "new", "unfulfillable", "split")))
        elif status:
            query = query.where(HubOrder.status == status)
        if store:
            query = query.where(HubOrder.store_id == store.upper())
        if channel:
            query = query.where(HubOrder.channel == channel)
        if late:
            query = query.where(HubOrder.promised_by < now,
                                HubOrder.status.not_in(("delivered", "cancelled", "undelivered")))
        return list(await s.scalars(query))


async def counts(db: HubDatabase) -> dict[str, int]:
    async with db.read() as s:
        return dict((await s.execute(select(HubOrder.status, func.count())
                                     .group_by(HubOrder.status))).all())


async def rules_and_couriers(db: HubDatabase, cfg: HubConfig
                             ) -> tuple[allocation.Rules, dict[str, bool]]:
    """What the rules page shows: the routing rules in force and each courier's
    availability."""
    async with db.read() as s:
        rules = await current_rules(s, cfg)
        available = {c.name: c.available for c in await s.scalars(select(HubCourier))}
    return rules, available


def order_json(order: HubOrder, lines: list[HubOrderLine] | None = None,
               log: list[HubOrderLog] | None = None) -> dict:
    """An order as its channel sees it: status, a customer-facing sentence and the
    status history; no routing log (issue #13 item 5)."""
    out: dict[str, Any] = {"id": order.id, "number": order.number, "channel": order.channel,
           "external_id": order.external_id, "status": order.status,
           "status_text": CUSTOMER_TEXT.get(order.status, LABELS.get(order.status, "")),
           "store": order.store_id, "courier": order.courier or None,
           "promised_by": order.promised_by.isoformat(),
           "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat()}
    if lines is not None:
        out["lines"] = [{"sku": line.sku, "quantity": line.quantity,
                         "price_minor": line.price_minor} for line in lines]
    if log is not None:
        out["history"] = [{"at": order.created_at.isoformat(), "status": "received",
                           "text": CUSTOMER_TEXT["received"]}] + [
            {"at": e.at.isoformat(), "status": status, "text": CUSTOMER_TEXT.get(status, "")}
            for e in log if e.kind == "status" and (status := _status_of(e))]
    if order.parent_id:
        out["part_of"] = order.parent_id
    return out


def _status_of(entry: HubOrderLog) -> str:
    try:
        return str(json.loads(entry.detail or "{}").get("status") or "")
    except ValueError:
        return ""


def staff_order_json(order: HubOrder, lines: list[HubOrderLine] | None = None,
                     log: list[HubOrderLog] | None = None) -> dict:
    """The channel's view plus what hub staff need: the reason, hops and the routing log
    (which names other stores, their distances and stock)."""
    out = order_json(order, lines, log)
    out.update({"reason": order.reason or None, "hops": order.hops})
    if log is not None:
        out["log"] = [{"at": e.at.isoformat(), "kind": e.kind, "text": e.text} for e in log]
    return out
