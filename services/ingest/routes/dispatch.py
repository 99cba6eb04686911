"""The desk decides on the dispatch service's proposals (issue 15): confirm one, or override it with another provider
and module and a reason. The decision is the `TrajectoryDispatched` event (`GroupTrajectoryDispatched` for a group;
version 2, naming the proposal and whether it was overridden), submitted as the desk through the same use case as
every other event (contract, ownership, idempotency index), so the log keeps one writer.

Only the desk decides (an API key or token of another role: 403). The dispatch worker says where the placement stands
(`GET /placements/{trajectory_id}` on its web port): a decision answers the placement's *current* open proposal. A
proposal that is no longer current (the catalogue or the load changed and the rules proposed again, the pupil now
waits, or the trajectory was placed) is refused with 409, and the answer carries the fresh proposal, if there is one,
to decide on instead. One decision per proposal: its source record is `dispatch-decision:<proposal id>`, so a second,
different decision on the same proposal is a conflict (409) even before the worker has read the first.

Between the worker's answer and the broker's acknowledgement the worker may learn of a change (a capacity cut
registered in that second): the decision still stands, as the desk's; the worker then finds the place over its
capacity and decides the other open proposals there again (`Engine.recheck`).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.http_errors import FieldError, responses, validation_refusal
from schemas.envelope import BRUSSELS, Identifier
from schemas.privacy import FreeText
from schemas.registry import SUBMISSION_ADAPTER
from services.ingest.credentials import ApiKey
from services.ingest.deps import CallerDep, IngestDep, refuse_duplicate_keys
from services.ingest.publisher import BrokerUnavailable
from services.ingest.service import Forbidden, InvalidSubmissions, NotReady, SourceConflict

log = logging.getLogger(__name__)
WORKER_TIMEOUT_S = 5.0
UNAVAILABLE = "The dispatch worker does not answer, or is restoring its tables; nothing was decided. Try again later."
router = APIRouter(prefix="/v1/dispatch", tags=["dispatch"])
_RESPONSES = responses(401, 403, 404, 409, 422, 503, s503=UNAVAILABLE)
RETRY = {"Retry-After": "2"}


def get_dispatch(request: Request) -> httpx.AsyncClient:
    return request.app.state.dispatch  # type: ignore[no-any-return]


DispatchDep = Annotated[httpx.AsyncClient, Depends(get_dispatch)]


def desk_only(caller: CallerDep) -> ApiKey:
    """403 for any caller but the desk, before the body is read (a dependency: FastAPI validates the body after)."""
    if not caller.desk:
        raise HTTPException(403, f"only the desk decides on dispatch proposals; {caller.name!r} is not the desk")
    return caller


DeskDep = Annotated[ApiKey, Depends(desk_only)]


class DecisionRequest(BaseModel):
    """Confirm the proposal, or override it: another provider and module, and why (no names)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"proposal_id": "P-hkgnmlbiopaekdfjcmgogbia", "decision": "confirm"},
        {"proposal_id": "P-hkgnmlbiopaekdfjcmgogbia", "decision": "override", "provider_id": "groep-intro",
         "module_id": "individual", "reason": "the pupil already knows the coach there"}]})  # fmt: skip

    proposal_id: Identifier = Field(description="The proposal decided on: the placement's current one.")
    decision: Literal["confirm", "override"]
    provider_id: Identifier | None = Field(None, description="override: the provider chosen instead.")
    module_id: Identifier | None = Field(None, description="override: its module.")
    reason: FreeText | None = Field(None, description="override: why the desk chose otherwise (required).")

    @model_validator(mode="after")
    def _override_names_its_choice(self) -> DecisionRequest:
        given = [f for f in ("provider_id", "module_id", "reason") if getattr(self, f) is not None]
        if self.decision == "confirm" and given:
            raise ValueError(f"a confirmation takes the proposal as it is: leave out {', '.join(given)}")
        if self.decision == "override" and len(given) < 3:
            missing = [f for f in ("provider_id", "module_id", "reason") if f not in given]
            raise ValueError(f"an override needs provider_id, module_id and reason; missing: {', '.join(missing)}")
        return self


class DecisionAccepted(BaseModel):
    trajectory_id: str
    proposal_id: str
    event_id: str = Field(description="The TrajectoryDispatched event (the decision) in the log.")
    status: str = Field(description="`created`, or `duplicate` when the same decision was already accepted.")
    provider_id: str
    module_id: str
    overridden: bool


def _actor(caller: ApiKey) -> str:
    return "desk:" + (re.sub(r"[^A-Za-z0-9._@-]", "-", caller.name)[:80] or "desk")


async def _worker(dispatch: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    try:
        response = await dispatch.get(path, params=params, timeout=WORKER_TIMEOUT_S)
    except httpx.HTTPError as err:
        raise HTTPException(503, f"{UNAVAILABLE} ({err.__class__.__name__})", headers=RETRY) from err
    if response.status_code not in (200, 404):
        raise HTTPException(503, f"{UNAVAILABLE} (it answered {response.status_code})", headers=RETRY)
    return response


def _stale(trajectory_id: str, asked: str, placement: dict[str, Any]) -> JSONResponse:
    status, proposal = placement["status"], placement.get("proposal")
    current = proposal if status == "proposed" and proposal else None
    why = {
        "proposed": f"it was replaced by proposal {current and current['proposal_id']}: decide on that one",
        "waiting": "every eligible provider is full now: the trajectory waits (see the waiting lists)",
        "blocked": "no provider can take the trajectory now: decide by hand (a dispatch without a proposal)",
        "placed": "the trajectory was already dispatched",
        "closed": "the referral was withdrawn or closed",
        "awaiting_referral": "its referral has not reached the dispatch service yet",
    }.get(status, f"the placement is {status}")
    return JSONResponse(status_code=409, content={
        "detail": f"proposal {asked} is not the open proposal of trajectory {trajectory_id}: {why}; nothing was "
                  "decided",
        "status": status, "current_proposal": current})  # fmt: skip


async def _override_refusal(dispatch: httpx.AsyncClient, body: DecisionRequest, proposal: dict[str, Any],
                            day: str) -> JSONResponse | None:  # fmt: skip
    """422 when the override names the proposal itself, or a module the catalogue does not offer on the day."""
    if (body.provider_id, body.module_id) == (proposal["provider_id"], proposal["module_id"]):
        return validation_refusal([FieldError(field="body.provider_id", type="value_error", message=(
            f"{body.provider_id}/{body.module_id} is what the proposal says: send decision confirm"))])  # fmt: skip
    modules = (await _worker(dispatch, "/catalogue", {"date": day})).json()["modules"]
    offered = sorted(f"{m['provider_id']}/{m['module_id']}" for m in modules if m["offered"])
    if f"{body.provider_id}/{body.module_id}" in offered:
        return None
    field = "body.provider_id" if all(m["provider_id"] != body.provider_id for m in modules) else "body.module_id"
    allowed = ", ".join(offered) or "none"
    message = f"{body.provider_id}/{body.module_id} is not offered on {day}; allowed: {allowed}"
    return validation_refusal([FieldError(field=field, type="not_offered", message=message)])


def _refused(err: Exception, proposal_id: str) -> JSONResponse:
    if isinstance(err, SourceConflict):
        return JSONResponse(status_code=409, content={
            "detail": f"proposal {proposal_id} was already decided otherwise (one decision per proposal); the "
                      "dispatch worker may not have read that decision yet: nothing was accepted",
            "conflicts": [vars(c) for c in err.conflicts]})  # fmt: skip
    if isinstance(err, InvalidSubmissions):
        return validation_refusal([FieldError(field=f"decision.{p.field}", message=p.message, type=p.type)
                                   for r in err.refusals for p in r.problems])  # fmt: skip
    if isinstance(err, Forbidden):
        return JSONResponse(status_code=403, content={"detail": "; ".join(r.message for r in err.refusals)})
    log.warning("decision refused with 503: %s", err)
    return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={
        "detail": f"not acknowledged: {err}. The decision may or may not be in the log; sending it again is "
                  "safe (a decision already accepted answers 409 naming it)"})  # fmt: skip


@router.post("/trajectories/{trajectory_id}/decision", status_code=202, response_model=DecisionAccepted,
             responses=_RESPONSES, dependencies=[Depends(refuse_duplicate_keys)])  # fmt: skip
async def decide(
    trajectory_id: Annotated[Identifier, Path(examples=["T-hkgnmlbiopaekdfjcmgo"])],
    body: DecisionRequest,
    caller: DeskDep,
    ingest: IngestDep,
    dispatch: DispatchDep,
) -> Any:
    """The desk confirms the open proposal of a trajectory, or overrides it (another offered provider/module and a
    reason). 202: the decision (`TrajectoryDispatched`) is in the log. 409: the proposal is no longer the open one
    (the answer carries the fresh proposal, if any) or was already decided otherwise."""
    response = await _worker(dispatch, f"/placements/{quote(trajectory_id, safe='')}")
    if response.status_code == 404:
        raise HTTPException(404, f"unknown trajectory {trajectory_id}: the dispatch service placed no such trajectory")
    placement = response.json()
    proposal = placement.get("proposal") or {}
    if placement["status"] != "proposed" or proposal.get("proposal_id") != body.proposal_id:
        return _stale(trajectory_id, body.proposal_id, placement)
    now = datetime.now(BRUSSELS)
    overridden = body.decision == "override"
    if overridden and (refusal := await _override_refusal(dispatch, body, proposal, now.date().isoformat())):
        return refusal
    provider_id = body.provider_id if overridden else proposal["provider_id"]
    module_id = body.module_id if overridden else proposal["module_id"]
    answer = {"proposal_id": body.proposal_id, "overridden": overridden, "override_reason": body.reason}
    if placement.get("group_id") is not None:  # a group: the group trajectory is the placement, its module the kind
        event_type = "GroupTrajectoryDispatched"
        payload = {"group_referral_id": placement["referral_id"], "group_id": placement["group_id"],
                   "group_trajectory_id": trajectory_id, "provider_id": provider_id,
                   "module": placement["group_module"], **answer}  # fmt: skip
    else:
        event_type = "TrajectoryDispatched"
        payload = {"referral_id": placement["referral_id"], "trajectory_id": trajectory_id,
                   "provider_id": provider_id, "module_id": module_id, "offer_type": placement["offer_type"],
                   **answer}  # fmt: skip
    submission = SUBMISSION_ADAPTER.validate_python({
        "event_type": event_type, "schema_version": 2, "occurred_at": now.isoformat(),
        "source_system": "desk", "source_ref": f"dispatch-decision:{body.proposal_id}", "actor": _actor(caller),
        "payload": payload})  # fmt: skip
    try:
        (outcome,) = await ingest.service.submit([submission], caller)
    except (SourceConflict, InvalidSubmissions, Forbidden, BrokerUnavailable, NotReady) as err:
        return _refused(err, body.proposal_id)
    return DecisionAccepted(trajectory_id=trajectory_id, proposal_id=body.proposal_id, event_id=str(outcome.event_id),
                            status=outcome.status, provider_id=str(provider_id), module_id=str(module_id),
                            overridden=overridden)  # fmt: skip
