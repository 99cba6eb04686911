"""API entrypoint and wiring: live views, statistics, history, health. Routers are assembled here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from core.http_errors import install_error_handlers
from core.logs import configure_logging
from core.settings import Settings, get_settings
from services.api import adhoc, live, operations, statistics, stats
from services.api.report.router import router as report_router
from services.api.warehouse import Warehouse
from services.warehouse.clickhouse import get_client, migrate
from services.warehouse.writer import ClickHouseWriter

log = logging.getLogger(__name__)
DASHBOARD = Path(__file__).with_name("dashboard.html")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = get_client(settings)
        migrate(client, settings.clickhouse_database)
        warehouse = Warehouse(client, settings.clickhouse_database)
        writer = None
        if settings.writer_in_api:
            writer = ClickHouseWriter(settings, client, warehouse.lock)
            writer.start()
        app.state.settings = settings
        app.state.warehouse = warehouse
        app.state.writer = writer
        app.state.projections = httpx.AsyncClient(base_url=settings.projections_base_url, timeout=5.0)
        yield
        await app.state.projections.aclose()
        if writer is not None:
            writer.stop()
        client.close()

    app = FastAPI(
        title="KANS API",
        version="1",
        description=(
            "Live views of the referral desk (provider load, waiting times), statistics of the annual report "
            "and event history, from the KANS event log. Submitting events goes through the ingest service."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(live.router)
    app.include_router(stats.router)
    app.include_router(statistics.router)
    app.include_router(adhoc.router)
    app.include_router(report_router)
    app.include_router(operations.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> str:
        return DASHBOARD.read_text(encoding="utf-8")

    return app
