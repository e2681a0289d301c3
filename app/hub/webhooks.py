"""Sales channels and their webhooks: adding a channel (its API key and signing
secret), the calls a status change queues (in its transaction), and delivering them
(claimed with a lease, posted outside any transaction, retried with backoff; each
order's calls one after another). A channel's signing secret is kept sealed
(hub/sealing.py) and opened only to sign a call."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from app.core.clock import utcnow
from app.core.db import Session, get_existing
from app.core.ids import uuid7
from app.hub import sealing
from app.hub.db import HubDatabase
from app.hub.events import StatusChanged, uow_of
from app.hub.models import HubChannel, HubWebhook
from app.hub.order_states import CUSTOMER_TEXT, STORE_STEPS
from app.hub.service import HubError, announce_channels

log = logging.getLogger("kirana.hub")


async def add_channel(db: HubDatabase, name: str, webhook_url: str = "",
                      return_window_days: int = 7, returns_to_nearest: bool = False
                      ) -> tuple[str, str]:
    """A sales channel: its API key (scope orders:write, named after the channel) and
    the webhook signing secret. Both are shown once. `return_window_days`: how long
    after delivery it may ask for a return (issue #19); `returns_to_nearest`: its returns
    go to the nearest online dark store when the packing store cannot take them."""
    from app.core.auth import create_api_key

    name = name.strip().lower()
    if not name or len(name) > 40 or not all(c.isalnum() or c in "-_." for c in name):
        raise HubError("channel name: letters, digits, - _ . (up to 40)")
    if webhook_url and not webhook_url.startswith(("http://", "https://")):
        raise HubError("webhook URL must start with http:// or https://")
    if isinstance(return_window_days, bool) or not 0 <= return_window_days <= 365:
        raise HubError("the return window is 0 to 365 days")
    secret = secrets.token_hex(24)
    async with db.write() as s:
        if await s.get(HubChannel, name) is not None:
            raise HubError(f"channel {name} exists already")
        s.add(HubChannel(name=name, webhook_url=webhook_url,
                         webhook_secret=sealing.seal_webhook_secret(db, name, secret),
                         created_at=utcnow(), return_window_days=return_window_days,
                         returns_to_nearest=bool(returns_to_nearest)))
        await s.flush()
        await announce_channels(s)
    try:
        _key, full = await create_api_key(db, name, "orders:write", channel=name)
    except ValueError as exc:
        raise HubError(str(exc)) from None
    return full, secret


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signing_key(db: HubDatabase, channel: HubChannel) -> str | sealing.Unsealable:
    """The channel's webhook secret, opened; the error (logged) when it does not open."""
    try:
        return sealing.open_webhook_secret(db, channel.name, channel.webhook_secret)
    except sealing.Unsealable as exc:
        log.error("channel %s: %s; calls to it fail until it has a new secret "
                  "(kirana hub rotate-webhook-secret %s)", channel.name, exc, channel.name)
        return exc


RETRY_SECONDS = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = 12
POST_TIMEOUT_SECONDS = 20  # one call, start to end, however slowly the channel answers
LEASE_SECONDS = 60  # a claim outlives its call; a dead process's claims lapse after this
PROCESS_TAG = f"{socket.gethostname()[:16]}:{os.getpid()}"  # + a call's own 13 chars


def _due_query(now: datetime, limit: int) -> Any:
    """Due calls that are the earliest open call of their order: an order's later call
    waits while an earlier one is unsent, being sent (claimed) or waiting for a retry."""
    earlier = aliased(HubWebhook)
    blocked = exists().where(
        earlier.order_id == HubWebhook.order_id, earlier.delivered_at.is_(None),
        earlier.next_attempt_at.is_not(None),
        tuple_(earlier.created_at, earlier.id) < tuple_(HubWebhook.created_at, HubWebhook.id))
    return (select(HubWebhook)
            .where(HubWebhook.delivered_at.is_(None), HubWebhook.next_attempt_at <= now,
                   or_(HubWebhook.claimed_until.is_(None), HubWebhook.claimed_until < now),
                   ~blocked)
            .order_by(HubWebhook.created_at, HubWebhook.id).limit(limit))


async def claim_webhooks(db: HubDatabase, limit: int = 20, tag: str = "") -> list[HubWebhook]:
    """Lease up to `limit` due calls (at most one per order) to this process and commit
    the lease, so no transaction stays open while the calls are posted. On PostgreSQL
    rows another process is claiming are skipped (FOR UPDATE SKIP LOCKED); SQLite has
    one writer."""
    now = utcnow()
    tag = tag or PROCESS_TAG
    async with db.write() as s:
        query = _due_query(now, limit)
        if db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=HubWebhook)
        hooks = list(await s.scalars(query))
        for hook in hooks:
            hook.claimed_by = tag
            hook.claimed_until = now + timedelta(seconds=LEASE_SECONDS)
    return hooks


async def deliver_webhooks(db: HubDatabase, post: Any, limit: int = 20) -> int:
    """POST due webhook calls: claim them, post them (each order's calls one at a time,
    so a channel hears an order's statuses in order; different orders at once), then
    record each result. `post(url, body, headers)` returns the HTTP status.

    Exactly once between live processes; if a process dies after a call was taken and
    before it recorded that, another process sends it again when the lease lapses, with
    the same X-Kirana-Event-Id (at least once)."""
    tag = f"{PROCESS_TAG}:{uuid7()[-12:]}"
    hooks = await claim_webhooks(db, limit, tag)
    if not hooks:
        return 0
    async with db.read() as s:
        channels = {c.name: c for c in await s.scalars(select(HubChannel))}
    keys = {name: _signing_key(db, c) for name, c in channels.items()
            if name in {hook.channel for hook in hooks}}

    async def send(hook: HubWebhook) -> str:
        channel = channels.get(hook.channel)
        if channel is None or not channel.webhook_url:
            return "the channel has no webhook URL"
        key = keys[hook.channel]
        if isinstance(key, sealing.Unsealable):
            return ("the channel's webhook secret cannot be opened with this hub's "
                    "secret.key: give it a new one (kirana hub rotate-webhook-secret)")
        body = hook.payload.encode()
        try:
            status = await asyncio.wait_for(post(channel.webhook_url, body, {
                "Content-Type": "application/json",
                "X-Kirana-Signature": signature(key, body),
                "X-Kirana-Event-Id": hook.id}), POST_TIMEOUT_SECONDS)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return "" if 200 <= status < 300 else f"HTTP {status}"

    errors = await asyncio.gather(*(send(hook) for hook in hooks))
    sent = 0
    async with db.write() as s:
        for hook, error in zip(hooks, errors, strict=True):
            row = await get_existing(s, HubWebhook, hook.id, with_for_update=True)
            if row.delivered_at is not None:
                continue  # sent by a process that took over a lapsed lease
            row.attempts += 1
            if not error:
                row.delivered_at, row.next_attempt_at, row.last_error = utcnow(), None, ""
                sent += 1
            else:
                row.last_error = error
                row.next_attempt_at = (None if row.attempts >= MAX_ATTEMPTS else utcnow()
                                       + timedelta(seconds=RETRY_SECONDS[min(
                                           row.attempts - 1, len(RETRY_SECONDS) - 1)]))
            if row.claimed_by == tag:
                row.claimed_by, row.claimed_until = "", None
    return sent


# --- what a status change queues ------------------------------------------------------


def _told_to_channel(status: str, actor: str, reason: str) -> dict[str, str | None]:
    """Who made a change and why, as a channel may hear it: its own words back, a store's
    step, or the hub; never the routing reasons (they name other stores and their stock)."""
    if actor.startswith("api:"):
        return {"by": "channel", "reason": reason or None}
    if status in STORE_STEPS:
        return {"by": "store", "reason": None}
    words = {"assigned": reason if reason == "moved to another store" else "",
             "cancelled": "cancelled by the shop",
             "unfulfillable": CUSTOMER_TEXT["unfulfillable"], "split": CUSTOMER_TEXT["split"]}
    return {"by": "hub", "reason": words.get(status) or None}


async def queue_calls(s: Session, changes: list[StatusChanged],
                      urls: dict[str, str] | None = None,
                      new_orders: frozenset[str] = frozenset()) -> None:
    """One webhook call per status change, for the channels that have a webhook URL;
    written in the change's transaction (at its commit, by the unit of work). `urls`:
    each channel's URL if the caller has them (checked in this transaction);
    `new_orders`: orders made in this transaction (they have no earlier calls)."""
    if not changes:
        return
    if urls is None:
        urls = dict((await s.execute(select(HubChannel.name, HubChannel.webhook_url))).all())
    changes = [change for change in changes if urls.get(change.order.channel)]
    if not changes:  # no channel here listens: nothing to queue
        return
    # An order's calls go out in created_at order, so each is made after the order's
    # last one even when this hub machine's clock is behind the one that made it.
    known = sorted({e.order.id for e in changes} - new_orders)
    last = dict((await s.execute(
        select(HubWebhook.order_id, func.max(HubWebhook.created_at))
        .where(HubWebhook.order_id.in_(known))
        .group_by(HubWebhook.order_id))).all()) if known else {}
    uow = uow_of(s)
    for change in changes:
        order, status = change.order, change.status
        now = utcnow()
        created = max(now, last[order.id] + timedelta(microseconds=1)) if last.get(
            order.id) else now
        last[order.id] = created
        payload = {"event_id": uuid7(), "order_id": order.id, "number": order.number,
                   "channel": order.channel, "external_id": order.external_id,
                   "status": status, "store": change.store,
                   "courier": change.courier or None,
                   **_told_to_channel(status, change.actor, change.reason),
                   "at": now.isoformat()}
        uow.insert_later(HubWebhook.__table__, {
            "id": payload["event_id"], "channel": order.channel, "order_id": order.id,
            "payload": json.dumps(payload), "attempts": 0, "next_attempt_at": now,
            "delivered_at": None, "last_error": "", "created_at": created,
            "claimed_by": "", "claimed_until": None})
