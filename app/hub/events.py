"""Events raised inside a hub write transaction, and the unit of work that publishes
them (Cosmic Python's `collect_new_events`).

Every hub write (`HubDatabase.write()`, so also `write_retrying`) has its own
`HubUnitOfWork` on its session. Code raises events into it (`raise_event(s, ...)`)
and never flushes anything itself. At commit the unit of work:

1. before COMMIT, in the transaction, runs each event's handlers (registered with
   `on_commit`): rows another node must see are written with the change they follow
   (an `order.assigned` in a store's stream, a webhook call, a split order's status).
   A handler may raise further events; they are handled in the next round. Then the
   rows queued with `insert_later` (decision log entries, webhook calls) are written,
   one executemany per table.
2. after COMMIT, wakes the links of the stores that got new hub -> store events.

A transaction that rolls back (an error, a deadlock that `write_retrying` runs again)
takes its unit of work with it: nothing of that attempt is published.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("kirana.hub")
UOW_KEY = "kirana_hub_uow"


@dataclass(frozen=True)
class OrderAssigned:
    """The hub gave an order to a store: its stream gets `order.assigned`."""

    store_id: str
    order: Any  # HubOrder
    lines: tuple[Any, ...]  # HubOrderLine


@dataclass(frozen=True)
class StatusChanged:
    """An order's status changed (or it moved to another store): its channel's webhook
    hears it, with the store and courier as they were at the change."""

    order: Any  # HubOrder
    status: str
    actor: str
    reason: str
    store: str | None
    courier: str


@dataclass(frozen=True)
class StoresHaveNews:
    """Hub -> store events were queued for these stores: wake their links."""

    store_ids: tuple[str, ...]


@dataclass(frozen=True)
class CatalogHasNews:
    """The shared catalogue log grew (issue #24, catalog_log.py): wake every link of
    every hub process after the commit."""


Handler = Callable[[Any, list[Any]], Awaitable[None]]
_HANDLERS: dict[type, Handler] = {}


def on_commit(kind: type) -> Callable[[Handler], Handler]:
    """Register the handler that writes what events of `kind` ask for, in the
    transaction, just before it commits. It gets the session and a round's events of
    that kind, in the order they were raised."""

    def register(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return register


class Waker(Protocol):
    async def wake_stores(self, store_ids: Iterable[str]) -> None: ...

    async def wake_all_stores(self) -> None: ...

    async def wake_catalog(self) -> None: ...


# Past this many stores one wake-up for all is cheaper than one NOTIFY per store (a
# catalogue change queues events for every store).
WAKE_ALL_ABOVE = 20


class HubUnitOfWork:
    MAX_ROUNDS = 10  # a split order's parts move its status: two rounds in practice

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.wake: set[str] = set()
        # Stores whose links a statement of this transaction NOTIFYed already (PostgreSQL:
        # delivered at COMMIT to every hub process that LISTENs; service.enqueue).
        self.notified: set[str] = set()
        self.wake_catalog = False  # the catalogue log grew (CatalogHasNews)
        self.committed = False
        self.inserts: dict[Any, list[dict]] = {}  # table -> rows, written at commit

    def insert_later(self, table: Any, row: dict) -> None:
        """Write `row` into `table` just before COMMIT, with the transaction's other rows
        for that table in one executemany (decision log entries, webhook calls)."""
        if self.committed:
            raise RuntimeError(f"a {table.name} row added after its transaction's commit")
        self.inserts.setdefault(table, []).append(row)

    def raise_event(self, event: Any) -> None:
        if self.committed:
            raise RuntimeError(f"{type(event).__name__} raised after its transaction's commit")
        self.events.append(event)

    def collect_new_events(self) -> Iterator[Any]:
        while self.events:
            yield self.events.pop(0)

    async def commit(self, s: Any) -> None:
        """Before COMMIT: write what the events ask for (may raise more; see above)."""
        for _round in range(self.MAX_ROUNDS):
            batch = list(self.collect_new_events())
            if not batch:
                break
            for event in batch:
                if isinstance(event, StoresHaveNews):
                    self.wake.update(event.store_ids)
                elif isinstance(event, OrderAssigned):
                    self.wake.add(event.store_id)
                elif isinstance(event, CatalogHasNews):
                    self.wake_catalog = True
            for kind, handler in _HANDLERS.items():
                of_kind = [e for e in batch if type(e) is kind]
                if of_kind:
                    await handler(s, of_kind)
        else:
            raise RuntimeError("hub events kept raising events past "
                               f"{self.MAX_ROUNDS} rounds")
        await self.write_pending(s)
        self.committed = True

    async def write_pending(self, s: Any) -> None:
        """Write the rows queued with `insert_later` so far (one executemany per table);
        at COMMIT, or earlier when the caller wants them written before its next step."""
        if self.inserts:
            from app.hub.db import insert_rows  # (db.py imports this module)

            await s.flush()  # rows the ORM holds first: log rows point at orders
            for table, rows in self.inserts.items():
                await insert_rows(s, table, rows)
            self.inserts = {}

    async def publish(self, waker: Waker | None) -> None:
        """After COMMIT: wake the links of the stores with news. A lost wake-up costs a
        poll interval, never an event (the links poll too)."""
        if waker is None:
            return
        if self.wake_catalog:
            try:
                await waker.wake_catalog()
            except Exception:
                log.exception("waking the links for the catalogue log failed")
        if not self.wake:
            return
        # What the database NOTIFYed at COMMIT reaches this process's LISTEN too, unless
        # that link is down (then the waker wakes its own links, as before).
        hears = getattr(waker, "hears_commits", None)  # (a test's stand-in may lack it)
        wake = self.wake - self.notified if hears is not None and hears() else self.wake
        if not wake:
            return
        try:
            if len(wake) > WAKE_ALL_ABOVE:
                await waker.wake_all_stores()
            else:
                await waker.wake_stores(sorted(wake))
        except Exception:
            log.exception("waking stores %s after a commit failed", sorted(wake))


def uow_of(s: Any) -> HubUnitOfWork:
    uow = s.info.get(UOW_KEY)
    if uow is None:
        raise RuntimeError("a hub event raised outside a hub write transaction "
                           "(open it with HubDatabase.write() or write_retrying)")
    return uow


def raise_event(s: Any, event: Any) -> None:
    """Raise `event` in the transaction of session `s`; it is handled at commit."""
    uow_of(s).raise_event(event)
