"""`kans bench-auth`: what authentication and scoping cost on the read API. In one run, on one warehouse and one
projections worker, `GET /v1/stats/{year}` (the whole report of a school year) and `GET /v1/live/provider-load` are
asked alternately with a desk token (verified, the route's rule checked, the scope resolved) and without (a second
app on the same warehouse and worker whose access policy trusts every request as the desk's: the same routes and
dependencies, no token read or verified, no rule checked); p50/p99 of each.
Also timed: one token verification alone, and a CLB's scoped report (its own referrals, small cells suppressed).

The API runs in this process (it owns the embedded ClickHouse, its writer fills it), asked through ASGI without a
socket, so the relative overhead is an upper bound of what a client over HTTP would see. The ingest and the
projections worker run as processes; the demo data (two school years at scale 1) go in through the ingest."""

from __future__ import annotations

import asyncio
import json
import platform as host
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx

from core.access import Access
from core.auth import Principal, Role, TokenVerifier, development_headers, issue_development_token
from core.settings import Settings, get_settings
from core.topics import ensure_topics
from kans.demo import DEMO_API_KEY, demo_events
from kans.kafka_local import LocalKafka
from kans.paths import REPO_ROOT
from kans.processes import ServiceProcesses, isolated_settings
from kans.synthetic.output import post_to_ingest
from schemas.envelope import school_year_of
from services.api.main import create_app

DESK = Principal("bench-desk", Role.desk)


class _TrustEveryone(Access):
    """The baseline: every request is the desk's, nothing verified or checked (never used outside this benchmark)."""

    async def principal(self, request: Any, bearer: Any) -> Principal | None:
        return DESK
CLB = "clb-brussel-1"  # a referrer of the synthetic data


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summary(seconds: list[float]) -> dict[str, float]:
    ms = [1000 * s for s in seconds]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 3), "p99_ms": round(pct(ms, 99), 3),
            "mean_ms": round(statistics.fmean(ms), 3)}  # fmt: skip


async def _timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed


async def _compare(with_auth: httpx.AsyncClient, without: httpx.AsyncClient, path: str, n: int) -> dict[str, Any]:
    """n requests each way, interleaved (the order flips every round, so drift and caches hit both alike)."""
    for _ in range(3):
        await _timed(with_auth, path)
        await _timed(without, path)
    timings: dict[str, list[float]] = {"with_auth": [], "without_auth": []}
    for i in range(n):
        pair = [("with_auth", with_auth), ("without_auth", without)]
        for name, client in pair if i % 2 == 0 else pair[::-1]:
            timings[name].append(await _timed(client, path))
    out: dict[str, Any] = {name: summary(values) for name, values in timings.items()}
    for stat in ("p50_ms", "p99_ms"):
        base = out["without_auth"][stat]
        out[f"overhead_{stat[:3]}_pct"] = round(100 * (out["with_auth"][stat] - base) / base, 2) if base else None
    return out


def _verify_cost(settings: Settings, n: int = 500) -> dict[str, float]:
    """One verification of a token not seen before (signature and claims), and of one verified within the minute."""
    tokens = TokenVerifier(settings)
    fresh = [issue_development_token(settings, Role.clb, [CLB], subject=f"bench-{i}") for i in range(n)]
    tokens.verify(issue_development_token(settings, Role.clb, [CLB]))
    started = time.perf_counter()
    for token in fresh:
        tokens.verify(token)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for token in fresh:
        tokens.verify(token)
    again = time.perf_counter() - started
    return {"n": n, "first_mean_us": round(1e6 * first / n, 1), "remembered_mean_us": round(1e6 * again / n, 1)}


async def _wait(probe: Callable[[], Any], what: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


async def _measure(settings: Settings, year: str, created: int, stats_n: int, live_n: int,
                   echo: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        bare = create_app(settings)
        bare.state.api = app.state.api
        bare.state.access = _TrustEveryone(app.state.access.rules, app.state.access.tokens, "kans")
        desk, clb = development_headers(settings), development_headers(settings, Role.clb, [CLB])
        base = "http://api"
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, headers=desk, timeout=120) as auth,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url=base, timeout=120) as without,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, headers=clb, timeout=120) as own,
        ):
            writer = app.state.api.writer

            async def stored() -> bool:
                return writer is not None and writer.status.rows_written >= created

            async def projected() -> bool:
                return bool((await auth.get("/v1/live/provider-load")).json().get("rows"))

            echo(f"waiting until ClickHouse holds the {created:,} events and the projections show the load")
            await _wait(stored, "the writer")
            await _wait(projected, "the provider-load view")
            echo(f"GET /v1/stats/{year}: {stats_n} requests each way, interleaved")
            stats = await _compare(auth, without, f"/v1/stats/{year}", stats_n)
            echo(f"GET /v1/live/provider-load: {live_n} requests each way, interleaved")
            live = await _compare(auth, without, "/v1/live/provider-load", live_n)
            clb_report = summary([await _timed(own, f"/v1/stats/{year}") for _ in range(max(3, stats_n // 5))])
    return {"stats_year": stats, "live_provider_load": live, "clb_scoped_stats_year": clb_report}


def run_bench_auth(stats_requests: int = 50, live_requests: int = 500,
                   echo: Callable[[str], None] = lambda _: None) -> dict[str, Any]:  # fmt: skip
    base = get_settings()
    LocalKafka(base).start()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = base.data_dir / "bench" / f"auth-{stamp}"
    settings = isolated_settings(workdir, base.kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    today = date.today()
    year = school_year_of(date(today.year - 1, today.month, 1))  # the last complete-ish year of the demo's two
    with ServiceProcesses(settings, workdir / "logs") as services:
        services.start("ingest")
        services.start("projections")
        echo("loading two school years of demo data through the ingest")
        loaded = post_to_ingest(demo_events(today, years=2), settings.ingest_base_url, DEMO_API_KEY)
        created = int(loaded["created"])
        measured = asyncio.run(_measure(settings, year, created, stats_requests, live_requests, echo))
    result = {
        "when": stamp,
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "school_year": year,
        "events": created,
        "token_verification": _verify_cost(settings),
        **measured,
    }
    out = REPO_ROOT / "bench-results" / f"auth-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    echo(json.dumps(result, indent=2))
    echo(f"saved to {out.relative_to(REPO_ROOT)}")
    return result
