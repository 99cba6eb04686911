"""Liveness and readiness of the ingest process."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.ingest.deps import IngestDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers (whatever Kafka does: a broker outage is no reason to restart the ingest)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready: `problems` says what is missing.",
                                       "content": {"application/json": {}}}})
async def ready(ingest: IngestDep) -> JSONResponse:
    """Readiness: a submission can be accepted now. The broker answers a metadata request (asked on every call,
    for at most a few seconds), the idempotency index and the ownership index are loaded from Kafka. 503 lists what
    is missing in `problems`."""
    kafka = await ingest.broker_problem()
    loaded = ingest.index.ready.is_set()
    problems = [f"kafka: {kafka}"] if kafka else []
    if not loaded:
        problems.append("source index: not loaded from Kafka yet")
    owners_loaded = ingest.owners.ready.is_set()
    if not owners_loaded:
        problems.append("ownership index: not loaded from the event log yet")
    return JSONResponse(
        status_code=503 if problems else 200,
        content={
            "ready": not problems,
            "kafka": kafka is None,
            "source_index_loaded": loaded,
            "source_records_known": len(ingest.index.entries),
            "ownership_index_loaded": owners_loaded,
            "owners_known": len(ingest.owners),
            "problems": problems,
        },
    )
