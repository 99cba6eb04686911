"""Submitting events over HTTP: one event or a batch, checked against the caller's key, all or nothing."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from core.http_errors import FieldError, responses, validation_refusal
from schemas.envelope import SubmissionBase
from schemas.registry import EVENT_TYPES, Submission, example_submission
from services.ingest.bootstrap import Ingest
from services.ingest.credentials import ApiKey, scope_violations
from services.ingest.deps import CallerDep, IngestDep, refuse_duplicate_keys
from services.ingest.publisher import BrokerUnavailable
from services.ingest.request_body import batch_from, batch_schema
from services.ingest.rules import Outcome
from services.ingest.service import Forbidden, InvalidSubmissions, NotReady, SourceConflict

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/events", tags=["events"])
NOT_ACKNOWLEDGED = (
    "Not acknowledged: Kafka did not confirm the events in time (or the ingest is starting). They may or may not "
    "be in the event log: a refused attempt can still land when the broker comes back. Retrying the same "
    "submissions is safe: they have the same event ids, a record already in the log answers `duplicate`, and "
    "as-of statistics count an event from its last (acknowledged) copy on."
)
_RESPONSES = responses(401, 403, 409, 422, 503, s503=NOT_ACKNOWLEDGED)
_EXAMPLES = {name: {"summary": name, "value": example_submission(name)} for name in EVENT_TYPES}
_BATCH_EXAMPLES = {
    "lifecycle": {
        "summary": "a referral and its dispatch",
        "value": [example_submission("ReferralSubmitted"), example_submission("TrajectoryDispatched")],
    }
}


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
                 "allowed": v.allowed, "message": v.message, "type": "not_in_scope"}
                for v in violations
            ],
        },
    )  # fmt: skip


def _forbidden(key: ApiKey, err: Forbidden, single: bool) -> JSONResponse:
    """403 naming, for every submission the caller may not make, the event, the field, why (`type`: desk_only,
    not_in_scope, referrer_not_in_scope, provider_not_in_scope, id_taken) and what the caller may act on."""
    return JSONResponse(
        status_code=403,
        content={
            "detail": f"API key {key.name!r} may not submit these events: nothing was accepted",
            "errors": [
                {"field": f"body{'' if single else f'[{r.index}]'}.{r.field}", "value": r.value,
                 "allowed": list(r.allowed), "message": r.message, "type": r.reason, "event_type": r.event_type}
                for r in err.refusals
            ],
        },
    )  # fmt: skip


def _invalid(err: InvalidSubmissions, single: bool) -> JSONResponse:
    """422 in the validation format, each error naming the field (`body[3].occurred_at`) and the window."""
    return validation_refusal([FieldError(field=f"body{'' if single else f'[{r.index}]'}.{p.field}", message=p.message,
                                          type=p.type) for r in err.refusals for p in r.problems])  # fmt: skip


async def _submit(ingest: Ingest, key: ApiKey, submissions: list[Any], single: bool) -> list[Outcome] | JSONResponse:
    """The outcomes of an accepted batch, or the refusal to answer with (403, 409, 422, 503). After 403, 409 and
    422 nothing was published; after 503 nothing was acknowledged (see NOT_ACKNOWLEDGED). The service counts what
    it judged; the refusals decided here (scope, broker) are counted here."""
    if (refusal := _scope_refusal(key, submissions, single)) is not None:
        if ingest.metrics is not None:
            ingest.metrics.refused(submissions, "forbidden")
        return refusal
    try:
        return await ingest.service.submit(submissions, key)
    except InvalidSubmissions as err:
        return _invalid(err, single)
    except Forbidden as err:
        return _forbidden(key, err, single)
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
        if ingest.metrics is not None:
            ingest.metrics.refused(submissions, "unavailable")
        detail = (f"not acknowledged: {err}. The events may or may not be in the log; retrying the same request is "
                  "safe (same event ids)")  # fmt: skip
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": "5"})


@router.post("", status_code=202, response_model=Accepted, responses=_RESPONSES,
             dependencies=[Depends(refuse_duplicate_keys)])
async def submit_event(
    ingest: IngestDep,
    key: CallerDep,
    submission: Annotated[Submission, Body(openapi_examples=_EXAMPLES)],  # type: ignore[valid-type]
) -> Any:
    """Submit one event. Resubmitting the same source record returns the first event's id.

    Refused with 422 when a field breaks the contract, a JSON key is given twice, or a date lies outside the
    plausible window (`occurred_at` from KANS_EARLIEST_EVENT_DATE to KANS_MAX_EVENT_LEAD_S after acceptance)."""
    result = await _submit(ingest, key, [submission], single=True)
    return result if isinstance(result, JSONResponse) else _accepted(result[0])


@router.post("/batch", status_code=202, response_model=BatchAccepted, responses=_RESPONSES,
             openapi_extra=batch_schema(_BATCH_EXAMPLES))  # fmt: skip
async def submit_batch(request: Request, ingest: IngestDep, key: CallerDep) -> Any:
    """Submit up to 10,000 events at once: all are validated first (contract, duplicated JSON keys, plausible
    dates); one invalid event refuses the batch."""
    # Read from the request's bytes here, after the caller's key was checked (401 before 422), in one pass of
    # pydantic-core; the body is documented as FastAPI documents a declared `list[Submission]` (batch_schema).
    submissions = batch_from(await request.body(), request.headers.get("content-type"))
    result = await _submit(ingest, key, submissions, single=False)
    if isinstance(result, JSONResponse):
        return result
    created = sum(1 for o in result if o.status == "created")
    accepted = BatchAccepted(
        accepted=len(result), created=created, duplicates=len(result) - created,
        results=[_accepted(o) for o in result],
    )  # fmt: skip
    # Serialized once here, not validated again against the response model and re-encoded by FastAPI.
    return Response(accepted.model_dump_json(), status_code=202, media_type="application/json")
