"""A store's link history for its page at the hub: when its sync connections opened
and closed, from where, with which version, and why they closed.

Liveness itself is per connection (`hub_store_links`, deleted when a link closes), so
it keeps no history. The hub link (app/sync/hub_link.py) writes one audit row when it
admits a connection (in the same transaction) and one after it closes; the store id is
part of the action (``sync.up.S1``), so a store's rows are one lookup of the action
index. Rows older than KEPT are dropped when the store's next link closes.

It also keeps the latest `status` a store sent (sync protocol 2: version, free disk,
newest backup, clock) on its hub_stores row, with the clock turned into the skew
against the hub's clock at receipt, for the Stores page; and from protocol 3 the live
load the routing uses (issue #24, docs/routing.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.core import audit
from app.core.clock import utcnow
from app.core.db import Session
from app.core.i18n import _, ngettext
from app.core.models import AuditLog
from app.hub.db import HubDatabase, write_retrying
from app.hub.models import HubStore
from app.sync.protocol import Load, Status

KEPT = timedelta(days=30)
# A store's clock is off by more than this (either way): the Stores page warns.
SKEW_WARN_SECONDS = 60.0
# Skews are kept within ±10 years: a store whose clock says 1970 shows "years off".
SKEW_BOUND_SECONDS = 10 * 365 * 86400.0


def _actions(store_id: str) -> tuple[str, str]:
    return f"sync.up.{store_id}", f"sync.down.{store_id}"


def record_up(s: Session, store_id: str, address: str, version: str) -> None:
    """In the transaction that admits the connection."""
    audit.record(s, _actions(store_id)[0],
                 f"from {address or 'an unknown address'}, {version or 'unknown version'}")


async def record_down(db: HubDatabase, store_id: str, address: str, why: str) -> None:
    async with db.write() as s:
        audit.record(s, _actions(store_id)[1],
                     f"{why} (from {address or 'an unknown address'})")
        await s.execute(delete(AuditLog).where(AuditLog.action.in_(_actions(store_id)),
                                               AuditLog.at < utcnow() - KEPT))


@dataclass(frozen=True)
class LinkEvent:
    at: datetime
    connected: bool  # True: a link opened; False: one closed
    detail: str


async def recent(s: Session, store_id: str, limit: int = 20) -> list[LinkEvent]:
    """The newest first."""
    up, _down = _actions(store_id)
    rows = (await s.execute(select(AuditLog.at, AuditLog.action, AuditLog.detail)
                            .where(AuditLog.action.in_(_actions(store_id)))
                            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
                            .limit(limit))).all()
    return [LinkEvent(at=at, connected=action == up, detail=detail)
            for at, action, detail in rows]


def status_values(status: Status, received_at: datetime) -> dict:
    """The hub_stores columns for a store's status received at `received_at`; its live
    load's only when it sent one (v3: a status without keeps the last, which ages out)."""
    skew = (status.clock - received_at).total_seconds()
    values = {"status_version": status.version[:40],
              "status_disk_free": status.disk_free_bytes,
              "status_backup_at": status.last_backup_at,
              "status_clock_skew": max(-SKEW_BOUND_SECONDS, min(SKEW_BOUND_SECONDS, skew)),
              "status_at": received_at}
    if status.load is not None:
        values.update(load_values(status.load, received_at))
    return values


def load_values(load: Load, received_at: datetime) -> dict:
    """The hub_stores columns of a store's live load (issue #24)."""
    return {"load_pickers": load.pickers,
            "load_orders": json.dumps(dict(sorted(load.orders.items())),
                                      separators=(",", ":")),
            "load_picks_hour": load.picks_per_hour, "load_at": received_at}


def apply_status(row: HubStore, status: Status, received_at: datetime) -> None:
    """In the handshake's transaction, on the store's row it already holds."""
    for key, value in status_values(status, received_at).items():
        setattr(row, key, value)


async def save_status(db: HubDatabase, store_id: str, status: Status,
                      received_at: datetime) -> None:
    """A `status` after the handshake: one write of the store's row alone (retried)."""

    async def body(s: Session) -> None:
        await s.execute(update(HubStore).where(HubStore.id == store_id)
                        .values(**status_values(status, received_at)))

    await write_retrying(db, body)


def skew_words(seconds: float) -> str:
    """'Clock 3 min fast: ...' for a skew past SKEW_WARN_SECONDS, else ''."""
    if abs(seconds) <= SKEW_WARN_SECONDS:
        return ""
    size = abs(seconds)
    if size < 3600:
        amount = _("%(minutes)s min") % {"minutes": round(size / 60)}
    elif size < 2 * 86400:
        n = round(size / 3600)
        amount = ngettext("%(num)d hour", "%(num)d hours", n) % {"num": n}
    else:
        n = round(size / 86400)
        amount = ngettext("%(num)d day", "%(num)d days", n) % {"num": n}
    if seconds > 0:
        return _("Clock %(amount)s fast: SLA timers will be wrong. "
                 "Set the time on the store's computer.") % {"amount": amount}
    return _("Clock %(amount)s slow: SLA timers will be wrong. "
             "Set the time on the store's computer.") % {"amount": amount}
