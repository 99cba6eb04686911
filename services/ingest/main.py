"""Ingest HTTP entrypoint: the routers assembled into one app; its collaborators come from `bootstrap`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from core.auth import TokenVerifier
from core.http_errors import install_error_handlers
from core.http_metrics import instrument_http
from core.logs import configure_logging
from core.metrics import new_registry
from core.settings import Settings, get_settings
from services.ingest.bootstrap import bootstrap
from services.ingest.routes import dispatch, events, imports, operations

DESCRIPTION = (
    "The way in for every source system (LARS, external-CLB form, group tool, desk, providers). "
    "Each event is validated against the contract, deduplicated on (source_system, source_ref) and "
    "published to Kafka; `202` means the broker acknowledged it. `503` means not acknowledged: the events "
    "may or may not be in the log (a refused attempt can land when the broker comes back), and retrying the "
    "same submissions is safe (same event ids). Every request carries the source "
    "system's API key in the header `X-API-Key`, or a bearer token (`Authorization: Bearer <JWT>`) of the identity "
    "provider the read API uses, with role source_system (or desk, for the desk tool); 401 without either, 403 for "
    "another role or when a submission's source_system or referrer_id is outside the caller's scope."
)


SEALING_PROCESSES = 2


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Wire the ingest for this process and load its idempotency index; stop both with the app."""
    # Large batches are sealed on both cores (services/ingest/sealing.py); deciding stays in this process.
    ingest = bootstrap(app.state.settings, app.state.registry, sealing_processes=SEALING_PROCESSES)
    app.state.ingest = ingest
    # The desk's decisions ask the dispatch worker where a placement stands (routes/dispatch.py).
    app.state.dispatch = httpx.AsyncClient(base_url=app.state.settings.dispatch_base_url)
    ingest.start()
    try:
        yield
    finally:
        try:
            await app.state.dispatch.aclose()
        finally:
            ingest.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, "ingest")
    app = FastAPI(title="KANS ingest", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.tokens = TokenVerifier(settings)  # bearer tokens, as the read API
    app.state.registry = new_registry()  # /metrics: HTTP requests, submissions judged, records published
    instrument_http(app, app.state.registry)
    install_error_handlers(app)
    app.include_router(imports.router)
    app.include_router(events.router)
    app.include_router(dispatch.router)
    app.include_router(operations.router)
    return app
