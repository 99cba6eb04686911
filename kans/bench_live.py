"""`kans bench-live`: the live side under load (issue 16), on its own isolated platform (topic prefix, ports, chDB
folder) on the local broker, with two projections workers as `kans up` runs them:

1. fan-out: `streams` dashboards listen to GET /v1/live/stream; one capacity change is ingested; the time until the
   first, the median and the last stream received it (from the ingest's 202);
2. idle, then under load: first the reads alone for `seconds` (the reference), then the ingest takes `rate`
   events/s (referral, dispatch and start of trajectories spread over providers) for `seconds`. Both phases ask
   GET /v1/live/provider-load at `api_rps` requests/s and GET /v1/stats/2025-2026 (the year the load lands in, so the
   report is recomputed whenever the writer stored more) at STATS_RPS, open loop from a process of their own on
   aiohttp (p50/p99 latency, non-200 answers counted); under load also a marker capacity change every 0.5 s, timed
   from its 202 to its arrival on a dashboard's stream (freshness event -> SSE), and a marker trajectory every second,
   timed from its 202 to its three events in ClickHouse (GET /v1/referrals/{id}/events: freshness event ->
   ClickHouse). The CPU each process group used meanwhile (from /proc), and how busy the machine's cores were, tell
   where the cores went;
3. replay: two fresh projections workers (a new application id: their own group, tables and changelogs) rebuild every
   projection from the whole log; events/s until both are ready with no lag, and whether their merged provider-load
   view equals the live workers'.

The figures are printed and saved as JSON in bench-results/."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform as host
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from core.auth import development_headers
from core.progress import progress
from core.settings import Settings, get_settings
from core.topics import ensure_topics
from kans.kafka_credentials import security_of
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, free_port, isolated_settings, settings_env
from services.api.projections import ProjectionWorkers, Unavailable, workers_of

INGEST_HEADERS = {"X-API-Key": "kans-dev-all"}  # the development key that may speak for every source system
PROVIDERS = tuple(f"bench-live-{i}" for i in range(12))
FAN, MARKER = "bench-fan", "bench-marker"
SECOND = "projections-2"
STATS_YEAR, STATS_RPS = "2025-2026", 1
# A second statistics reader that accepts a report up to 30 s old (`Cache-Control: max-stale=30`: answered from the kept
# report while events stream in, which is then computed again in the background).
STALE_OK = {"Cache-Control": "max-stale=30"}
READERS_START_S = 5.0  # the readers' process is spawned, imports and connects meanwhile; then both sides begin


def _sub(kind: str, ref: str, system: str, payload: dict[str, Any], day: str = "2025-10-06") -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": f"{day}T09:00:00+02:00", "source_system": system, "source_ref": ref,
            "actor": "desk:bench", "payload": payload}  # fmt: skip


def capacity(provider: str, places: int, n: int) -> dict[str, Any]:
    """Capacity `places` from day `n` after 2000-09-01: a later change is in force over an earlier one."""
    valid_from = (date(2000, 9, 1) + timedelta(days=n)).isoformat()
    return _sub(
        "ProviderCapacitySet",
        f"bench-cap:{provider}:{valid_from}",
        "desk",
        {"provider_id": provider, "module_id": "individual", "capacity": places, "valid_from": valid_from},
    )


def trajectory(run: str, n: int) -> list[dict[str, Any]]:
    rid, tid = f"R-BL{run}-{n}", f"T-BL{run}-{n}"
    referral = {**_sub("ReferralSubmitted", f"bl:ref:{rid}", "lars", {
        "referral_id": rid, "pupil_id": f"bench-live-{run}-{n}", "channel": "lars", "referrer_id": "clb-brussel-1",
        "offer_type": "regular", "level": "secondary", "gender": "girl", "birth_year": 2010, "birth_month": 1 + n % 12},
        "2025-10-01"), "schema_version": 2}  # fmt: skip
    provider = PROVIDERS[n % len(PROVIDERS)]
    dispatched = _sub("TrajectoryDispatched", f"bl:dispatch:{tid}", "desk", {
        "referral_id": rid, "trajectory_id": tid, "provider_id": provider, "module_id": "individual",
        "offer_type": "regular"}, "2025-10-03")  # fmt: skip
    started = _sub(
        "TrajectoryStarted",
        f"bl:start:{tid}",
        "provider_portal",
        {"referral_id": rid, "trajectory_id": tid, "half_days_per_week": 1 + n % 4},
        "2025-10-08",
    )
    return [referral, dispatched, started]


def summary_ms(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    p90 = ordered[min(len(ordered) - 1, int(0.90 * len(ordered)))]
    return {"n": len(values), "median": round(1000 * statistics.median(values), 1), "p90": round(1000 * p90, 1),
            "p99": round(1000 * p99, 1), "max": round(1000 * ordered[-1], 1)}  # fmt: skip


class Stream:
    """One dashboard's Server-Sent-Events stream: calls `on_load(view, at)` for every provider-load event."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], on_load: Callable[[Any, float], None]):
        self.client, self.headers, self.on_load = client, headers, on_load
        self.first = asyncio.Event()

    async def run(self) -> None:
        async with self.client.stream("GET", "/v1/live/stream", headers=self.headers, timeout=None) as response:
            response.raise_for_status()
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "provider-load":
                    self.on_load(json.loads(line[5:]), time.perf_counter())
                    self.first.set()


def capacity_of(view: Any, provider: str) -> int | None:
    return next((row["capacity"] for row in view["rows"] if row["provider_id"] == provider), None)


async def fan_out(settings: Settings, live_url: str, ingest: httpx.AsyncClient, streams: int) -> dict[str, Any]:
    """`streams` dashboards, one change: when did each receive it."""
    headers = development_headers(settings)
    wanted = 1_000 + streams
    seen: list[float | None] = [None] * streams

    def recorder(i: int) -> Callable[[Any, float], None]:
        def on_load(view: Any, at: float) -> None:
            if seen[i] is None and capacity_of(view, FAN) == wanted:
                seen[i] = at

        return on_load

    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=live_url, limits=limits) as api:
        listeners = [Stream(api, headers, recorder(i)) for i in range(streams)]
        tasks = [asyncio.create_task(s.run()) for s in listeners]
        await asyncio.wait_for(asyncio.gather(*(s.first.wait() for s in listeners)), 120)
        response = await ingest.post("/v1/events/batch", json=[capacity(FAN, wanted, 1)])
        response.raise_for_status()
        sent = time.perf_counter()
        deadline = sent + 60
        while any(at is None for at in seen) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    arrived = sorted(at - sent for at in seen if at is not None)
    return {"streams": streams, "received": len(arrived),
            "first_ms": round(1000 * arrived[0], 1) if arrived else None,
            "median_ms": round(1000 * statistics.median(arrived), 1) if arrived else None,
            "last_ms": round(1000 * arrived[-1], 1) if len(arrived) == streams else None}  # fmt: skip


def _cpu_ticks_by_group() -> dict[int, int]:
    """CPU time (user + system, clock ticks) of every process on the machine, summed per process group, each process
    with its children that ended and were waited for (`cutime`, `cstime`): the benchmark's reader process ends before
    the share is read, and its time would otherwise vanish from its group's (a share of -0.0 was reported)."""
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        pgrp, own, ended_children = int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        ticks[pgrp] = ticks.get(pgrp, 0) + own + ended_children
    return ticks


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


class CpuShare:
    """How many cores each named process group (and the whole machine) used between `start` and `stop`."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups  # name -> process group id
        self.hz = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self.began, self.ticks, self.machine = time.perf_counter(), _cpu_ticks_by_group(), _machine_ticks()

    def stop(self) -> dict[str, Any]:
        elapsed, ticks, (busy, total) = time.perf_counter() - self.began, _cpu_ticks_by_group(), _machine_ticks()
        used = {name: (ticks.get(group, 0) - self.ticks.get(group, 0)) / self.hz / elapsed
                for name, group in self.groups.items()}  # fmt: skip
        return {"cores_used": {name: round(cores, 2) for name, cores in used.items()},
                "machine_busy_percent": round(100 * (busy - self.machine[0]) / max(1, total - self.machine[1]), 1),
                "cores": os.cpu_count()}  # fmt: skip


class OpenLoop:
    """GET `path` at `rps` requests/s, open loop (each request sent on time, whether or not the others answered):
    the latencies of the 200 answers and every answer's status (or error) counted. On aiohttp: httpx's client costs
    about 13 ms of CPU a request at 200 requests/s on this machine's cores, so the client, not the API, set the
    latencies it measured (0.9 of a core for a third of the requests)."""

    def __init__(self, session: aiohttp.ClientSession, path: str, rps: float, headers: dict[str, str]) -> None:
        self.session, self.path, self.rps, self.headers = session, path, rps, headers
        self.latencies: list[float] = []
        self.worst: dict[int, float] = {}  # second of the run -> the slowest answer sent in it
        self.answers: Counter[int | str] = Counter()
        self.began = time.perf_counter()

    async def one(self) -> None:
        began = time.perf_counter()
        try:
            async with self.session.get(self.path, headers=self.headers) as response:
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as err:
            self.answers[type(err).__name__] += 1
            return
        self.answers[response.status] += 1
        if response.status == 200:
            took, second = time.perf_counter() - began, int(began - self.began)
            self.latencies.append(took)
            self.worst[second] = max(self.worst.get(second, 0.0), took)

    async def run(self, stop: asyncio.Event) -> None:
        pending: set[asyncio.Task[None]] = set()
        began, k = time.perf_counter(), 0
        self.began = began
        while not stop.is_set():
            k += 1
            task = asyncio.create_task(self.one())
            pending.add(task)
            task.add_done_callback(pending.discard)
            await asyncio.sleep(max(0.0, began + k / self.rps - time.perf_counter()))
        await asyncio.gather(*pending, return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        return {"asked_rps": self.rps, **summary_ms(self.latencies),
                "answers": {str(k): v for k, v in self.answers.items()},
                "worst_ms_by_second": [round(1000 * self.worst.get(i, 0.0))
                                       for i in range(max(self.worst, default=-1) + 1)]}  # fmt: skip


def _reader_loops(api_url: str, live_url: str, headers: dict[str, str], api_rps: int, start_at: float,
                  seconds: float) -> dict[str, Any]:  # fmt: skip
    """In a process of its own (the readers must not queue behind the load's client on one event loop): from wall
    clock `start_at`, the live view at `api_rps` (from `live_url`: the live process, or the API) and the year's
    statistics at STATS_RPS (plain and `max-stale=30`, from the API) for `seconds`; their summaries."""

    async def run() -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=30)
        async with (aiohttp.ClientSession(base_url=api_url, timeout=timeout,
                                          connector=aiohttp.TCPConnector(limit=400)) as session,
                    aiohttp.ClientSession(base_url=live_url, timeout=timeout,
                                          connector=aiohttp.TCPConnector(limit=400)) as live):  # fmt: skip
            loops = {"live_view_api": OpenLoop(live, "/v1/live/provider-load", api_rps, headers),
                     "statistics_api": OpenLoop(session, f"/v1/stats/{STATS_YEAR}", STATS_RPS, headers),
                     "statistics_api_max_stale_30": OpenLoop(session, f"/v1/stats/{STATS_YEAR}", STATS_RPS,
                                                             {**headers, **STALE_OK})}  # fmt: skip
            await asyncio.sleep(max(0.0, start_at - time.time()))
            stop = asyncio.Event()
            tasks = [asyncio.create_task(loop.run(stop)) for loop in loops.values()]
            await asyncio.sleep(seconds)
            stop.set()
            await asyncio.gather(*tasks)
            return {name: loop.summary() for name, loop in loops.items()}

    return asyncio.run(run())


async def readers(settings: Settings, live_url: str, api_rps: int, seconds: float) -> dict[str, Any]:
    """`_reader_loops` in a child process (same process group: its CPU counts as the bench client's), asking from
    READERS_START_S on: the caller starts its own side after sleeping as long."""
    headers, start_at = development_headers(settings), time.time() + READERS_START_S
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return await asyncio.get_running_loop().run_in_executor(
            pool, _reader_loops, settings.api_base_url, live_url, headers, api_rps, start_at, seconds)  # fmt: skip


async def counted(request: Awaitable[httpx.Response], failures: dict[str, int]) -> httpx.Response | None:
    """The request's answer, or None when the connection failed (counted in `failures["transport"]`; a server closing
    a kept-alive connection as the next request goes out is one): one such failure is a figure of the run, not its
    end."""
    try:
        return await request
    except httpx.TransportError:
        failures["transport"] = failures.get("transport", 0) + 1
        return None


async def post_counted(client: httpx.AsyncClient, path: str, body: Any, failures: dict[str, int]) -> int | None:
    """POST `body`: the answer's status, or None when the connection failed (`counted`)."""
    response = await counted(client.post(path, json=body), failures)
    return None if response is None else response.status_code


async def to_clickhouse(ingest: httpx.AsyncClient, api: httpx.AsyncClient, headers: dict[str, str], run: str, i: int,
                        seen: list[float], failures: dict[str, int]) -> None:  # fmt: skip
    """One marker trajectory (three events): from its 202 until GET /v1/referrals/{id}/events lists all three."""
    events = trajectory(f"{run}ch", i)
    if await post_counted(ingest, "/v1/events/batch", events, failures) != 202:
        return
    posted, rid = time.perf_counter(), events[0]["payload"]["referral_id"]
    while time.perf_counter() - posted < 300:
        history = await counted(api.get(f"/v1/referrals/{rid}/events", headers=headers), failures)
        if history is not None and history.status_code == 200 and len(history.json()["events"]) >= len(events):
            seen.append(time.perf_counter() - posted)
            return
        await asyncio.sleep(0.05)


async def under_load(settings: Settings, live_url: str, ingest: httpx.AsyncClient, rate: int, seconds: float,
                     api_rps: int, cpu: CpuShare) -> dict[str, Any]:  # fmt: skip
    """The reads alone for `seconds`, then the same reads while the ingest takes `rate` events/s, with markers
    to a dashboard's stream and to ClickHouse."""
    headers = development_headers(settings)
    run = uuid.uuid4().hex[:6]
    posted: dict[int, float] = {}
    arrived: dict[int, float] = {}
    in_clickhouse: list[float] = []
    ingested = {"events": 0, "refused": 0}
    failures: dict[str, int] = {}
    stop = asyncio.Event()

    def on_load(view: Any, at: float) -> None:
        cap = capacity_of(view, MARKER)
        if cap is not None:
            for marker in [m for m in posted if m <= cap and m not in arrived]:  # one partition: in order
                arrived[marker] = at

    async def load() -> None:
        n, per_batch, began = 0, 33, time.perf_counter()  # 33 trajectories: 99 events a batch
        with progress(f"bench: ingesting ({rate:,} events/s asked)", int(rate * seconds)) as bar:
            while not stop.is_set():
                batch = [event for i in range(n, n + per_batch) for event in trajectory(run, i)]
                status = await post_counted(ingest, "/v1/events/batch", batch, failures)
                if status == 202:
                    ingested["events"] += len(batch)
                    bar.advance(len(batch))
                    n += per_batch
                elif status is not None:  # refused: the same batch again (as after a failed connection)
                    ingested["refused"] += len(batch)
                ahead = began + ingested["events"] / rate - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)

    async def markers() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            if await post_counted(ingest, "/v1/events/batch", [capacity(MARKER, i, i)], failures) == 202:
                posted[i] = time.perf_counter()
            await asyncio.sleep(0.5)

    async def clickhouse_markers(api: httpx.AsyncClient) -> None:
        pending, i = [], 0
        while not stop.is_set():
            i += 1
            pending.append(asyncio.create_task(to_clickhouse(ingest, api, headers, run, i, in_clickhouse, failures)))
            await asyncio.sleep(1.0)
        await asyncio.gather(*pending)

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
    async with (httpx.AsyncClient(base_url=settings.api_base_url, limits=limits, timeout=30) as api,
                httpx.AsyncClient(base_url=live_url, timeout=30) as live):  # fmt: skip
        idle = await readers(settings, live_url, api_rps, seconds)  # the reference: the same reads, nothing ingested
        listener = Stream(live, headers, on_load)
        listening = asyncio.create_task(listener.run())
        await asyncio.wait_for(listener.first.wait(), 60)
        reading = asyncio.create_task(readers(settings, live_url, api_rps, seconds))
        await asyncio.sleep(READERS_START_S)
        cpu.start()
        started = time.perf_counter()
        workers = [asyncio.create_task(work) for work in (load(), markers(), clickhouse_markers(api))]
        await asyncio.sleep(seconds)
        cores = cpu.stop()
        stop.set()
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        reads = await reading
        deadline = time.perf_counter() + 300  # the markers still on their way
        while len(arrived) < len(posted) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    freshness = [arrived[m] - posted[m] for m in sorted(arrived)]
    return {"rate_asked": rate, "seconds": round(elapsed, 1), "events_ingested": ingested["events"],
            "events_per_s": round(ingested["events"] / elapsed), "refused": ingested["refused"],
            "transport_failures": failures.get("transport", 0),
            "freshness_event_to_sse_ms": {**summary_ms(freshness), "markers": len(posted),
                                          "arrived": len(arrived)},
            "freshness_event_to_clickhouse_ms": summary_ms(in_clickhouse),
            **reads, "idle_reference": idle, "cpu": cores}  # fmt: skip


def _readiness(url: str) -> tuple[bool, Any]:
    """(caught up, what its readiness page said: None when it did not answer with one)."""
    try:
        response = httpx.get(f"{url}/ready", timeout=10)
        body = response.json()
    except (httpx.HTTPError, ValueError):  # not up yet, or its web server up before its pages (a text 404)
        return False, None
    caught_up = response.status_code == 200 and all(lag and lag["lag_events"] == 0 for lag in body["lag"].values())
    lag = {topic: report and report.get("lag_events") for topic, report in (body.get("lag") or {}).items()}
    return caught_up, (response.status_code, lag, body.get("partitions"))  # not its lag in seconds: that grows


def _caught_up(url: str) -> bool:
    return _readiness(url)[0]


class StallWatch:
    """Which workers made no progress for `limit_s`: not caught up, and the same readiness answer (or none) all that
    time. A pure rule: the caller passes what each said and the time."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.seen: dict[Any, tuple[Any, float]] = {}

    def stalled(self, key: Any, caught_up: bool, said: Any, now: float) -> bool:
        last = self.seen.get(key)
        if caught_up or last is None or last[0] != said:
            self.seen[key] = (said, now)
            return False
        return now - last[1] > self.limit_s

    def forget(self, key: Any) -> None:
        self.seen.pop(key, None)


def _until(probe: Callable[[], Any], what: str, timeout_s: float = 600) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return found


def _view(workers: ProjectionWorkers) -> list[dict[str, Any]]:
    async def ask() -> list[dict[str, Any]]:
        try:
            return list((await workers.view("/provider-load"))["rows"])
        except Unavailable:
            return []

    return asyncio.run(ask())


def restart_exited(procs: dict[int, Any], launch: Callable[[int], None]) -> int:
    """Start again (`launch(key)`) each of `procs` that exited; how many did."""
    exited = [key for key, proc in procs.items() if proc.poll() is not None]
    for key in exited:
        launch(key)
    return len(exited)


# A replay worker starts with empty tables (a new group): a rebalance of a minute is a hung one, and so is a worker
# whose readiness page says the same for two.
REPLAY_REBALANCE_EXIT_S = 60.0
REPLAY_STALL_S = 120.0


def replay(settings: Settings, logs: Path, events: int) -> dict[str, Any]:
    """Two fresh workers (a new application id, as the tools' principal) rebuild every projection from the log;
    their merged provider-load view against the live workers' (settings.projections_base_urls)."""
    replay_settings = Settings(**{**settings.model_dump(), "projections_app_id": f"kans-replay-{uuid.uuid4().hex[:6]}"})
    ensure_topics(replay_settings)  # its internal load-changes topic, before the workers subscribe
    ports = [free_port(), free_port()]
    env = {**settings_env(settings), "KANS_PROJECTIONS_APP_ID": replay_settings.projections_app_id,  # as admin
           "KANS_FAUST_REBALANCE_EXIT_S": str(REPLAY_REBALANCE_EXIT_S)}  # fmt: skip
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    procs: dict[int, subprocess.Popen[bytes]] = {}
    restarts, stall = 0, StallWatch(REPLAY_STALL_S)

    def launch(port: int) -> None:
        log = open(logs / f"replay-{port}.log", "ab")  # noqa: SIM115 - owned by the child process
        procs[port] = subprocess.Popen([sys.executable, "-m", "kans.cli", "serve", "projections"], cwd=REPO_ROOT,
                                       env={**env, "KANS_PROJECTIONS_PORT": str(port)}, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def supervised_caught_up() -> bool:
        """Every worker caught up; one that exited is started again first, as supervisord and compose's restart
        policy do (faust 0.15 with aiokafka 0.14 can crash in a rebalance: a KeyError in the fetcher, aiokafka#19).
        One that hangs (the same readiness answer, or none, for REPLAY_STALL_S while not caught up: seen once, a
        worker silent after "Heartbeat failed ... rebalancing") is killed and started again: its own watchdog
        (core/faust_apps.py) sees a hung rebalance, not a hung event loop."""
        nonlocal restarts
        restarts += restart_exited(procs, launch)
        every = []
        for port, url in zip(ports, urls, strict=True):
            caught_up, said = _readiness(url)
            if stall.stalled(port, caught_up, said, time.monotonic()):
                os.killpg(procs[port].pid, signal.SIGKILL)
                procs[port].wait(timeout=30)
                stall.forget(port)
                launch(port)
                restarts += 1
            every.append(caught_up)
        return all(every)

    began = time.perf_counter()
    for port in ports:
        launch(port)
    try:
        _until(supervised_caught_up, "the replay workers caught up")
        took = time.perf_counter() - began
        live = workers_of(settings.projections_base_urls, settings.event_partitions, 30)
        fresh = workers_of(urls, settings.event_partitions, 30)
        identical = _view(fresh) == _view(live)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        _delete_topics(settings, f"{replay_settings.topic_prefix}{replay_settings.projections_app_id}-")
    return {"events_in_log": events, "workers": 2, "seconds": round(took, 1), "events_per_s": round(events / took),
            "views_identical_to_live": identical, "worker_restarts": restarts}  # fmt: skip


def _delete_topics(settings: Settings, prefix: str) -> None:
    """The replay's own topics (its changelogs, internal topic, assignor's): measured, then gone."""
    from kafka import KafkaAdminClient

    from core.kafka_security import client_config

    admin = KafkaAdminClient(**client_config(settings))
    try:
        if mine := [topic for topic in admin.list_topics() if topic.startswith(prefix)]:
            admin.delete_topics(mine)
    finally:
        admin.close()


def _log_size(settings: Settings) -> int:
    from kafka import KafkaConsumer, TopicPartition

    from core.kafka_security import client_config
    from core.topics import events_topic

    consumer = KafkaConsumer(**client_config(settings))
    try:
        topic = events_topic(settings)
        tps = [TopicPartition(topic, p) for p in range(settings.event_partitions)]
        ends, starts = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        consumer.close()


def run_bench_live(rate: int, seconds: float, streams: int, api_rps: int, live_from: str = "live",
                   echo: Callable[[str], None] = print) -> dict[str, Any]:  # fmt: skip
    """`live_from`: who serves the live views and their stream, the live process (`kans serve live`) or the API."""
    base = get_settings()
    kafka = LocalKafka(base)
    kafka.start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / f"live-{stamp}"
    second_port = free_port()
    isolated = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING",
                                 **security_of(kafka.client_settings()))  # fmt: skip
    settings = Settings(**{**isolated.model_dump(), "projections_urls":
                           f"{isolated.projections_base_url},http://127.0.0.1:{second_port}"})  # fmt: skip
    ensure_topics(settings)
    result: dict[str, Any] = {"when": stamp, "machine": f"{host.node()} {host.machine()} {os.cpu_count()} cores "
                              f"python {host.python_version()}"}  # fmt: skip
    with ServiceProcesses(settings, workdir / "logs", more_projections={SECOND: second_port}) as services:
        services.start("projections", SECOND, "ingest", "api", *(["live"] if live_from == "live" else []))
        live_url = settings.live_base_url if live_from == "live" else settings.api_base_url
        result["live_views_from"] = live_from
        echo(f"platform up: two projections workers, ingest, API{', live process' if live_from == 'live' else ''}")
        groups = {name: proc.pid for name, proc in services.procs.items()}  # each started in a session of its own
        broker = kafka.pid()
        cpu = CpuShare({**groups, **({"broker": os.getpgid(broker)} if broker else {}), "bench client": os.getpgrp()})

        async def measure() -> None:
            async with httpx.AsyncClient(base_url=settings.ingest_base_url, timeout=60,
                                         headers=INGEST_HEADERS) as ingest:  # fmt: skip
                seed = [capacity(p, 500, 0) for p in (*PROVIDERS, FAN, MARKER)]
                seed += [e for n in range(600) for e in trajectory("seed", n)]
                for i in range(0, len(seed), 500):
                    (await ingest.post("/v1/events/batch", json=seed[i : i + 500])).raise_for_status()
                caught_up = [lambda url=url: _caught_up(url) for url in settings.projections_base_urls]
                await asyncio.to_thread(_until, lambda: all(probe() for probe in caught_up), "the seed projected")
                echo(f"fan-out: {streams} dashboards on the stream, one capacity change")
                result["sse_fan_out"] = await fan_out(settings, live_url, ingest, streams)
                echo(f"reads alone for {seconds:.0f} s, then under load: {rate} events/s for {seconds:.0f} s, "
                     f"markers every 0.5 s (SSE) and 1 s (ClickHouse), {api_rps} live-view and {STATS_RPS} "
                     "statistics reads/s")  # fmt: skip
                result["under_load"] = await under_load(settings, live_url, ingest, rate, seconds, api_rps, cpu)

        asyncio.run(measure())
        live_urls = settings.projections_base_urls
        _until(lambda: all(_caught_up(url) for url in live_urls), "the live workers caught up")
        events = _log_size(settings)
        echo(f"replay: two fresh workers rebuild every projection from {events:,} events")
        result["replay"] = replay(settings, workdir / "logs", events)
    out = REPO_ROOT / "bench-results" / f"live-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    echo(json.dumps(result, indent=2))
    echo(f"saved to {out.relative_to(REPO_ROOT)}")
    return result
