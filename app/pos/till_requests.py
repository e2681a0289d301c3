"""Till requests that count once (issue #16): a scan or a quick-key add carries an id the
tablet made for it. When the store server could not be reached, or its answer was lost,
the tablet sends the same request again once the server answers; the id is written in
the transaction that added the line, so a request that had in fact arrived is not done
twice. The ids are kept a day (a tablet retries within minutes)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.dialects.sqlite import insert

from app.core.clock import utcnow
from app.core.db import Session, rowcount
from app.pos.models import TillRequest

REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
KEEP = timedelta(days=1)
PRUNE_EVERY_SECONDS = 3600.0
_pruned_at: float | None = None
_TABLE = cast(Table, TillRequest.__table__)  # Core: the ORM's insert gives no rowcount
_CLAIM = (insert(_TABLE).values(id=bindparam("id"), at=bindparam("at"))
          .on_conflict_do_nothing(index_elements=["id"]))  # built once: on every scan


class AlreadyDone(Exception):
    """The request with this id was done before; nothing was done again."""


async def claim(s: Session, request_id: str) -> None:
    """Record `request_id` in the caller's transaction, or raise AlreadyDone when it is
    there already. A missing or malformed id (a page from before this change, a hand-made
    post) is done as before, without the check."""
    global _pruned_at
    if not REQUEST_ID.fullmatch(request_id):
        return
    now = utcnow()
    if _pruned_at is None or time.monotonic() - _pruned_at > PRUNE_EVERY_SECONDS:
        _pruned_at = time.monotonic()
        await s.execute(delete(TillRequest).where(TillRequest.at < now - KEEP))
    added = await s.execute(_CLAIM, {"id": request_id, "at": now})
    if rowcount(added) == 0:
        raise AlreadyDone(request_id)
