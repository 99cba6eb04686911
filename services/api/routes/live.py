"""Live views, served from the projections workers' changelog-backed tables (L1 load, L3 waiting times), merged over
every worker (services/api/projections.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from core.access import PrincipalDep
from core.auth import Role
from core.http_errors import responses
from schemas.envelope import Identifier
from services.api.audit import access_reason, note
from services.api.deps import ProjectionsDep
from services.api.live_facts import LiveLookups
from services.api.live_scope import may_see_trajectory, visible_rows
from services.api.live_stream import LiveHub, event
from services.api.projections import ProjectionWorkers, Unavailable
from services.api.provider_names import ProviderNames, WarehouseLookups
from services.api.warehouse import Warehouse

UNAVAILABLE = "The projections worker does not answer, or is still restoring its tables; try again later."
router = APIRouter(prefix="/v1/live", tags=["live"], responses=responses(503, s503=UNAVAILABLE))
RETRY = {"Retry-After": "2"}


class ProviderLoadRow(BaseModel):
    provider_id: str
    module_id: str
    provider_name: str | None = Field(None, description="The provider's name (ProviderRegistered), if known.")
    module_name: str | None = Field(None, description="The module's name as the provider calls it, if known.")
    module_kind: str | None = Field(None, description="The module's kind (code list module_kind), if known.")
    module_kind_label_nl: str | None = Field(None, description="The kind's Dutch label, e.g. Dagbesteding.")
    active: int = Field(description="Trajectories started and not yet ended.")
    half_days_in_use: float = Field(0, description="Half-days per week the active trajectories take (dagdelen per "
                                    "week, the latest of start and progress reports), summed over those known.")
    half_days_unknown: int = Field(0, description="Active trajectories whose half-days per week nobody gave yet.")
    waiting: int = Field(description="Dispatched, not started yet.")
    waiting_list: int = Field(0, description="On the dispatch service's waiting list here (every eligible provider "
                              "was full); not dispatched yet.")  # fmt: skip
    capacity: int | None = Field(description="Capacity in force on `as_of`; null if never set.")
    free: int | None
    load_pct: float | None
    offered: bool = Field(True, description="False once the module is withdrawn (shown while trajectories remain).")


class ProviderLoad(BaseModel):
    as_of: date
    rows: list[ProviderLoadRow]

    model_config = {"json_schema_extra": {"examples": [{"as_of": "2025-10-06", "rows": [
        {"provider_id": "abrusco", "module_id": "individual", "active": 9, "waiting": 3, "capacity": 12,
         "free": 3, "load_pct": 75.0}]}]}}  # fmt: skip


class WaitingTimeRow(BaseModel):
    provider_id: str
    module_id: str
    school_year: str
    started: int = Field(description="Trajectories started this school year (dispatch -> start measured).")
    median_days: float | None
    p90_days: float | None
    max_days: float | None


class WaitingTimes(BaseModel):
    school_year: str
    rows: list[WaitingTimeRow]


async def _ask(projections: ProjectionWorkers, path: str, params: dict[str, Any]) -> Any:
    """A view merged over every projections worker; 503 naming what is missing when it is not complete."""
    try:
        return await projections.view(path, params)
    except Unavailable as err:
        raise HTTPException(503, f"the projections are not complete: {err}", headers=RETRY) from err


@router.get("/provider-load", response_model=ProviderLoad)
async def provider_load(
    request: Request,
    projections: ProjectionsDep,
    principal: PrincipalDep,
    as_of: Annotated[date | None, Query(description="Day whose capacity applies; default today.")] = None,
    provider_id: str | None = None,
) -> Any:
    """L1: active and waiting trajectories per provider and module, against the capacity in force. A provider sees its
    own rows only."""
    data = await _ask(projections, "/provider-load", {"date": as_of.isoformat() if as_of else None})
    if provider_id is not None:
        data["rows"] = [row for row in data["rows"] if row["provider_id"] == provider_id]
    shown = visible_rows(data, principal.data_scope)
    return {**shown, "rows": await lookups_of(request).named(shown["rows"])}


STREAM_DESCRIPTION = (
    "Server-Sent Events: `provider-load` (the L1 view, as GET /v1/live/provider-load answers it for the caller) at "
    "once and after every change, and for the desk `dispatch` (open proposals and waiting lists). Pings every 15 s."
)


@router.get("/stream", response_class=EventSourceResponse,
            responses={200: {"description": STREAM_DESCRIPTION, "content": {"text/event-stream": {}}}})  # fmt: skip
async def live_stream(request: Request, principal: PrincipalDep) -> EventSourceResponse:
    """The live views pushed as they change (the dashboard listens here instead of polling). A provider gets its
    own rows; only the desk gets the dispatch service's proposals and waiting lists."""
    hub = hub_of(request)
    names = lookups_of(request)
    scope, desk = principal.data_scope, principal.role is Role.desk

    async def events() -> AsyncIterator[dict[str, str]]:
        last_load: dict[str, Any] | None = None
        last_dispatch: dict[str, Any] | None = None
        async for snapshot in hub.changes():
            if snapshot.load is not None:
                shown = visible_rows(snapshot.load, scope)
                shown = {**shown, "rows": await names.named(shown["rows"])}
                if shown != last_load:
                    last_load = shown
                    yield event("provider-load", shown)
            if desk and snapshot.dispatch is not None and snapshot.dispatch != last_dispatch:
                last_dispatch = snapshot.dispatch
                yield event("dispatch", snapshot.dispatch)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def hub_of(request: Request) -> LiveHub:
    """The process's live hub (one poller for every stream)."""
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None:
        api = request.app.state.api
        hub = request.app.state.live_hub = LiveHub(api.projections, api.dispatch)
    return hub


def lookups_of(request: Request) -> LiveLookups:
    """The names and referrers the live views add: the live process's index of the log (`app.state.live_lookups`),
    else, in the API process, the warehouse's (one cache of names per app)."""
    lookups: LiveLookups | None = getattr(request.app.state, "live_lookups", None)
    if lookups is not None:
        return lookups
    warehouse: Warehouse = request.app.state.api.warehouse
    names: ProviderNames | None = getattr(request.app.state, "provider_names", None)
    if names is None or names.warehouse is not warehouse:
        state = request.app.state

        def resend() -> None:  # new names: the streams send their views again, named
            hub: LiveHub | None = getattr(state, "live_hub", None)
            if hub is not None:
                hub.touch()

        names = request.app.state.provider_names = ProviderNames(warehouse, on_change=resend)
    return WarehouseLookups(names)


class TrajectoryStatus(BaseModel):
    trajectory_id: str
    referral_id: str
    status: str = Field(
        description="awaiting_dispatch (a start or end arrived before its dispatch), on_waiting_list (the dispatch "
        "service found every eligible provider full), waiting, active, "
        "not_started, stopped_early or closed."
    )
    provider_id: str | None
    module_id: str | None
    offer_type: str | None
    dispatched_at: str | None
    started_at: str | None
    ended_at: str | None
    ending: str | None
    events_applied: int


@router.get("/trajectories/{trajectory_id}", response_model=TrajectoryStatus, dependencies=[Depends(access_reason)],
            responses=responses(404, s404="No such trajectory in the projections (not known, or not yet)."))
async def trajectory_status(
    request: Request, projections: ProjectionsDep, principal: PrincipalDep,
    trajectory_id: Annotated[Identifier, Path(examples=["T-2025-0042-1"])]
) -> Any:
    """L4: the live status of one trajectory, as the projections know it now. The id is an identifier of the contract
    (422 otherwise: no control characters, no `..`, at most 80 characters). A trajectory outside the caller's scope
    (a provider: not dispatched to it; a CLB: not of its own referrals) answers 404 like an unknown one. Every request
    here, served or refused, is recorded in the audit trail before the answer leaves (503 when it cannot be); give the
    reason in `X-Access-Reason` or `reason`."""
    try:  # one path segment of the worker's URL, whatever it holds
        status = await projections.trajectory(f"/trajectories/{quote(trajectory_id, safe='')}")
    except Unavailable as err:
        raise HTTPException(503, f"the projections are not complete: {err}", headers=RETRY) from err
    if status is None:
        raise HTTPException(404, f"unknown trajectory {trajectory_id}")
    if not await may_see_trajectory(status, principal.data_scope, lookups_of(request)):
        raise HTTPException(404, f"unknown trajectory {trajectory_id}")
    note(request, referral_id=status.get("referral_id"))
    return status


@router.get("/waiting-times", response_model=WaitingTimes)
async def waiting_times(
    projections: ProjectionsDep,
    principal: PrincipalDep,
    school_year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$", examples=["2025-2026"])] = None,
) -> Any:
    """L3 (first figure): days from dispatch to start per provider and module, median and p90. A provider sees its own
    rows only."""
    return visible_rows(await _ask(projections, "/waiting-times", {"school_year": school_year}), principal.data_scope)
