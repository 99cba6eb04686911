"""Referral and trajectory lifecycle events (version 1): the core the live projections and warehouse build on."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier, Payload

PupilKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{32,64}$"),
    Field(description="Pseudonymous pupil key (keyed hash, hex). Never a name or national register number."),
]


class ReferralSubmittedPayload(Payload):
    """A CLB, school, intake or the desk refers one pupil (minimal profile; the catalogue issue extends it)."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    pupil_key: PupilKey
    channel: Code("channel")  # type: ignore[valid-type]
    referrer_id: Identifier = Field(description="CLB or school identifier of the referrer.")
    offer_type: Code("offer_type")  # type: ignore[valid-type]
    level: Code("level")  # type: ignore[valid-type]
    gender: Code("gender")  # type: ignore[valid-type]
    birth_year: int = Field(ge=1990, le=2030)
    birth_month: int = Field(ge=1, le=12)


class TrajectoryPayload(Payload):
    """Every trajectory event belongs to a referral: the referral id is the stream key, keeping their order."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    trajectory_id: Identifier


class TrajectoryDispatchedPayload(TrajectoryPayload):
    """The desk offers a trajectory: dispatched to a provider and one of its modules."""

    provider_id: Identifier
    module_id: Identifier
    offer_type: Code("offer_type")  # type: ignore[valid-type]


class TrajectoryStartedPayload(TrajectoryPayload):
    """The provider agreed and the trajectory started."""

    half_days_per_week: float | None = Field(None, ge=0, le=10, description="Dagdelen per week, if known.")


class TrajectoryNotStartedPayload(TrajectoryPayload):
    """The dispatched trajectory will not start."""

    reason: Code("not_started_reason")  # type: ignore[valid-type]


class TrajectoryStoppedEarlyPayload(TrajectoryPayload):
    """Stopped after running a while, without a concluding round table (vroegtijdig stopgezet)."""

    reason: Code("early_stop_reason")  # type: ignore[valid-type]


class TrajectoryClosedPayload(TrajectoryPayload):
    """Closed (afgerond) with the pupil's perspective."""

    perspective: Code("perspective")  # type: ignore[valid-type]


class ProviderCapacitySetPayload(Payload):
    """A provider's capacity for one module (concurrent trajectories), valid from a date."""

    stream_field: ClassVar[str] = "provider_id"
    provider_id: Identifier
    module_id: Identifier
    capacity: int = Field(ge=0, le=10_000)
    valid_from: date

    @model_validator(mode="after")
    def _plausible_date(self) -> ProviderCapacitySetPayload:
        if self.valid_from.year < 2000:
            raise ValueError("valid_from must be a date after 2000-01-01")
        return self


class ReferralSubmitted(Envelope):
    event_type: Literal["ReferralSubmitted"] = "ReferralSubmitted"
    schema_version: Literal[1] = 1
    payload: ReferralSubmittedPayload


class TrajectoryDispatched(Envelope):
    event_type: Literal["TrajectoryDispatched"] = "TrajectoryDispatched"
    schema_version: Literal[1] = 1
    payload: TrajectoryDispatchedPayload


class TrajectoryStarted(Envelope):
    event_type: Literal["TrajectoryStarted"] = "TrajectoryStarted"
    schema_version: Literal[1] = 1
    payload: TrajectoryStartedPayload


class TrajectoryNotStarted(Envelope):
    event_type: Literal["TrajectoryNotStarted"] = "TrajectoryNotStarted"
    schema_version: Literal[1] = 1
    payload: TrajectoryNotStartedPayload


class TrajectoryStoppedEarly(Envelope):
    event_type: Literal["TrajectoryStoppedEarly"] = "TrajectoryStoppedEarly"
    schema_version: Literal[1] = 1
    payload: TrajectoryStoppedEarlyPayload


class TrajectoryClosed(Envelope):
    event_type: Literal["TrajectoryClosed"] = "TrajectoryClosed"
    schema_version: Literal[1] = 1
    payload: TrajectoryClosedPayload


class ProviderCapacitySet(Envelope):
    event_type: Literal["ProviderCapacitySet"] = "ProviderCapacitySet"
    schema_version: Literal[1] = 1
    payload: ProviderCapacitySetPayload
