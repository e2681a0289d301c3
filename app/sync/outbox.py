"""The functions that write to the outbox.

They only write in the caller's session: the events commit or roll back with the
change they describe, so nothing is ever "sent" outside a transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, bindparam, insert

from app.core.clock import utcnow
from app.core.db import Session
from app.core.ids import uuid7
from app.core.prepared import Prepared
from app.sync.models import OutboxEvent
from app.sync.protocol import STORE_TO_HUB

STORE_TO_HUB_KINDS = STORE_TO_HUB  # one list of kinds: app/sync/protocol.py


def _check(session: Session, kind: str) -> None:
    if kind not in STORE_TO_HUB_KINDS:
        raise ValueError(f"unknown outbox event kind {kind!r}")
    if not session.in_transaction():
        raise RuntimeError("outbox events must be written inside the caller's transaction")


def emit(session: Session, kind: str, data: dict[str, Any]) -> OutboxEvent:
    _check(session, kind)
    event = OutboxEvent(id=uuid7(), kind=kind, at=utcnow(), data=msgspec.json.encode(data).decode())
    session.add(event)
    return event


async def emit_many(session: Session, events: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """Write several events with one executemany (the hot path of a sale), in order:
    their seqs are consecutive and after every event already added to the session.
    Each row is what ``emit`` writes for the same kind and data. Returns their ids."""
    for kind, _data in events:
        _check(session, kind)
    if not events:
        return []
    await session.flush()  # events emit() added earlier take the lower seqs
    at = utcnow()
    ids = [uuid7() for _ in events]
    await _INSERT_EVENT.run_many(session, [
        {"id": event_id, "kind": kind, "at": at, "data": msgspec.json.encode(data).decode()}
        for event_id, (kind, data) in zip(ids, events, strict=True)
    ])
    return ids


# Prepared (core/prepared.py), built once: every sale writes its events with it (issue #15).
_INSERT_EVENT = Prepared(insert(cast(Table, OutboxEvent.__table__)).values(
    id=bindparam("id"), kind=bindparam("kind"), at=bindparam("at"), data=bindparam("data")))
