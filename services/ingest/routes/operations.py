"""Liveness and readiness of the ingest process."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.ingest.deps import IngestDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(ingest: IngestDep) -> JSONResponse:
    """Readiness: the idempotency index is loaded from Kafka, so submissions can be accepted."""
    loaded = ingest.index.ready.is_set()
    return JSONResponse(
        status_code=200 if loaded else 503,
        content={"ready": loaded, "source_records_known": len(ingest.index.entries)},
    )
