"""Pushed live views (issue 16): one hub per API process watches the projections worker's provider load (every
`POLL_S` while anyone listens) and, for the desk, the dispatch worker's open proposals and waiting lists; each change
goes to every open Server-Sent-Events stream (`GET /v1/live/stream`, sse-starlette), narrowed to what its caller may
see. A stream starts with the current views, then sends an event only when a view changed; pings keep proxies from
closing an idle stream. The hub stops polling when the last stream closes.

Events: `provider-load` (the L1 view, as `GET /v1/live/provider-load` answers it) and, for the desk, `dispatch`
(`{"proposals": ..., "waiting_lists": ...}`). A worker that does not answer is skipped for that round: the stream
keeps the last view and says nothing until a view changes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.api.projections import ProjectionWorkers, Unavailable, as_workers

log = logging.getLogger(__name__)
POLL_S = 0.25
DISPATCH_EVERY = 4  # rounds: the dispatch views once a second


@dataclass
class Snapshot:
    version: int = 0
    load: dict[str, Any] | None = None
    dispatch: dict[str, Any] | None = None


@dataclass
class LiveHub:
    """Polls the workers while streams listen; `changes()` yields each new snapshot (the current one first)."""

    projections: ProjectionWorkers | httpx.AsyncClient
    dispatch: httpx.AsyncClient | None
    snapshot: Snapshot = field(default_factory=Snapshot)
    listeners: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.workers = as_workers(self.projections, 1)

    async def _load(self) -> Any:
        """The provider-load view merged over every projections worker; None while it is not complete."""
        try:
            return await self.workers.view("/provider-load", stale_ok=False)
        except Unavailable:
            return None

    async def _get(self, client: httpx.AsyncClient, path: str) -> Any:
        try:
            response = await client.get(path, timeout=5)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    async def _poll(self) -> None:
        rounds = 0
        while self.listeners:
            load = await self._load()
            dispatch = self.snapshot.dispatch
            if self.dispatch is not None and rounds % DISPATCH_EVERY == 0:
                proposals = await self._get(self.dispatch, "/proposals")
                lists = await self._get(self.dispatch, "/waiting-lists")
                if proposals is not None and lists is not None:
                    dispatch = {"proposals": proposals, "waiting_lists": lists}
            load = load if load is not None else self.snapshot.load
            if (load, dispatch) != (self.snapshot.load, self.snapshot.dispatch):
                async with self._changed:
                    self.snapshot = Snapshot(self.snapshot.version + 1, load, dispatch)
                    self._changed.notify_all()
            rounds += 1
            await asyncio.sleep(POLL_S)

    def touch(self) -> None:
        """Have every stream look at the current views again (what it adds to them changed: the display names)."""

        async def bump() -> None:
            async with self._changed:
                self.snapshot = Snapshot(self.snapshot.version + 1, self.snapshot.load, self.snapshot.dispatch)
                self._changed.notify_all()

        if self.listeners:
            asyncio.get_running_loop().create_task(bump())

    async def changes(self) -> AsyncIterator[Snapshot]:
        """Every new snapshot while the caller listens (the first as soon as one exists)."""
        self.listeners += 1
        if self._task is None or self._task.done():
            if self.snapshot.load is not None or self.snapshot.dispatch is not None:
                # Views kept from before nobody listened are stale: the first stream would get them first.
                self.snapshot = Snapshot(self.snapshot.version + 1)
            self._task = asyncio.create_task(self._poll())
        try:
            seen = -1
            while True:
                async with self._changed:
                    while self.snapshot.version == seen:
                        await self._changed.wait()
                    snapshot = self.snapshot
                seen = snapshot.version
                yield snapshot
        finally:
            self.listeners -= 1
            if not self.listeners and self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
                self._task = None


def event(name: str, data: Any) -> dict[str, str]:
    """One SSE message as sse-starlette sends it."""
    return {"event": name, "data": json.dumps(data, separators=(",", ":"), default=str)}
