"""Live operational views answered from the warehouse (L3 waiting-time clocks, L4 referral status, L5 data
completeness): the store every API process reaches, filled by the writer within a fraction of a second of an event,
so these views are complete whatever number of projections workers run. The rules are the warehouse's
(`waiting_clocks`, `referral_status`, `completeness`), on the current-state facts the statistics read."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from core.access import PrincipalDep
from core.auth import EVERYTHING
from core.http_errors import responses
from schemas.envelope import Identifier, school_year_of
from services.api.audit import access_reason, note
from services.api.deps import WarehouseDep
from services.warehouse import completeness, live_queries
from services.warehouse.referral_status import STATES, STATES_NL, state_of, steps, trajectory_status
from services.warehouse.waiting_clocks import SEGMENTS, ReferralFacts, Wait, summarise, trend, waits

router = APIRouter(prefix="/v1/live", tags=["live"], responses=responses(503))
NOT_FOUND = "No such referral in the warehouse (unknown, retracted, not yet stored, or not the caller's)."
UNAUDITED = "The audit record of this read could not be written (Kafka away): nothing is served unaudited."
YEAR = r"^\d{4}-\d{4}$"
YEAR_HELP = "The referrals' school year; default the current one."
SchoolYear = Annotated[str | None, Query(pattern=YEAR, examples=["2025-2026"], description=YEAR_HELP)]
AsOf = Annotated[date | None, Query(description="The day the clocks stand at (its end; facts dated later have not "
                                    "happened yet); default today.")]  # fmt: skip
Segment = Literal["referral_to_start", "referral_to_round_table", "round_table_to_dispatch", "dispatch_to_start"]
State = Literal["received", "triage", "round_table", "dispatched", "started", "stopped_early", "closed",
                "advice_only", "withdrawn", "not_started", "awaiting_redispatch"]  # fmt: skip
assert set(State.__args__) == set(STATES) and set(Segment.__args__) == set(SEGMENTS)  # type: ignore[attr-defined]


def _year(school_year: str | None, as_of: date | None = None) -> str:
    if school_year is not None and int(school_year[5:]) != int(school_year[:4]) + 1:
        raise RequestValidationError([{"loc": ("query", "school_year"), "type": "value_error",
                                       "msg": "a school year is two consecutive years, e.g. 2019-2020"}])  # fmt: skip
    return school_year or school_year_of(as_of or date.today())


# -- L3 -------------------------------------------------------------------------------------------------------------
class ClockRow(BaseModel):
    grouping: Literal["overall", "provider", "provider_module_offer"]
    provider_id: str | None = Field(description="'' for waits not dispatched yet; null in the overall rows.")
    module_id: str | None
    offer_type: str | None
    segment: Segment
    segment_label_nl: str
    completed: int = Field(description="Completed waits (the clock stopped by the segment's end).")
    median_days: float | None
    p90_days: float | None = Field(description="90th percentile by nearest rank.")
    within_weeks_pct: dict[str, float | None] = Field(description="Share of the completed waits within 2, 4, 8 weeks.")
    open: int = Field(description="Waits still running on as_of.")
    open_median_age_days: float | None
    open_over_weeks: int = Field(description="Open waits older than over_weeks weeks.")


class WaitingClocks(BaseModel):
    school_year: str
    as_of: date
    over_weeks: int
    rows: list[ClockRow]


class TrendRow(BaseModel):
    provider_id: str
    month: str = Field(description="YYYY-MM: the month the clock stopped.")
    completed: int
    median_days: float | None


class WaitingTrend(BaseModel):
    school_year: str
    segment: Segment
    rows: list[TrendRow]


async def _waits(warehouse: Any, principal: Any, year: str, as_of: date) -> list[Wait]:
    facts: list[ReferralFacts] = await warehouse.run(live_queries.referral_facts, year, None, EVERYTHING)
    scope = principal.data_scope
    return [w for f in facts for w in waits(f, as_of) if scope.allows_provider(w.provider_id)]


OVER_HELP = "Open waits older than this many weeks are counted (open_over_weeks)."
STUCK_HELP = "A trajectory event without its dispatch counts as stuck once recorded longer ago than this many days."


@router.get("/waiting-clocks", response_model=WaitingClocks)
async def waiting_clocks(
    warehouse: WarehouseDep, principal: PrincipalDep, school_year: SchoolYear = None, as_of: AsOf = None,
    over_weeks: Annotated[int, Query(ge=1, le=104, description=OVER_HELP)] = 12,
) -> Any:
    """L3: waiting-time clocks of the school year's referrals, as NHS referral-to-treatment statistics give them:
    completed waits (count, median, p90, share within 2/4/8 weeks) and open waits (count, median age, count over
    `over_weeks`), overall, per provider and per provider/module/offer, for each segment (referral -> round table ->
    dispatch -> start) and end to end. A re-dispatch after a refusal keeps the referral's day. A provider sees the waits
    attributed to it only. The clock rules: README, "Waiting-time clocks"."""
    day = as_of or date.today()
    year = _year(school_year, day)
    rows = summarise(await _waits(warehouse, principal, year, day), over_weeks)
    return {"school_year": year, "as_of": day, "over_weeks": over_weeks, "rows": rows}


@router.get("/waiting-clocks/trend", response_model=WaitingTrend)
async def waiting_trend(
    warehouse: WarehouseDep, principal: PrincipalDep, school_year: SchoolYear = None, as_of: AsOf = None,
    segment: Segment = "referral_to_start",
) -> Any:
    """L3 trend: per provider and month (the month the clock stopped), the completed waits and their median days. A
    provider sees its own rows only."""
    day = as_of or date.today()
    year = _year(school_year, day)
    return {"school_year": year, "segment": segment,
            "rows": trend(await _waits(warehouse, principal, year, day), segment)}  # fmt: skip


# -- L4 -------------------------------------------------------------------------------------------------------------
class Step(BaseModel):
    step: str
    label_nl: str
    on: date


class TrajectoryLine(BaseModel):
    trajectory_id: str
    provider_id: str
    module_id: str
    status: Literal["waiting", "running", "not_started", "stopped_early", "closed"]
    dispatched_on: date


class ReferralStatus(BaseModel):
    referral_id: str
    referrer_id: str
    school_year: str
    offer_type: str
    state: State
    state_label_nl: str
    since: date = Field(description="The day of the step the referral is in now.")
    steps: list[Step] = Field(description="Every step with its (first) day; no pupil data, only ids and dates.")
    trajectories: list[TrajectoryLine]


class ReferralStatuses(BaseModel):
    school_year: str
    total: int = Field(description="Referrals matching, before limit and offset.")
    rows: list[ReferralStatus]


def status_of(facts: ReferralFacts) -> dict[str, Any]:
    state = state_of(facts)
    shown = steps(facts)
    since = max((s["on"] for s in shown if s["step"] == state), default=facts.referred_on)
    return {"referral_id": facts.referral_id, "referrer_id": facts.referrer_id, "school_year": facts.school_year,
            "offer_type": facts.offer_type, "state": state, "state_label_nl": STATES_NL[state], "since": since,
            "steps": shown,
            "trajectories": [{"trajectory_id": t.trajectory_id, "provider_id": t.provider_id, "module_id": t.module_id,
                              "status": trajectory_status(t), "dispatched_on": t.dispatched_on}
                             for t in facts.trajectories]}  # fmt: skip


@router.get("/referrals", response_model=ReferralStatuses, dependencies=[Depends(access_reason)],
            responses=responses(503, s503=UNAUDITED))
async def referral_statuses(
    warehouse: WarehouseDep, principal: PrincipalDep, school_year: SchoolYear = None,
    referrer_id: Annotated[str | None, Query(max_length=80, description="Only this referrer's referrals.")] = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """L4: each referral's one state (received, triage, round table, dispatched, started, stopped early, closed, or
    advice only, withdrawn, not started, awaiting a new dispatch) with the day of each step, listed per referrer. A CLB
    sees its own referrals only (the referrer as amended); the desk all. A provider (403) follows the trajectories
    dispatched to it at /v1/live/trajectories/{trajectory_id}, not the referral around them. Every request here, served
    or refused, is recorded in the audit trail before the answer leaves (503 when it cannot be); give the reason in
    `X-Access-Reason` or `reason`."""
    year = _year(school_year)
    facts = await warehouse.run(live_queries.referral_facts, year, None, principal.data_scope)
    rows = [status_of(f) for f in facts if referrer_id is None or f.referrer_id == referrer_id]
    rows = [r for r in rows if state is None or r["state"] == state]
    return {"school_year": year, "total": len(rows), "rows": rows[offset : offset + limit]}




@router.get("/referrals/{referral_id}", response_model=ReferralStatus, dependencies=[Depends(access_reason)],
            responses=responses(404, 503, s404=NOT_FOUND, s503=UNAUDITED))
async def referral_status(
    request: Request, warehouse: WarehouseDep, principal: PrincipalDep,
    referral_id: Annotated[Identifier, Path(examples=["R-2025-0042"])],
) -> Any:
    """L4: one referral's state and the day of each step. A referral outside the caller's scope (a CLB: another
    referrer's) answers 404 like an unknown one; a provider gets 403. Every request here, served or refused, is
    recorded in the audit trail before the answer leaves (503 when it cannot be); give the reason in
    `X-Access-Reason` or `reason`."""
    facts = await warehouse.run(live_queries.referral_facts, None, referral_id, principal.data_scope)
    if not facts:
        raise HTTPException(404, f"unknown referral {referral_id}")
    note(request, referral_id=referral_id)
    return status_of(facts[0])


# -- L5 -------------------------------------------------------------------------------------------------------------
class Count(BaseModel):
    key: str = Field(description="The provider id ('' for referral gaps and stuck events) or source system.")
    count: int


class Gap(BaseModel):
    id: str = Field(description="What to fix: the trajectory id, or the referral id for a profile gap.")
    referral_id: str
    provider_id: str
    source_system: str
    detail: str | None = Field(description="The missing profile fields, or the stuck event's type, day and id.")


class CompletenessCheck(BaseModel):
    check: str
    label_nl: str
    count: int
    by_provider: list[Count]
    by_source_system: list[Count]
    items: list[Gap] = Field(description="The ids to fix, from offset, at most limit.")
    more: bool = Field(description="More items beyond this page.")


class Completeness(BaseModel):
    school_year: str
    stuck_days: int
    checks: list[CompletenessCheck]


def _counts(values: list[str]) -> list[dict[str, Any]]:
    return [{"key": k, "count": n} for k, n in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))]


@router.get("/completeness", response_model=Completeness)
async def data_completeness(
    warehouse: WarehouseDep, school_year: SchoolYear = None,
    stuck_days: Annotated[int, Query(ge=0, le=3650, description=STUCK_HELP)] = 14,
    limit: Annotated[int, Query(ge=1, le=500, description="Items listed per check.")] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """L5 (the desk only): what the annual report will miss, while it can still be fixed, per provider and per source
    system: started trajectories without duration or half-days per week (R51's rule), closed ones without
    perspective, referrals missing profile fields the report counts, and trajectory events stuck without their
    dispatch for more than `stuck_days` days. Each check lists the ids to fix (paged)."""
    year = _year(school_year)
    found = await warehouse.run(live_queries.completeness_rows, year, stuck_days)
    checks = []
    for check in completeness.CHECKS:
        items = [row for row in found if row["check"] == check]
        checks.append({"check": check, "label_nl": completeness.LABELS_NL[check], "count": len(items),
                       "by_provider": _counts([i["provider_id"] for i in items]),
                       "by_source_system": _counts([i["source_system"] for i in items]),
                       "items": items[offset : offset + limit], "more": len(items) > offset + limit})  # fmt: skip
    return {"school_year": year, "stuck_days": stuck_days, "checks": checks}
