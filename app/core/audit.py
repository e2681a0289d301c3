"""The audit log: who did what sensitive thing, and who approved it.

One place writes an audit row (`record`, inside the caller's transaction, so the row
commits or rolls back with what it describes) and one place reads them back
(`entries`, `named_entries`). Sign-ins and lockouts, staff and key changes, till
overrides, stock count requests and hub account changes all go through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.core.clock import utcnow
from app.core.ids import uuid7
from app.core.models import AuditLog, User

ACTION_CHARS = 40  # audit_log.action is VARCHAR(40)
DETAIL_CHARS = 500  # audit_log.detail is VARCHAR(500)


class Person(Protocol):
    @property
    def id(self) -> str: ...  # read-only, so frozen StaffUser fits as well as a User row


Who = Person | str | None


def _id(who: Who) -> str | None:
    if who is None or isinstance(who, str):
        return who or None
    return who.id


def record(s: Any, action: str, detail: str = "", *, user: Who = None,
           approver: Who = None, at: datetime | None = None) -> AuditLog:
    """Add an audit row to the session `s` (store `Tx` or hub session); `user` and
    `approver` are a person (anything with an `id`) or a user id."""
    row = AuditLog(id=uuid7(), at=at or utcnow(), user_id=_id(user),
                   approver_id=_id(approver), action=action[:ACTION_CHARS],
                   detail=detail[:DETAIL_CHARS])
    s.add(row)
    return row


async def entries(s: Any, *, actions: Iterable[str] | None = None,
                  since: datetime | None = None, limit: int | None = None) -> list[AuditLog]:
    """Rows in the caller's session, oldest first, filtered by action and time."""
    stmt = select(AuditLog).order_by(AuditLog.at)
    if actions is not None:
        stmt = stmt.where(AuditLog.action.in_(tuple(actions)))
    if since is not None:
        stmt = stmt.where(AuditLog.at >= since)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await s.scalars(stmt))


async def named_entries(db: Any, actions: Iterable[str], limit: int = 200
                        ) -> list[tuple[AuditLog, str, str]]:
    """The newest rows of these actions with the names of who did it ("?" when
    unknown) and who approved it ("" when nobody did), for the audit pages."""
    actor, approver = aliased(User), aliased(User)
    async with db.read() as s:
        rows = await s.execute(
            select(AuditLog, actor.name, approver.name)
            .outerjoin(actor, actor.id == AuditLog.user_id)
            .outerjoin(approver, approver.id == AuditLog.approver_id)
            .where(AuditLog.action.in_(tuple(actions)))
            .order_by(AuditLog.at.desc())
            .limit(limit)
        )
        return [(a, who or "?", ok or "") for a, who, ok in rows.all()]
