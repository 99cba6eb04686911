"""Event history: what the warehouse stored about one referral, event by event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from core.access import PrincipalDep
from core.http_errors import responses
from schemas.envelope import Identifier
from services.api.audit import access_reason
from services.api.deps import WarehouseDep
from services.warehouse import queries

router = APIRouter(prefix="/v1", tags=["history"])


@router.get("/referrals/{referral_id}/events", dependencies=[Depends(access_reason)], responses=responses(
    404, 410, 503, s404="No event of this referral is stored (unknown, or not yet written to ClickHouse).",
    s410="The pupil of this referral was erased (PupilErased): its history is never served again.",
    s503="The audit record of this read could not be written (Kafka away): nothing is served unaudited."))  # fmt: skip
async def referral_history(
    warehouse: WarehouseDep, principal: PrincipalDep,
    referral_id: Annotated[Identifier, Path(examples=["R-2025-0042"])]
) -> dict[str, Any]:
    """Every stored event of one referral (its trajectories included), as recorded in the warehouse. The id is an
    identifier of the contract (422 otherwise). A CLB reads its own referrals only: another's answers 404, like an
    unknown id. A referral whose pupil was erased answers 410. Every request here, served or refused, is recorded in
    the audit trail (who, what, when, why) before the answer leaves; give the reason in `X-Access-Reason` or
    `reason`."""
    events = await warehouse.run_after_writes(queries.stream_events, referral_id, principal.data_scope)
    if not events:
        raise HTTPException(404, f"no events for referral {referral_id}")
    # asked only in scope: 404 says nothing more
    if await warehouse.run_after_writes(queries.referral_erased, referral_id):
        raise HTTPException(410, f"the pupil of referral {referral_id} was erased: its history is not served")
    return {"referral_id": referral_id, "events": events}
