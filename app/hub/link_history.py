"""A store's link history for its page at the hub: when its sync connections opened
and closed, from where, with which version, and why they closed.

Liveness itself is per connection (`hub_store_links`, deleted when a link closes), so
it keeps no history. The hub link (app/sync/hub_link.py) writes one audit row when it
admits a connection (in the same transaction) and one after it closes; the store id is
part of the action (``sync.up.S1``), so a store's rows are one lookup of the action
index. Rows older than KEPT are dropped when the store's next link closes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.core import audit
from app.core.clock import utcnow
from app.core.db import Session
from app.core.models import AuditLog
from app.hub.db import HubDatabase

KEPT = timedelta(days=30)


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
