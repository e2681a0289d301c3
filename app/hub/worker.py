"""The hub's background work: move orders no store accepted in time, and deliver the
channels' webhooks (with retries). Every hub process runs it; with PostgreSQL, rows
are claimed with SKIP LOCKED so two processes never act on the same order, and a
webhook call is leased (`claimed_until`, committed before the HTTP post) so two
processes never send the same call and an order's calls go out one after another."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from app.config import HubConfig
from app.hub import placement, webhooks
from app.hub.db import HubDatabase
from app.hub.pruning import HubPruner
from app.hub.service import announce_channels
from app.hub.wake import Waker

log = logging.getLogger("kirana.hub")
TICK_SECONDS = 1.0


class HubWorker:
    def __init__(self, db: HubDatabase, cfg: HubConfig, waker: Waker) -> None:
        self.db, self.cfg, self.waker = db, cfg, waker
        self._task: asyncio.Task | None = None
        self._http: httpx.AsyncClient | None = None
        self.pruner = HubPruner(db, cfg)  # sync retention, its own task (app/hub/pruning.py)

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=10, follow_redirects=False)
        self._task = asyncio.create_task(self._run(), name="hub-worker")
        await self.pruner.start()

    async def announce_channels(self) -> None:
        """Once per process: stores hear the hub's channel names if they changed (a hub
        upgraded to this version tells every store at its first start)."""
        async with self.db.write() as s:  # the stores told are woken at the commit
            await announce_channels(s)

    async def stop(self) -> None:
        await self.pruner.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)
        if self._http is not None:
            await self._http.aclose()

    async def _post(self, url: str, body: bytes, headers: dict) -> int:
        if self._http is None:
            raise RuntimeError("HubWorker.start() opens the HTTP client first")
        response = await self._http.post(url, content=body, headers=headers)
        return response.status_code

    async def tick(self) -> None:
        await placement.expire_assignments(self.db, self.cfg)
        # An order's statuses go out one after another; keep going while any were sent.
        for _ in range(20):
            if not await webhooks.deliver_webhooks(self.db, self._post):
                break

    async def _run(self) -> None:
        try:
            await self.announce_channels()
        except Exception:
            log.exception("telling stores the hub's channels failed")
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hub worker tick failed")
            await asyncio.sleep(TICK_SECONDS)
