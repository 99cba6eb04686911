"""The dispatch service's state for the desk (issue 15): open proposals with their rule trace explained, the waiting
lists (who, since when, in which position), one placement, and the catalogue as the rules read it on a day. Served from
the dispatch worker's changelog-backed tables; the desk decides through the ingest
(`POST /v1/dispatch/trajectories/{trajectory_id}/decision`). Desk only: a waiting list names referrals."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from core.http_errors import responses
from schemas.envelope import Identifier
from services.api.deps import DispatchDep

UNAVAILABLE = "The dispatch worker does not answer, or is still restoring its tables; try again later."
router = APIRouter(prefix="/v1/dispatch", tags=["dispatch"], responses=responses(503, s503=UNAVAILABLE))
RETRY = {"Retry-After": "2"}


class TraceEntry(BaseModel):
    rule: str
    provider_id: str | None
    module_id: str | None
    verdict: str
    facts: dict[str, Any]
    explanation: str = Field(description='The verdict as the desk reads it, e.g. "minimum age 10: pupil is 9".')


class Proposal(BaseModel):
    trajectory_id: str = Field(description="The trajectory (for a group: the group trajectory) to place.")
    referral_id: str = Field(description="The referral (for a group: the group referral).")
    group_id: str | None = Field(None, description="For a group: which group of the group referral.")
    group_module: str | None = Field(None, description="For a group: the module it asks for.")
    proposal_id: str
    provider_id: str
    module_id: str
    offer_type: str
    waiting_since: date = Field(description="The day the pupil was referred: the waiting clock never restarts.")
    decided_on: date
    trigger: str
    trace: list[TraceEntry]


class Proposals(BaseModel):
    rule_set: str
    proposals: list[Proposal]


class WaitingEntry(BaseModel):
    position: int
    trajectory_id: str
    referral_id: str | None
    waiting_since: date
    days_waiting: int


class WaitingList(BaseModel):
    provider_id: str
    module_id: str
    waiting: list[WaitingEntry]


class WaitingLists(BaseModel):
    as_of: date
    lists: list[WaitingList]


class CatalogueModule(BaseModel):
    provider_id: str
    module_id: str
    kind: str | None
    offered: bool
    levels: list[str]
    capacity: int | None
    occupied: int = Field(description="Dispatched and not ended.")
    proposed: int = Field(description="Open proposals holding a place.")
    waiting: int
    accepting_referrals: bool
    reachable_via_desk: bool


class Catalogue(BaseModel):
    as_of: date
    modules: list[CatalogueModule]


async def _ask(dispatch: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> Any:
    try:
        response = await dispatch.get(path, params=params)
    except httpx.HTTPError as err:
        detail = f"the dispatch worker is unreachable ({err.__class__.__name__})"
        raise HTTPException(503, detail, headers=RETRY) from err
    if response.status_code == 404:
        raise HTTPException(404, response.json().get("detail", "not found"))
    if response.status_code != 200:
        raise HTTPException(503, f"the dispatch worker answered {response.status_code}", headers=RETRY)
    return response.json()


def _day(day: date | None) -> dict[str, str] | None:
    return None if day is None else {"date": day.isoformat()}


@router.get("/proposals", response_model=Proposals)
async def open_proposals(dispatch: DispatchDep) -> Any:
    """Proposals the desk has not decided on yet, longest-waiting pupil first, each with every rule's verdict."""
    return await _ask(dispatch, "/proposals")


@router.get("/waiting-lists", response_model=WaitingLists)
async def waiting_lists(
    dispatch: DispatchDep,
    as_of: Annotated[date | None, Query(description="Day the waiting is counted to; default today.")] = None,
) -> Any:
    """Per provider and module: who waits, since the day of the referral, in which position."""
    return await _ask(dispatch, "/waiting-lists", _day(as_of))


@router.get("/catalogue", response_model=Catalogue)
async def catalogue(
    dispatch: DispatchDep,
    as_of: Annotated[date | None, Query(description="Day whose catalogue applies; default today.")] = None,
) -> Any:
    """Every provider's modules as the rules read them on the day, with places held and waiting."""
    return await _ask(dispatch, "/catalogue", _day(as_of))


@router.get("/placements/{trajectory_id}", responses=responses(404, s404="No such placement."))
async def placement(
    dispatch: DispatchDep, trajectory_id: Annotated[Identifier, Path(examples=["T-hkgnmlbiopaekdfjcmgo"])]
) -> Any:
    """Where one placement stands: awaiting its referral, proposed (with its trace), waiting, blocked, placed or
    closed."""
    return await _ask(dispatch, f"/placements/{quote(trajectory_id, safe='')}")
