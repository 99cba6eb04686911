"""The API's merge over several projections workers (services/api/projections.py): every partition answered for,
else Unavailable naming the missing ones; a partition two workers claim is taken from one; a trajectory is unknown
only when every partition answered 404; requests of one view at the same moment share one read of each worker."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from services.api.projections import ProjectionWorkers, Unavailable

Handler = Any


def worker(name: str, partitions: list[int], rows: list[dict[str, Any]], asked: list[str],
           status: int = 200) -> httpx.AsyncClient:  # fmt: skip
    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(f"{name}{request.url.path}")
        if request.url.path.startswith("/trajectories/"):
            tid = request.url.path.rsplit("/", 1)[1]
            mine = [r for r in rows if r.get("trajectory_id") == tid]
            if mine:
                return httpx.Response(200, json={**mine[0], "partitions": partitions})
            return httpx.Response(404, json={"detail": f"unknown trajectory {tid}", "partitions": partitions})
        if status != 200:
            return httpx.Response(status, json={"detail": "the projections are being restored"})
        return httpx.Response(
            200,
            json={
                "rows": rows,
                "partitions": partitions,
                "lag_events": len(partitions),
                "lag_seconds": 0.5 * len(partitions),
                "as_of_offsets": {"events": {str(p): 10 for p in partitions}},
            },
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url=f"http://{name}")


def row(provider: str, partition: int) -> dict[str, Any]:
    return {"provider_id": provider, "module_id": "individual", "active": 1, "partition": partition}


def test_the_views_of_two_workers_are_merged_when_every_partition_answered() -> None:
    asked: list[str] = []
    workers = ProjectionWorkers([worker("a", [0, 1], [row("p1", 0), row("p2", 1)], asked),
                                 worker("b", [2, 3], [row("p3", 3)], asked)], 4)  # fmt: skip
    view = asyncio.run(workers.view("/provider-load"))
    assert [r["provider_id"] for r in view["rows"]] == ["p1", "p2", "p3"]
    assert all("partition" not in r for r in view["rows"]) and "partitions" not in view
    assert (view["lag_events"], view["lag_seconds"]) == (4, 1.0)
    assert view["as_of_offsets"] == {"events": {"0": 10, "1": 10, "2": 10, "3": 10}}


@pytest.mark.parametrize("second", ["down", "restoring", "holds less"])
def test_a_partition_nobody_answered_for_is_a_503_naming_it_not_a_view_with_rows_missing(second: str) -> None:
    asked: list[str] = []
    first = worker("a", [0, 1], [row("p1", 0)], asked)
    if second == "down":
        other = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: (_ for _ in ()).throw(
            httpx.ConnectError("refused"))), base_url="http://b")  # fmt: skip
    elif second == "restoring":
        other = worker("b", [2, 3], [row("p3", 3)], asked, status=503)
    else:
        other = worker("b", [2], [row("p3", 2)], asked)
    workers = ProjectionWorkers([first, other], 4)
    with pytest.raises(Unavailable, match=r"partitions \[(2, )?3\] are held by no worker") as refused:
        asyncio.run(workers.view("/provider-load"))
    if second != "holds less":
        assert "http://b" in str(refused.value)


def test_a_partition_two_workers_claim_during_a_rebalance_is_counted_once() -> None:
    asked: list[str] = []
    workers = ProjectionWorkers([worker("a", [0, 1], [row("p1", 0), row("p2", 1)], asked),
                                 worker("b", [1, 2], [row("p2", 1), row("p3", 2)], asked)], 3)  # fmt: skip
    view = asyncio.run(workers.view("/provider-load"))
    assert [r["provider_id"] for r in view["rows"]] == ["p1", "p2", "p3"]


def test_a_trajectory_is_unknown_only_when_every_partition_said_so() -> None:
    asked: list[str] = []
    rows = [{"trajectory_id": "T-1", "status": "active"}]
    both = ProjectionWorkers([worker("a", [0], [], asked), worker("b", [1], rows, asked)], 2)
    assert asyncio.run(both.trajectory("/trajectories/T-1")) == {"trajectory_id": "T-1", "status": "active"}
    assert asyncio.run(both.trajectory("/trajectories/T-2")) is None
    half = ProjectionWorkers([worker("a", [0], [], asked)], 2)
    with pytest.raises(Unavailable, match=r"partitions \[1\]"):
        asyncio.run(half.trajectory("/trajectories/T-2"))


def test_requests_of_one_view_at_the_same_moment_share_one_read_of_each_worker() -> None:
    asked: list[str] = []
    workers = ProjectionWorkers([worker("a", [0], [row("p1", 0)], asked), worker("b", [1], [row("p2", 1)], asked)], 2)

    async def many() -> list[dict[str, Any]]:
        views = await asyncio.gather(*(workers.view("/provider-load") for _ in range(50)))
        views[0]["rows"] = []  # a caller replacing a key of its answer changes no other caller's
        return list(views)

    views = asyncio.run(many())
    assert sorted(asked) == ["a/provider-load", "b/provider-load"]
    assert all(len(v["rows"]) == 2 for v in views[1:])


def test_while_the_workers_are_asked_again_a_request_gets_the_last_answer_if_recent_and_waits_if_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.api import projections

    monkeypatch.setattr(projections, "SHARE_S", 0.0)  # every request after an answer asks the workers again
    capacity = {"n": 1}
    gate = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        await gate.wait()  # the worker answers when the test lets it
        return httpx.Response(200, json={"rows": [{**row("p", 0), "capacity": capacity["n"]}], "partitions": [0],
                                         "lag_events": 0, "lag_seconds": 0.0})  # fmt: skip

    async def run() -> list[Any]:
        seen: list[Any] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://a") as client:
            workers = ProjectionWorkers([client], 1, stale_s=0.3)
            first = asyncio.create_task(workers.view("/provider-load"))
            await asyncio.sleep(0.01)
            seen.append(first.done())  # nothing to serve yet: the first request waits for the workers
            gate.set()
            seen.append((await first)["rows"][0]["capacity"])
            gate.clear()
            capacity["n"] = 2
            at_once = await asyncio.wait_for(workers.view("/provider-load"), 1)  # the last answer, not waiting
            seen.append(at_once["rows"][0]["capacity"])
            fresh = asyncio.create_task(workers.view("/provider-load", stale_ok=False))  # the live hub waits
            await asyncio.sleep(0.35)  # the last answer's read began more than stale_s ago now
            late = asyncio.create_task(workers.view("/provider-load"))
            await asyncio.sleep(0.01)
            seen.append((fresh.done(), late.done()))
            gate.set()
            seen.append(((await fresh)["rows"][0]["capacity"], (await late)["rows"][0]["capacity"]))
        return seen

    assert asyncio.run(run()) == [False, 1, 1, (False, False), (2, 2)]
