"""The audit trail, for the desk: who read which pupil's history or per-pupil rows, and who was refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, Field

from core.http_errors import responses
from schemas.audit import AuditRecord
from schemas.envelope import Identifier
from services.api.deps import WarehouseDep
from services.warehouse.audit import MAX_ROWS, audit_records

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditTrail(BaseModel):
    records: list[AuditRecord] = Field(description="Newest first.")
    limit: int


def _in_range(moment: datetime | None) -> datetime | None:
    """The range ClickHouse's DateTime64 holds (and a year of four digits); outside it a 422 names the field."""
    if moment is not None and not 1970 <= moment.year <= 2299:
        raise ValueError(f"since must be between 1970 and 2299, not the year {moment.year}")
    return moment


@router.get("/audit", response_model=AuditTrail, responses=responses())
async def audit_trail(
    warehouse: WarehouseDep,
    subject: Annotated[str | None, Query(max_length=200, description="The caller's token subject (`sub`).")] = None,
    referral_id: Annotated[Identifier | None, Query(description="Reads of this referral's history.")] = None,
    trajectory_id: Annotated[Identifier | None, Query(description="Reads of this trajectory's status.")] = None,
    since: Annotated[
        datetime | None,
        Query(description="Only records from this moment on (UTC if no offset); between 1970 and 2299."),
        AfterValidator(_in_range),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100,
) -> AuditTrail:
    """The audit trail of the read API: every read of a pupil's history (`/v1/referrals/{id}/events`), of a
    trajectory's live status and of an ad hoc answer at the desk audience, and every refused attempt at them (401,
    403, 404, 422), with who asked (token subject, role, scope; null subject: no valid token), what, when, the status
    and the reason given. Stored from Kafka `kans.audit.v1` by the audit writer, so a record shows here within about
    a second of its read."""
    rows = await warehouse.run(audit_records, subject, referral_id, trajectory_id, since, limit)
    return AuditTrail(records=rows, limit=limit)
