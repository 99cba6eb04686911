"""The live process (`kans serve live`, port KANS_LIVE_PORT): the read API's live views from the projections workers
— `GET /v1/live/provider-load`, `/v1/live/stream`, `/v1/live/waiting-times`, `/v1/live/trajectories/{id}` — in a
process that holds neither ClickHouse nor the writer, so that a burst of events, a report or the writer's refolds
do not slow them down (issue 13: in the API process the writer's ~0.5 s of query planning per batch and the reports
share the event loop's process with every live read).

The same routes, rules, audit, shedding, metrics, error answers and rate limit as the API (`main.assemble`); what
the API asks the warehouse for (the display names, a referral's referrer for a CLB) comes from an index of the
event log folded in this process (`live_facts.LiveFactsIndex`). It runs beside the API, which keeps serving the same
routes; as many live processes may run as the load needs (each reads the log itself, none holds a lock).

`/ready` is 200 only when the broker answers, the index has read the log up to the end it had at start and keeps
following it, and the projections workers between them hold every partition and are ready: a live process that
cannot answer its views is not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from core.access import check_rules, guard
from core.broker import READY_TIMEOUT_S, broker_problem
from core.settings import Settings, get_settings
from services.api.audit import AuditLog
from services.api.bootstrap import PROJECTIONS_TIMEOUT_S
from services.api.live_facts import LiveFactsIndex
from services.api.live_stream import LiveHub
from services.api.main import assemble
from services.api.projections import ProjectionWorkers, workers_of
from services.api.routes import live

DESCRIPTION = (
    "The live views of the KANS read API (provider load, its Server-Sent Events stream, waiting times, a "
    "trajectory's status), served by a process of their own beside the API: the same routes, tokens and scopes as "
    "the API's."
)


@dataclass
class LiveApi:
    """The live process's collaborators (the routes reach `projections`, `dispatch` and `audit` as on the API's
    `Api`)."""

    settings: Settings
    projections: ProjectionWorkers
    dispatch: httpx.AsyncClient | None
    audit: AuditLog | None
    facts: LiveFactsIndex

    async def stop(self) -> None:
        self.facts.stop()
        try:
            await self.projections.aclose()
            if self.dispatch is not None:
                await self.dispatch.aclose()
        finally:
            if self.audit is not None:
                self.audit.close()


def bootstrap_live(settings: Settings) -> LiveApi:
    """The live process's one wiring place."""
    projections = workers_of(settings.projections_base_urls, settings.event_partitions, PROJECTIONS_TIMEOUT_S,
                             settings.live_view_max_age_ms / 1000)
    dispatch = httpx.AsyncClient(base_url=settings.dispatch_base_url, timeout=PROJECTIONS_TIMEOUT_S)
    return LiveApi(settings, projections, dispatch, AuditLog(settings), LiveFactsIndex(settings))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    check_rules(app)
    api = bootstrap_live(app.state.settings)
    app.state.api = api
    app.state.live_lookups = api.facts
    api.facts.start()
    app.state.loop_lag.start()

    def resend() -> None:  # a name changed: the streams send their views again, named
        hub: LiveHub | None = getattr(app.state, "live_hub", None)
        if hub is not None:
            hub.touch()

    watcher = asyncio.create_task(api.facts.watch_names(resend))
    try:
        yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await app.state.loop_lag.stop()
        await api.stop()


operations = APIRouter(tags=["operations"])


@operations.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@operations.get("/ready", responses={503: {"description": "Not ready: `problems` says what is missing.",
                                           "content": {"application/json": {}}}})  # fmt: skip
async def ready(request: Request) -> JSONResponse:
    """Readiness: the broker answers, the index of names and referrers has read the event log and follows it, and
    the projections workers are ready and hold every partition between them. 503 lists what is missing."""
    api: LiveApi = request.app.state.api
    kafka, projections = await asyncio.gather(broker_problem(api.settings), api.projections.readiness(READY_TIMEOUT_S))
    problems = [f"kafka: {kafka}"] if kafka else []
    if not api.facts.alive:
        problems.append("facts: the index of names and referrers stopped following the event log")
    elif not api.facts.ready.is_set():
        problems.append("facts: the index of names and referrers is still reading the event log")
    if not projections["ready"]:
        missing = projections.get("missing_partitions")
        problems.append(f"projections: not ready{f' (partitions {missing} held by no worker)' if missing else ''}")
    body: dict[str, Any] = {
        "ready": not problems,
        "problems": problems,
        "kafka": kafka is None,
        "facts": {"ready": api.facts.ready.is_set(), "providers": len(api.facts.facts.providers),
                  "modules": len(api.facts.facts.modules), "referrers": len(api.facts.facts.referrers),
                  "unreadable": api.facts.unreadable},
        "projections": projections,
    }
    return JSONResponse(status_code=503 if problems else 200, content=body)


def create_live_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="KANS live views", version="1", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(guard)])  # fmt: skip
    assemble(settings, "live", app, [live.router, operations])
    if origins := [origin.strip() for origin in settings.live_cors_origins.split(",") if origin.strip()]:
        # The API's dashboard reads the live views here from another origin (its token in the Authorization header,
        # no cookies): outermost, so that a preflight is answered before the rate limit and the access rules.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET"],
                           allow_headers=["Authorization", "X-Access-Reason"], max_age=600)  # fmt: skip
    return app
