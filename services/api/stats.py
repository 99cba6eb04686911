"""Statistics and history from ClickHouse."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from schemas.codelists import Code
from services.api.deps import WarehouseDep
from services.warehouse import queries

router = APIRouter(prefix="/v1", tags=["statistics"])
SchoolYearPath = Path(pattern=r"^\d{4}-\d{4}$", description="School year, e.g. 2019-2020.", examples=["2019-2020"])


@router.get("/stats/{school_year}/referrals-per-month")
async def referrals_per_month(
    warehouse: WarehouseDep,
    school_year: Annotated[str, SchoolYearPath],
    level: Annotated[Code("level") | None, Query(description="primary or secondary; default both")] = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    """R01/R31: individual referrals per month (September -> August), regular vs corona offer."""
    if int(school_year[5:]) != int(school_year[:4]) + 1:
        raise HTTPException(422, detail={"field": "school_year", "message": "must be two consecutive years"})
    return await warehouse.run(queries.referrals_per_month, school_year, level)


@router.get("/referrals/{referral_id}/events", tags=["history"])
async def referral_history(warehouse: WarehouseDep, referral_id: str) -> dict[str, Any]:
    """Every stored event of one referral (its trajectories included), as recorded in the warehouse."""
    events = await warehouse.run(queries.stream_events, referral_id)
    if not events:
        raise HTTPException(404, f"no events for referral {referral_id}")
    return {"referral_id": referral_id, "events": events}
