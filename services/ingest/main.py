"""Ingest HTTP entrypoint: translates requests into IngestService calls. Wiring lives in `create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from core.http_errors import install_error_handlers
from core.logs import configure_logging
from core.settings import Settings, get_settings
from schemas.envelope import SubmissionBase
from schemas.registry import EVENT_TYPES, Submission, example_submission
from services.ingest.credentials import ApiKey, Unauthenticated, authenticate, load_key_ring, scope_violations
from services.ingest.imports_api import router as imports_router
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.rules import Outcome
from services.ingest.service import IngestService, NotReady, SourceConflict
from services.ingest.source_index import SourceIndex

log = logging.getLogger(__name__)
MAX_BATCH = 10_000


class Accepted(BaseModel):
    """The broker acknowledged the event (or it was already in the log: status `duplicate`)."""

    index: int = Field(description="Position in the submitted batch (0 for a single event).")
    event_id: str
    status: str = Field(description="`created`, or `duplicate` when this source record was already accepted.")


class BatchAccepted(BaseModel):
    accepted: int
    created: int
    duplicates: int
    results: list[Accepted]


def _accepted(outcome: Outcome) -> Accepted:
    return Accepted(index=outcome.index, event_id=str(outcome.event_id), status=outcome.status)


_EXAMPLES = {name: {"summary": name, "value": example_submission(name)} for name in EVENT_TYPES}
_API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False,
    description="The source system's API key; it decides which source_system (and referrers) it may submit for.",
)  # fmt: skip


def _caller(request: Request, api_key: Annotated[str | None, Security(_API_KEY_HEADER)]) -> ApiKey:
    # A dependency runs before the body is validated: an unauthenticated request gets 401, never a 422.
    try:
        return authenticate(request.app.state.api_keys, api_key)
    except Unauthenticated as err:
        detail = f"{err}: send your source system's API key in the X-API-Key header"
        raise HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "APIKey"}) from err


CallerDep = Annotated[ApiKey, Depends(_caller)]


def _scope_refusal(key: ApiKey, submissions: list[SubmissionBase], single: bool) -> JSONResponse | None:
    """403 naming every field outside the key's scope, or None when the key may speak for all submissions."""
    violations = scope_violations(key, submissions)
    if not violations:
        return None
    return JSONResponse(
        status_code=403,
        content={
            "detail": f"API key {key.name!r} may not submit these events: nothing was accepted",
            "errors": [
                {"field": f"body{'' if single else f'[{v.index}]'}.{v.field}", "value": v.value,
                 "allowed": v.allowed, "message": v.message}
                for v in violations
            ],
        },
    )  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, "ingest")
    api_keys = load_key_ring(settings.api_keys_file, production=settings.environment == "production")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        index = SourceIndex(settings)
        index.start()
        publisher = EventPublisher(settings)
        app.state.ingest = IngestService(publisher, index, settings.pupil_key_secret.get_secret_value().encode())
        yield
        index.stop()
        publisher.close()

    app = FastAPI(
        title="KANS ingest",
        version="1",
        description=(
            "The way in for every source system (LARS, external-CLB form, group tool, desk, providers). "
            "Each event is validated against the contract, deduplicated on (source_system, source_ref) and "
            "published to Kafka; `202` means the broker acknowledged it. Every request carries the source "
            "system's API key in the header `X-API-Key` (401 without a known key; 403 when a submission's "
            "source_system or referrer_id is outside the key's scope)."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(imports_router, dependencies=[Depends(_caller)])
    app.state.api_keys = api_keys

    def service(request: Request) -> IngestService:
        return request.app.state.ingest  # type: ignore[no-any-return]

    async def run(request: Request, key: ApiKey, submissions: list[Any], single: bool) -> list[Outcome] | JSONResponse:
        if (refusal := _scope_refusal(key, submissions, single)) is not None:
            return refusal
        try:
            return await service(request).submit(submissions)
        except SourceConflict as err:
            return JSONResponse(
                status_code=409,
                content={
                    "detail": f"{err}: a correction is a new record with its own source_ref; nothing was accepted",
                    "conflicts": [vars(c) for c in err.conflicts],
                },
            )
        except (BrokerUnavailable, NotReady) as err:
            log.warning("refused with 503: %s", err)
            return JSONResponse(status_code=503, content={"detail": str(err)}, headers={"Retry-After": "5"})

    @app.post("/v1/events", status_code=202, response_model=Accepted, tags=["events"])
    async def submit_event(
        request: Request,
        key: CallerDep,
        submission: Annotated[Submission, Body(openapi_examples=_EXAMPLES)],  # type: ignore[valid-type]
    ) -> Any:
        """Submit one event. Resubmitting the same source record returns the first event's id."""
        result = await run(request, key, [submission], single=True)
        return result if isinstance(result, JSONResponse) else _accepted(result[0])

    @app.post("/v1/events/batch", status_code=202, response_model=BatchAccepted, tags=["events"])
    async def submit_batch(
        request: Request,
        key: CallerDep,
        submissions: Annotated[
            list[Submission],  # type: ignore[valid-type]
            Body(
                max_length=MAX_BATCH,
                openapi_examples={
                    "lifecycle": {
                        "summary": "a referral and its dispatch",
                        "value": [example_submission("ReferralSubmitted"), example_submission("TrajectoryDispatched")],
                    }
                },
            ),
        ],
    ) -> Any:
        """Submit up to 10,000 events at once: all are validated first; one invalid event refuses the batch."""
        result = await run(request, key, list(submissions), single=False)
        if isinstance(result, JSONResponse):
            return result
        created = sum(1 for o in result if o.status == "created")
        return BatchAccepted(
            accepted=len(result), created=created, duplicates=len(result) - created,
            results=[_accepted(o) for o in result],
        )  # fmt: skip

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"])
    async def ready(request: Request) -> JSONResponse:
        """Readiness: the idempotency index is loaded from Kafka, so submissions can be accepted."""
        loaded = service(request).index.ready.is_set()
        return JSONResponse(
            status_code=200 if loaded else 503,
            content={"ready": loaded, "source_records_known": len(service(request).index.entries)},
        )

    return app
