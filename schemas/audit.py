"""The audit record: one read of a pupil's history or of per-pupil rows, or one refused attempt at it, as the read API
publishes it to `kans.audit.v1` (and the audit writer stores it in ClickHouse `audit_log`).

Who (the verified token's subject, role and scope; nothing of a token that did not verify), what (the route template,
the referral or trajectory id asked for, the answer's status), when, and why (the reason the caller gave, if any).
It holds no personal data of a pupil: ids are the contract's identifiers, and a reason that looks like personal data
is withheld (`REASON_WITHHELD`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

AUDIT_SCHEMA_VERSION = 1
REASON_MAX = 200
REASON_WITHHELD = "(withheld: the reason looked like personal data)"
Outcome = Literal["served", "refused", "failed"]
AuditRole = Literal["desk", "clb", "provider", "policy", "source_system"]


def outcome_of(status: int) -> Outcome:
    """served: 2xx/3xx; refused: a 4xx (401 no valid token, 403 role, 404 unknown or outside the scope, 422 ...);
    failed: 5xx."""
    return "served" if status < 400 else "refused" if status < 500 else "failed"


class AuditRecord(BaseModel):
    """One audited request of the read API (`kans.audit.v1`, key: the subject or `anonymous`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    audit_id: UUID = Field(description="Unique per request; the ClickHouse table collapses redelivered copies on it.")
    at: AwareDatetime = Field(description="When the API answered (UTC).")
    subject: str | None = Field(description="The verified token's `sub`; null when no token verified (a 401).")
    role: AuditRole | None = Field(description="The verified token's role; null when no token verified.")
    scope: list[str] = Field(description="The ids the role acts for (a CLB's referrer id, a provider id).")
    client: str | None = Field(description="The caller's network address as the API saw it.")
    method: str
    route: str = Field(description="The route template, e.g. /v1/referrals/{referral_id}/events.")
    referral_id: str | None = Field(description="The referral whose history or trajectory was asked for (as sent).")
    trajectory_id: str | None = Field(description="The trajectory asked for (live status).")
    detail: str | None = Field(description="What else was asked (an ad hoc question's measures and dimensions).")
    status: int = Field(ge=100, le=599, description="The HTTP status the caller got.")
    outcome: Outcome
    reason: str | None = Field(max_length=REASON_MAX, description="Why, as the caller said (X-Access-Reason header "
                               "or `reason` parameter); withheld when it looked like personal data.")  # fmt: skip


def utc(moment: datetime) -> datetime:
    """ClickHouse hands DateTime64('UTC') back naive; the record says it is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
