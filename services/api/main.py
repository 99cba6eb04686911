"""API HTTP entrypoint: the routers assembled into one app (live views, statistics, ad hoc, history, report,
operations, the dashboard); its collaborators come from `bootstrap`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from core.access import check_rules, guard, install_access
from core.auth import TokenVerifier
from core.http_errors import install_error_handlers
from core.http_metrics import instrument_http
from core.logs import configure_logging
from core.metrics import new_registry
from core.settings import Settings, get_settings
from services.api.access import RULES
from services.api.audit import AuditMiddleware
from services.api.bootstrap import bootstrap
from services.api.overload import LoopLag, ShedMetrics, ShedWhenBehind
from services.api.rate_limit import install_rate_limit
from services.api.report.router import router as report_router
from services.api.routes import (
    adhoc,
    audit,
    dashboard,
    dispatch,
    history,
    live,
    live_operations,
    operations,
    statistics,
)

DESCRIPTION = (
    "Live views of the referral desk (provider load, waiting times), statistics of the annual report "
    "and event history, from the KANS event log. Submitting events goes through the ingest service. "
    "Every route but /health, /ready and /metrics asks for `Authorization: Bearer <JWT>` of the configured identity "
    "provider (locally: `kans token --role desk`); each operation lists the roles that may use it, and what a role "
    "sees is narrowed to its own rows (a CLB its referrals, a provider its trajectories; statistics for every role "
    "but the desk with small cells suppressed). A referral or trajectory outside the caller's scope answers 404."
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Wire the API for this process (ClickHouse, migrations, the writer, the projections client); stop it all
    with the app."""
    check_rules(app)  # a route without an access rule never serves
    api = bootstrap(app.state.settings, app.state.registry)
    app.state.api = api
    try:
        api.start()
        app.state.loop_lag.start()
        yield
    finally:
        await app.state.loop_lag.stop()
        await api.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="KANS API", version="1", description=DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(guard)])
    routers = [live.router, live_operations.router, dispatch.router, statistics.router, history.router, adhoc.router,
               report_router, operations.router, dashboard.router, audit.router]
    return assemble(settings, "api", app, routers)


def assemble(settings: Settings, service: str, app: FastAPI, routers: list[APIRouter]) -> FastAPI:
    """What every process of the read API has around its routers (the API, the live process): who may call which
    route, the audit of reads about pupils, shedding while the loop is behind, HTTP metrics, the error answers and
    the rate limit. `app` must have `Depends(guard)` among its dependencies."""
    configure_logging(settings.log_level, service)
    app.state.settings = settings
    tokens = TokenVerifier(settings)
    install_access(app, RULES, tokens, realm="kans")
    # Reads of pupils' histories and per-pupil rows are recorded before they are answered; innermost, so the HTTP
    # metrics count the 503 of a read that could not be audited.
    app.add_middleware(AuditMiddleware)
    app.state.registry = new_registry()  # /metrics: HTTP requests, and the writer's when this process hosts it
    # Live views shed while the event loop is behind; inside the HTTP metrics, so that they count the 503s.
    app.state.loop_lag = lag = LoopLag()
    app.add_middleware(ShedWhenBehind, lag=lag, bound_s=settings.api_shed_behind_ms / 1000,
                       metrics=ShedMetrics(app.state.registry, lag))
    instrument_http(app, app.state.registry)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    install_rate_limit(app, settings.rate_limit, tokens)  # outermost: a caller over its limit costs nothing more
    return app
