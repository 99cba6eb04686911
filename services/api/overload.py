"""Shedding the live views while the API process is behind: a live-view read that would be answered seconds late is
answered 503 with Retry-After at once instead.

Why: the API process serves every read on one event loop, beside the ClickHouse writer and the reports' threads
(with embedded chDB they share the process and its GIL). A process that stalls (starved of CPU, a long GIL hold, a
pause) finds the reads that arrived meanwhile waiting when it runs again; answering each of them with a view as old
as the stall, to a dashboard that has asked again meanwhile, is work for nothing. The live views already answer 503
with Retry-After while the projections are not complete, and their clients (the dashboard, the SSE stream's
reconnect, the tests' polls) ask again; shedding them while the loop is behind lets it get back to what cannot wait
(the writer's commits, the SSE pushes).

What it does not do: bound the latency of a read once admitted, nor see the requests that wait before the process
takes them. Under `kans bench-live`'s overload (2,000 events/s asked, 200 live-view reads/s) the loop was 0.4-1 s
behind at the median while reads took 5-12 s, most of it before the app saw them (README, Benchmarks, 2026-12-07
14:58-15:11 UTC): shedding at 250 ms dropped 85% of the reads and the rest still took 5 s at the median.

How far behind: `LoopLag` sleeps `TICK_S` in a task of the event loop and measures how late it wakes (the time a
callback waits for the loop: the requests' queueing delay, GIL waits included). A request asks `behind()`: the largest
overshoot of the last `HOLD_S` (the requests that waited with it are read in the loop's next rounds), or the time
since the last tick when that is longer (a loop blocked now has not ticked). Over
`KANS_API_SHED_BEHIND_MS` (default 2,000 ms; 0: never shed) the live views' GETs answer 503 before authentication,
routing or any work; every other route is served as before (a report, an export, the history: fewer, costlier, not
polled; a 503 there would waste the work the caller already waited for). Counted in `kans_api_shed_total{view}`;
`kans_api_event_loop_behind_seconds` is read at every scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import prometheus_client as prom
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TICK_S = 0.025
HOLD_S = 0.25
RETRY_AFTER_S = 1
# The live views a dashboard polls (GET only); the SSE stream is one long request, not shed once it runs.
SHED_VIEWS = {"/v1/live/provider-load": "provider-load", "/v1/live/waiting-times": "waiting-times"}
SHED_PREFIXES = {"/v1/live/trajectories/": "trajectories"}


def shed_view(method: str, path: str) -> str | None:
    """The live view a request asks (its label), when it is one that may be shed; None otherwise."""
    if method != "GET":
        return None
    if (view := SHED_VIEWS.get(path)) is not None:
        return view
    return next((view for prefix, view in SHED_PREFIXES.items() if path.startswith(prefix)), None)


class LoopLag:
    """How far the event loop it runs on is behind, in seconds (`behind()`); `start()` and `stop()` on that loop."""

    def __init__(self, tick_s: float = TICK_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.tick_s, self.clock = tick_s, clock
        self.overshoot, self.overshoot_at = 0.0, 0.0
        self.last_tick: float | None = None
        self._task: asyncio.Task[None] | None = None

    def behind(self) -> float:
        """The largest overshoot of the last `HOLD_S`, or how overdue the next tick is when that is more (0 before
        the first tick)."""
        if self.last_tick is None:
            return 0.0
        now = self.clock()
        held = self.overshoot if now - self.overshoot_at <= HOLD_S else 0.0
        return max(held, now - self.last_tick - self.tick_s)

    def record(self, overshoot: float) -> None:
        """A tick's overshoot: kept while it is the largest of the last HOLD_S (the requests that waited with it are
        still being read when the next tick comes, 25 ms later)."""
        now = self.clock()
        if overshoot >= self.overshoot or now - self.overshoot_at > HOLD_S:
            self.overshoot, self.overshoot_at = overshoot, now

    async def _ticks(self) -> None:
        while True:
            self.last_tick = self.clock()
            await asyncio.sleep(self.tick_s)
            self.record(max(0.0, self.clock() - self.last_tick - self.tick_s))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._ticks(), name="event-loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self.last_tick = None


class ShedMetrics:
    def __init__(self, registry: prom.CollectorRegistry, lag: LoopLag) -> None:
        self.shed = prom.Counter("kans_api_shed", "Live-view reads answered 503 because the API's event loop was "
                                 "behind (KANS_API_SHED_BEHIND_MS).", ["view"], registry=registry)  # fmt: skip
        behind = prom.Gauge("kans_api_event_loop_behind_seconds", "How late the API's event loop runs a callback "
                            "now (its queueing delay).", registry=registry)  # fmt: skip
        behind.set_function(lag.behind)


class ShedWhenBehind:
    """Pure ASGI: a live-view GET while the loop is more than `bound_s` behind gets 503 + Retry-After, nothing else
    is done for it. `bound_s` 0: never."""

    def __init__(self, app: ASGIApp, lag: LoopLag, bound_s: float, metrics: ShedMetrics) -> None:
        self.app, self.lag, self.bound_s, self.metrics = app, lag, bound_s, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or self.bound_s <= 0
                or (view := shed_view(scope["method"], scope["path"])) is None
                or (behind := self.lag.behind()) <= self.bound_s):  # fmt: skip
            await self.app(scope, receive, send)
            return
        self.metrics.shed.labels(view=view).inc()
        refusal = JSONResponse(
            {"detail": f"the API is overloaded: its event loop is {behind:.2f} s behind (more than "
                       f"{self.bound_s:g} s), so the live views are not answered until it catches up; try again in "
                       f"{RETRY_AFTER_S} s"},
            status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)},
        )  # fmt: skip
        await refusal(scope, receive, send)
