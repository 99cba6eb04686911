"""Health and readiness: is the broker reachable, is ClickHouse answering, is the writer running (when this process
hosts it), and where the projections worker stands."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from core.broker import READY_TIMEOUT_S, broker_problem
from services.api.deps import ProjectionsDep, SettingsDep, WarehouseDep, WriterDep
from services.api.projections import ProjectionWorkers
from services.warehouse.writer import ClickHouseWriter

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def _projections_state(projections: ProjectionWorkers) -> dict[str, Any]:
    """The workers' own readiness pages (ready, lag per topic, dead letters, partitions held), or why one could not be
    read; ready when every worker is and between them they hold every partition."""
    return await projections.readiness(READY_TIMEOUT_S)


def _writer_problem(writer: ClickHouseWriter) -> str | None:
    status = writer.status
    if status.crashed is not None:
        return f"writer: crashed ({status.crashed}); nothing after its last commit is stored"
    if not status.running:
        return "writer: not running; nothing acknowledged since it stopped is stored"
    return None


@router.get("/ready", responses={503: {"description": "Not ready: `problems` says what is missing.",
                                       "content": {"application/json": {}}}})
async def ready(
    settings: SettingsDep, warehouse: WarehouseDep, projections: ProjectionsDep, writer: WriterDep
) -> JSONResponse:
    """Readiness: Kafka answers, ClickHouse answers and, when this process hosts the ClickHouse writer
    (`writer_in_api`), the writer is running. 503 lists what is missing in `problems`.

    Also reported, not required: the writer's lag (`writer.lag_events`, `writer.lag_seconds`: how far ClickHouse is
    behind the event log) and the projections worker's state (its readiness, lag per topic and dead letters)."""
    kafka, clickhouse_ok, projections_state = await asyncio.gather(
        broker_problem(settings), warehouse.ping(), _projections_state(projections)
    )
    problems = [f"kafka: {kafka}"] if kafka else []
    if not clickhouse_ok:
        problems.append("clickhouse: does not answer")
    if writer is not None and (writer_problem := _writer_problem(writer)):
        problems.append(writer_problem)
    body: dict[str, Any] = {
        "ready": not problems,
        "problems": problems,
        "kafka": kafka is None,
        "clickhouse": clickhouse_ok,
        "writer": None if writer is None else {**vars(writer.status)},
        "projections": projections_state,
    }
    return JSONResponse(status_code=503 if problems else 200, content=body)
