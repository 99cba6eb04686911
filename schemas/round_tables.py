"""Round-table events (rondetafel), keyed by referral_id: scheduled, then held with its outcomes, or cancelled.

The norm in secondary, rare in primary, none for the corona offer (DOMAIN §5).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload
from schemas.referral_profile import CodeSet


class RoundTablePayload(Payload):
    """A round table is about one referral: the referral id is the stream key."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    round_table_id: Identifier


class RoundTableScheduledPayload(RoundTablePayload):
    """The desk plans a round table with the pupil, the school, the CLB and the provider(s)."""

    scheduled_for: date = Field(description="The day the round table is planned.")


class RoundTableHeldPayload(RoundTablePayload):
    """The round table took place. Outcomes can combine (trajectories to start and advice to youth care);
    starting trajectories and deciding not to start exclude each other."""

    outcomes: CodeSet("round_table_outcome") = Field(min_length=1)  # type: ignore[valid-type]
    trajectories_to_start: int | None = Field(None, ge=1, le=10, description="How many, when trajectories start.")

    @model_validator(mode="after")
    def _outcomes_agree(self) -> RoundTableHeldPayload:
        starts = "trajectories_to_start" in self.outcomes
        if starts and "decision_not_to_start" in self.outcomes:
            raise ValueError("outcomes trajectories_to_start and decision_not_to_start exclude each other")
        if self.trajectories_to_start is not None and not starts:
            raise ValueError("trajectories_to_start is given only with the outcome trajectories_to_start")
        return self


class RoundTableCancelledPayload(RoundTablePayload):
    """The planned round table will not take place."""

    reason: Code("round_table_cancel_reason")  # type: ignore[valid-type]


class RoundTableScheduled(Envelope):
    event_type: Literal["RoundTableScheduled"] = "RoundTableScheduled"
    schema_version: Literal[1] = 1
    payload: RoundTableScheduledPayload


class RoundTableHeld(Envelope):
    event_type: Literal["RoundTableHeld"] = "RoundTableHeld"
    schema_version: Literal[1] = 1
    payload: RoundTableHeldPayload


class RoundTableCancelled(Envelope):
    event_type: Literal["RoundTableCancelled"] = "RoundTableCancelled"
    schema_version: Literal[1] = 1
    payload: RoundTableCancelledPayload
