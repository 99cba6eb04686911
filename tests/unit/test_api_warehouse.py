"""The API's warehouse handle (services/api/warehouse.py): reads run side by side, each on a client of its own."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from services.api.warehouse import Warehouse


class FakeClient:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _meet(barrier: threading.Barrier, held: list[str], timeout_s: float) -> Any:
    def fn(client: FakeClient, database: str) -> str:
        held.append(client.name)
        barrier.wait(timeout=timeout_s)  # both calls must be inside at once
        return f"{database}:{client.name}"

    return fn


async def _two_at_once(warehouse: Warehouse, barrier: threading.Barrier, held: list[str],
                       timeout_s: float = 5.0) -> list[str]:  # fmt: skip
    calls = [warehouse.run(_meet(barrier, held, timeout_s)) for _ in range(2)]
    return list(await asyncio.gather(*calls))


def test_two_reads_run_at_once_each_on_a_client_of_its_own() -> None:
    warehouse = Warehouse([FakeClient("a"), FakeClient("b")], "kans")
    held: list[str] = []
    results = asyncio.run(_two_at_once(warehouse, threading.Barrier(2), held))
    assert sorted(results) == ["kans:a", "kans:b"]
    assert sorted(held) == ["a", "b"]


def test_with_one_client_the_second_read_waits_for_the_first() -> None:
    warehouse = Warehouse(FakeClient("only"), "kans")
    barrier = threading.Barrier(2)
    with pytest.raises(threading.BrokenBarrierError):
        asyncio.run(_two_at_once(warehouse, barrier, [], timeout_s=0.5))


def test_a_failed_read_gives_its_client_back() -> None:
    warehouse = Warehouse([FakeClient("only")], "kans")

    def fail(client: FakeClient, database: str) -> None:
        raise RuntimeError("refused")

    async def go() -> str:
        with pytest.raises(RuntimeError):
            await warehouse.run(fail)
        return await asyncio.wait_for(warehouse.run(lambda client, db: client.name), 5)

    assert asyncio.run(go()) == "only"


def test_close_closes_every_client_and_none_is_refused() -> None:
    clients = [FakeClient("a"), FakeClient("b"), FakeClient("c")]
    Warehouse(clients, "kans").close()
    assert [c.closed for c in clients] == [True, True, True]
    with pytest.raises(ValueError, match="at least one client"):
        Warehouse([], "kans")


def test_a_history_read_waits_while_the_writer_stores_a_batch_and_other_reads_do_not() -> None:
    warehouse = Warehouse([FakeClient("a"), FakeClient("b")], "kans")

    async def go() -> tuple[bool, bool, str]:
        warehouse.writes.acquire()  # the writer storing a batch
        try:
            history = asyncio.ensure_future(warehouse.run_after_writes(lambda client, db: "history"))
            other = await asyncio.wait_for(warehouse.run(lambda client, db: "statistics"), 5)
            await asyncio.sleep(0.2)
            waited = not history.done()
        finally:
            warehouse.writes.release()
        return waited, other == "statistics", await asyncio.wait_for(history, 5)

    assert asyncio.run(go()) == (True, True, "history")


def test_history_reads_run_side_by_side_when_the_writer_is_not_storing() -> None:
    warehouse = Warehouse([FakeClient("a"), FakeClient("b")], "kans")
    barrier, held = threading.Barrier(2), list[str]()

    async def go() -> list[str]:
        calls = [warehouse.run_after_writes(_meet(barrier, held, 5.0)) for _ in range(2)]
        return list(await asyncio.gather(*calls))

    assert sorted(asyncio.run(go())) == ["kans:a", "kans:b"]  # both inside at once: the barrier let them through
