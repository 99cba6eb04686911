"""The API's handle on ClickHouse: one client, serialised (chDB is one engine per process), queries in threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from services.warehouse.clickhouse import ClickHouseClient

T = TypeVar("T")


class Warehouse:
    def __init__(self, client: ClickHouseClient, database: str) -> None:
        self.client = client
        self.database = database
        self.lock = threading.Lock()

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self.lock:
            return fn(self.client, self.database, *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(client, database, *args)` in a worker thread, holding the client lock."""
        return await run_in_threadpool(self._locked, fn, *args)

    async def ping(self) -> bool:
        try:
            await self.run(lambda client, _db: client.query("SELECT 1").result_rows)
        except Exception:  # noqa: BLE001 - any failure means not reachable
            return False
        return True
