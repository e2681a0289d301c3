"""The one function that writes to the outbox.

It only adds a row to the caller's session: the event commits or rolls back
with the change it describes, so nothing is ever "sent" outside a transaction.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.core.clock import utcnow
from app.core.db import Session
from app.core.ids import uuid7
from app.sync.models import OutboxEvent
from app.sync.protocol import STORE_TO_HUB

STORE_TO_HUB_KINDS = STORE_TO_HUB  # one list of kinds: app/sync/protocol.py


def emit(session: Session, kind: str, data: dict[str, Any]) -> OutboxEvent:
    if kind not in STORE_TO_HUB_KINDS:
        raise ValueError(f"unknown outbox event kind {kind!r}")
    if not session.in_transaction():
        raise RuntimeError("outbox events must be written inside the caller's transaction")
    event = OutboxEvent(id=uuid7(), kind=kind, at=utcnow(), data=msgspec.json.encode(data).decode())
    session.add(event)
    return event
