"""Running a report's independent queries side by side.

Embedded ClickHouse (chDB) answers several connections of one process at once, so a whole report opens sibling
connections to the same data directory for the time of the report (the caller's client is one of them) and runs
independent work on them in threads. Any other client is used alone: a server client's session allows one query
at a time.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import clickhouse_connect

from services.warehouse.clickhouse import ClickHouseClient

T = TypeVar("T")
WORKERS = max(1, min(4, os.cpu_count() or 1))


@contextmanager
def connections(client: ClickHouseClient, wanted: int = WORKERS) -> Iterator[list[ClickHouseClient]]:
    """The client plus up to `wanted - 1` sibling connections to the same embedded engine, closed afterwards."""
    uri = getattr(client, "uri", None)
    if not (isinstance(uri, str) and uri.startswith("chdb://")) or wanted <= 1:
        yield [client]
        return
    siblings = [clickhouse_connect.get_client(dsn=uri) for _ in range(wanted - 1)]
    try:
        yield [client, *siblings]
    finally:
        for sibling in siblings:
            sibling.close()


def run_all(clients: Sequence[ClickHouseClient], tasks: Sequence[Callable[[ClickHouseClient], T]]) -> list[T]:
    """Run `task(client)` for every task, each on a free connection; results in the order of the tasks."""
    if len(clients) == 1:
        return [task(clients[0]) for task in tasks]
    free: queue.Queue[ClickHouseClient] = queue.Queue()
    for client in clients:
        free.put(client)

    def run(task: Callable[[ClickHouseClient], T]) -> T:
        client = free.get()
        try:
            return task(client)
        finally:
            free.put(client)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(run, tasks))
