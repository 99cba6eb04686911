"""`kans bench-live`'s client (kans/bench_live.py): a failed connection is counted, not the end of the run."""

from __future__ import annotations

import asyncio

import httpx

from kans.bench_live import post_counted


def test_a_connection_failure_is_counted_and_an_answer_gives_its_status() -> None:
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadError("the server closed the kept-alive connection", request=request)
        return httpx.Response(202 if calls["n"] == 2 else 503)

    async def run() -> tuple[list[int | None], dict[str, int]]:
        failures: dict[str, int] = {}
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://ingest") as client:
            statuses = [await post_counted(client, "/v1/events/batch", [{}], failures) for _ in range(3)]
        return statuses, failures

    statuses, failures = asyncio.run(run())
    assert statuses == [None, 202, 503]
    assert failures == {"transport": 1}
