"""Health and readiness: is the broker reachable, is ClickHouse answering, is the projections worker up."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from core.broker import broker_reachable
from services.api.deps import ProjectionsDep, SettingsDep, WarehouseDep, WriterDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(
    settings: SettingsDep, warehouse: WarehouseDep, projections: ProjectionsDep, writer: WriterDep
) -> JSONResponse:
    """Readiness: Kafka and ClickHouse reachable (and the projections worker, reported but not required)."""
    kafka_ok = await run_in_threadpool(broker_reachable, settings.kafka_bootstrap, 3.0)
    clickhouse_ok = await warehouse.ping()
    try:
        projections_ok = (await projections.get("/ready")).status_code == 200
    except httpx.HTTPError:
        projections_ok = False
    body: dict[str, Any] = {
        "ready": kafka_ok and clickhouse_ok,
        "kafka": kafka_ok,
        "clickhouse": clickhouse_ok,
        "projections": projections_ok,
        "writer": None if writer is None else {**vars(writer.status)},
    }
    return JSONResponse(status_code=200 if body["ready"] else 503, content=body)
