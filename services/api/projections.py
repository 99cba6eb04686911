"""The API's handle on the projections workers: one or more faust workers that split the partitions of the event log
(and of their internal load-changes topic) between them. The API asks every worker and merges (KANS_PROJECTIONS_URLS);
a view is served only when, between them, the workers that answered hold every partition: a missing partition would
be a view silently missing providers, so it is a 503 naming the partitions (a killed worker's partitions come back
when the survivor has taken them over and restored their tables, ~10 s).

Why ask every worker rather than route by key or keep the views in a shared store: the load views are small (one row
per provider and module) and are read whole, so a scatter-gather of a few workers costs one round trip in parallel;
routing by key would only help single-key reads, and a shared store would put a write in another system behind each
event. A trajectory (keyed by referral on the log) is asked of every worker too; the one holding its partition
answers, the others answer 404 with the partitions they hold, so "unknown" is said only when every partition was
asked.

Reads are shared: requests for the same view within `SHARE_S` (0.1 s) of each other get one answer of the workers
(one request to each worker in flight per view at a time), so 200 dashboards polling cost the workers ten reads a
second, not 200. While a newer read of the workers is under way, a request gets the last complete answer at once if
that read began less than `stale_s` (KANS_LIVE_VIEW_MAX_AGE_MS, default 1 s) ago, instead of waiting for the workers
(busy folding a burst, they answer in 20 ms to over a second): a view served is at most that much older than the
workers' tables; a view asked after a quiet spell waits for a fresh read.

Each worker tags its rows with their partition and lists the partitions it holds (services/projections/views.py);
while partitions move (a rebalance) two workers may both claim one for a moment: its rows are then taken from one
worker only.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY = {"Retry-After": "2"}
SHARE_S = 0.1


class Unavailable(Exception):
    """No complete answer: the workers that answered do not hold every partition (or none answered)."""


@dataclass(frozen=True)
class Answer:
    url: str
    status: int | None  # None: unreachable
    body: Any
    error: str | None = None


@dataclass
class ProjectionWorkers:
    """`clients`: one per worker (base_url set). `partitions`: how many partitions the event log has (and so
    load-changes): the union of what the workers hold must be all of them."""

    clients: list[httpx.AsyncClient]
    partitions: int
    stale_s: float = 0.0  # KANS_LIVE_VIEW_MAX_AGE_MS: how old a last answer may be to be served while a read is on
    _shared: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[float, asyncio.Future[dict[str, Any]]]] = field(
        default_factory=dict, repr=False)  # fmt: skip
    # The last complete answer of each view and when the read that got it began.
    _last: dict[tuple[str, tuple[tuple[str, Any], ...]], tuple[float, dict[str, Any]]] = field(
        default_factory=dict, repr=False)  # fmt: skip

    @property
    def urls(self) -> list[str]:
        return [str(client.base_url) for client in self.clients]

    async def aclose(self) -> None:
        """Close every client, then raise the first failure if one failed."""
        failures = [r for r in await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True) if r]
        if failures:
            raise failures[0]

    async def _ask_one(self, client: httpx.AsyncClient, path: str, params: dict[str, Any] | None,
                       timeout: float | None) -> Answer:  # fmt: skip
        url = str(client.base_url)
        try:
            kwargs: dict[str, Any] = {"params": params or {}}
            if timeout is not None:
                kwargs["timeout"] = timeout
            response = await client.get(path, **kwargs)
        except httpx.HTTPError as err:
            return Answer(url, None, None, f"unreachable ({err.__class__.__name__})")
        try:
            body = response.json()
        except ValueError:
            return Answer(url, response.status_code, None, f"answered {response.status_code} without JSON")
        return Answer(url, response.status_code, body)

    async def ask_all(self, path: str, params: dict[str, Any] | None = None,
                      timeout: float | None = None) -> list[Answer]:  # fmt: skip
        """Every worker's answer to GET `path`, in the order of the workers."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return list(await asyncio.gather(*(self._ask_one(c, path, clean, timeout) for c in self.clients)))

    def _missing(self, held: set[int]) -> list[int]:
        return sorted(set(range(self.partitions)) - held)

    async def view(self, path: str, params: dict[str, Any] | None = None, stale_ok: bool = True) -> dict[str, Any]:
        """`merged_view`, shared between the requests of the same view less than SHARE_S apart (the answer, or the
        Unavailable, of the one read in flight or just done); while a read is in flight, the last complete answer if
        its read began less than `stale_s` ago (unless not `stale_ok`: the live hub, polling to push each change)."""
        key = (path, tuple(sorted((k, v) for k, v in (params or {}).items() if v is not None)))
        now = time.monotonic()
        shared = self._shared.get(key)
        if shared is None or (shared[1].done() and now - shared[0] > SHARE_S):
            future: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(self.merged_view(path, params))
            future.add_done_callback(functools.partial(self._keep, key, now))
            self._shared[key] = shared = (now, future)
            if len(self._shared) > 64:  # other days or years asked once: forget what is not shared any more
                for old in [k for k, (at, f) in self._shared.items() if f.done() and now - at > SHARE_S]:
                    del self._shared[old]
                    self._last.pop(old, None)
        last = self._last.get(key)
        if stale_ok and not shared[1].done() and last is not None and now - last[0] < self.stale_s:
            return dict(last[1])  # the workers are asked meanwhile: the next request gets their answer
        return dict(await asyncio.shield(shared[1]))  # callers may replace its keys, not the shared answer's

    def _keep(self, key: tuple[str, tuple[tuple[str, Any], ...]], began: float,
              future: asyncio.Future[dict[str, Any]]) -> None:  # fmt: skip
        """Remember a complete answer (retrieving a failure too: nobody may be waiting any more)."""
        if future.cancelled() or future.exception() is not None:
            return
        last = self._last.get(key)
        if last is None or last[0] < began:
            self._last[key] = (began, future.result())

    async def merged_view(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A row view (`rows`, each with its `partition`) merged over the workers; the rows' `partition` and the
        workers' `partitions` are dropped. Freshness: lag in events summed, in seconds the worst. Raises Unavailable
        with the reason when the answers do not cover every partition."""
        answers = await self.ask_all(path, params)
        merged: dict[str, Any] | None = None
        rows: list[dict[str, Any]] = []
        held: set[int] = set()
        problems: list[str] = []
        lag_events: int | None = 0
        lag_seconds: float | None = 0.0
        offsets: dict[str, dict[str, int]] | None = {}
        for answer in answers:
            if answer.status != 200 or not isinstance(answer.body, dict):
                detail = answer.error or (answer.body.get("detail") if isinstance(answer.body, dict) else None)
                problems.append(f"{answer.url}: {detail or f'answered {answer.status}'}")
                continue
            body = answer.body
            theirs = set(body.get("partitions", range(self.partitions))) - held  # the first claimant's rows win
            rows.extend(_public(row) for row in body.get("rows", []) if row.get("partition", -1) in theirs | {-1})
            held |= theirs
            # Unknown anywhere is unknown for the whole; each worker's offsets are of its own partitions.
            their_events, their_seconds, their_offsets = (body.get(k) for k in ("lag_events", "lag_seconds",
                                                                                  "as_of_offsets"))  # fmt: skip
            lag_events = None if lag_events is None or their_events is None else lag_events + int(their_events)
            lag_seconds = None if lag_seconds is None or their_seconds is None else max(lag_seconds, their_seconds)
            if offsets is None or not isinstance(their_offsets, dict):
                offsets = None
            else:
                for topic, positions in their_offsets.items():
                    offsets.setdefault(topic, {}).update(positions)
            merged = merged or {k: v for k, v in body.items() if k not in ("rows", "partitions")}
        missing = self._missing(held)
        if merged is None or missing:
            where = f"partitions {missing} are held by no worker that answered" if missing else "no worker answered"
            raise Unavailable("; ".join([where, *problems]))
        rows.sort(key=lambda row: (row.get("provider_id") or "", row.get("module_id") or ""))
        return {**merged, "rows": rows, "lag_events": lag_events, "lag_seconds": lag_seconds, "as_of_offsets": offsets}

    async def trajectory(self, path: str) -> dict[str, Any] | None:
        """The one answer 200 among the workers' (None: every partition answered 404); Unavailable when no worker
        knows it and some partitions were not asked (a worker down)."""
        answers = await self.ask_all(path)
        held: set[int] = set()
        problems: list[str] = []
        for answer in answers:
            if answer.status == 200 and isinstance(answer.body, dict):
                return {k: v for k, v in answer.body.items() if k != "partitions"}
            if answer.status == 404 and isinstance(answer.body, dict):
                held |= set(answer.body.get("partitions", range(self.partitions)))
            else:
                problems.append(f"{answer.url}: {answer.error or f'answered {answer.status}'}")
        if missing := self._missing(held):
            raise Unavailable("; ".join([f"partitions {missing} are held by no worker that answered", *problems]))
        return None

    async def readiness(self, timeout: float) -> dict[str, Any]:
        """For the API's /ready: each worker's own readiness page, and whether between them they are ready and
        hold every partition."""
        answers = await self.ask_all("/ready", timeout=timeout)
        workers: list[dict[str, Any]] = []
        held: set[int] = set()
        ready = True
        for answer in answers:
            if isinstance(answer.body, dict):
                state = {**answer.body, "url": answer.url, "ready": answer.status == 200}
                topics = [set(partitions) for partitions in (answer.body.get("partitions") or {}).values()]
                held |= set.intersection(*topics) if topics else set()  # a partition counts once both agents hold it
            else:
                state = {"url": answer.url, "ready": False, "error": answer.error or f"answered {answer.status}"}
            ready &= state["ready"]
            workers.append(state)
        missing = self._missing(held)
        summary: dict[str, Any] = {"ready": ready and not missing, "missing_partitions": missing}
        if len(workers) == 1:  # one worker: its page as it was, plus the summary
            return {**workers[0], **summary}
        return {**summary, "workers": workers}


def as_workers(projections: ProjectionWorkers | httpx.AsyncClient, partitions: int) -> ProjectionWorkers:
    """One worker's client as the set of workers (tests and tools that hold a single client)."""
    return ProjectionWorkers([projections], partitions) if isinstance(projections, httpx.AsyncClient) else projections


def workers_of(urls: list[str], partitions: int, timeout: float, stale_s: float = 0.0) -> ProjectionWorkers:
    return ProjectionWorkers([httpx.AsyncClient(base_url=url, timeout=timeout) for url in urls], partitions, stale_s)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "partition"}
