"""The live hub behind GET /v1/live/stream (services/api/live_stream.py): one poller for every stream, a snapshot
only when a view changed, the dispatch views when a dispatch worker is there, and no polling once nobody listens."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from services.api import live_stream
from services.api.live_stream import LiveHub


def test_a_listener_gets_the_views_then_only_their_changes_and_polling_stops_with_the_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_stream, "POLL_S", 0.01)
    capacity = {"n": 1}
    asked: list[str] = []

    def worker(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/provider-load":
            return httpx.Response(200, json={"rows": [{"provider_id": "p", "module_id": "m",
                                                      "capacity": capacity["n"]}]})  # fmt: skip
        if request.url.path == "/proposals":
            return httpx.Response(200, json={"proposals": []})
        return httpx.Response(503, json={"detail": "restoring"})  # waiting lists: not ready this time

    async def run() -> list[Any]:
        transport = httpx.MockTransport(worker)
        async with (httpx.AsyncClient(transport=transport, base_url="http://projections") as projections,
                    httpx.AsyncClient(transport=transport, base_url="http://dispatch") as dispatch):  # fmt: skip
            hub = LiveHub(projections, dispatch)
            seen = []
            stream = hub.changes()
            seen.append(await anext(stream))  # the empty snapshot before the first poll
            seen.append(await anext(stream))  # the first views
            capacity["n"] = 2
            seen.append(await asyncio.wait_for(anext(stream), 2))  # the change, and nothing in between
            await stream.aclose()
            polled = len(asked)
            await asyncio.sleep(0.1)
            assert hub.listeners == 0 and len(asked) == polled, "it kept polling with nobody listening"
            capacity["n"] = 3  # changed while nobody listened: a new stream must not start with the old views
            stream = hub.changes()
            seen.append(next(s for s in [await anext(stream), await anext(stream)] if s.load is not None))
            await stream.aclose()
            return seen

    first, views, changed, again = asyncio.run(run())
    assert first.load is None and first.version == 0
    assert views.load["rows"][0]["capacity"] == 1 and views.dispatch is None  # one dispatch view down: none sent
    assert changed.load["rows"][0]["capacity"] == 2 and changed.version == views.version + 1
    assert again.load["rows"][0]["capacity"] == 3
