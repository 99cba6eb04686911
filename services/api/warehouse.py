"""The API's handle on ClickHouse: a few clients (connections) that answer side by side, queries in threads.

With embedded chDB they are sibling connections to the process's one engine, which runs their queries in parallel;
with a server, separate sessions (a session takes one query at a time). The writers have clients of their own and
never hold a read back, nor a read them (`services/warehouse/state.py` says why a read may run beside a write), with
one exception: a read of the event history (`run_after_writes`) waits while the writer stores a batch, so that an
event seen in a referral's history is also counted by the statistics (its batch's current-state facts refreshed).
History reads run side by side among themselves (a reader-writer lock; the writer goes first once it asks).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from readerwriterlock import rwlock
from starlette.concurrency import run_in_threadpool

from services.warehouse.clickhouse import ClickHouseClient

T = TypeVar("T")


class Warehouse:
    def __init__(self, clients: ClickHouseClient | Sequence[ClickHouseClient], database: str) -> None:
        self.clients = list(clients) if isinstance(clients, Sequence) else [clients]
        if not self.clients:
            raise ValueError("the warehouse needs at least one client")
        self.client = self.clients[0]  # the one that migrates (the API's start)
        self.database = database
        self._free: queue.SimpleQueue[ClickHouseClient] = queue.SimpleQueue()
        for client in self.clients:
            self._free.put(client)
        # The writer in this process holds `writes` while it stores a batch (events, then the facts they change);
        # history reads hold a read side of the same lock. Writer priority: a batch waits for the reads under way only.
        self._history = rwlock.RWLockWrite()
        self.writes = self._history.gen_wlock()

    def _on_a_free_client(self, fn: Callable[..., T], *args: Any) -> T:
        client = self._free.get()  # waits (in its worker thread) while every client is busy
        try:
            return fn(client, self.database, *args)
        finally:
            self._free.put(client)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(client, database, *args)` in a worker thread, on a client no other call is using."""
        return await run_in_threadpool(self._on_a_free_client, fn, *args)

    def _between_writes(self, client: ClickHouseClient, database: str, fn: Callable[..., T], *args: Any) -> T:
        with self._history.gen_rlock():
            return fn(client, database, *args)

    async def run_after_writes(self, fn: Callable[..., T], *args: Any) -> T:
        """As `run`, never while the writer of this process stores a batch: what reads the `events` table sees only
        events whose current-state facts are refreshed."""
        return await run_in_threadpool(self._on_a_free_client, self._between_writes, fn, *args)

    async def ping(self) -> bool:
        try:
            await self.run(lambda client, _db: client.query("SELECT 1").result_rows)
        except Exception:  # noqa: BLE001 - any failure means not reachable
            return False
        return True

    def close(self) -> None:
        for client in self.clients:
            client.close()
