"""Trajectory events, keyed by the referral they belong to: dispatched, started or not, progress, stopped early,
closed, and carried over administratively to the next school year.

The live projections (`services/projections/trajectory_state.py`) read the first five; their payload fields
(referral_id, trajectory_id, provider_id, module_id, offer_type) are part of the contract.

TrajectoryDispatched is version 2: the desk's decision names the dispatch service's proposal it answers, and whether
(and why) the desk chose otherwise. Version 1 (`trajectories_v1`) stays accepted and is read as version 2 without a
proposal.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.dispatch import check_proposal_answer
from schemas.envelope import Envelope, Identifier, Payload, SchoolYear, next_school_year, school_year_of
from schemas.privacy import FreeText


class TrajectoryPayload(Payload):
    """Every trajectory event belongs to a referral: the referral id is the stream key, keeping their order."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    trajectory_id: Identifier


class TrajectoryDispatchedPayload(TrajectoryPayload):
    """The desk offers a trajectory: dispatched to a provider and one of its modules. When it answers a proposal of
    the dispatch service, `proposal_id` names it and `overridden` says whether the desk chose another provider or
    module (then `override_reason` says why; no names). Without a proposal both stay null."""

    provider_id: Identifier
    module_id: Identifier
    offer_type: Code("offer_type")  # type: ignore[valid-type]
    proposal_id: Identifier | None = Field(None, description="The dispatch proposal this decision answers, if any.")
    overridden: bool | None = Field(None, description="True: the desk chose otherwise than proposed.")
    override_reason: FreeText | None = Field(None, description="Why the desk overrode the proposal; no names.")

    @model_validator(mode="after")
    def _decision_on_a_proposal(self) -> TrajectoryDispatchedPayload:
        check_proposal_answer(self.proposal_id, self.overridden, self.override_reason)
        return self


class TrajectoryStartedPayload(TrajectoryPayload):
    """The provider agreed and the trajectory started."""

    half_days_per_week: float | None = Field(None, ge=0, le=10, description="Dagdelen per week, if known.")


class TrajectoryNotStartedPayload(TrajectoryPayload):
    """The dispatched trajectory will not start."""

    reason: Code("not_started_reason")  # type: ignore[valid-type]


class TrajectoryProgressReportedPayload(TrajectoryPayload):
    """The provider reports how a running trajectory goes: half-days per week, class hours so far, duration.
    Whatever is not reported stays null, so missing registrations show in the completeness figures."""

    half_days_per_week: float | None = Field(None, ge=0, le=10, description="Dagdelen per week.")
    class_hours: float | None = Field(None, ge=0, le=1000, description="Lesuren spent so far.")
    duration_bucket: Code("duration_bucket") | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _reports_something(self) -> TrajectoryProgressReportedPayload:
        if self.half_days_per_week is None and self.class_hours is None and self.duration_bucket is None:
            raise ValueError("a progress report gives half_days_per_week, class_hours or duration_bucket")
        return self


class TrajectoryStoppedEarlyPayload(TrajectoryPayload):
    """Stopped after running a while, without a concluding round table (vroegtijdig stopgezet)."""

    reason: Code("early_stop_reason")  # type: ignore[valid-type]


class TrajectoryClosedPayload(TrajectoryPayload):
    """Closed (afgerond) with the pupil's perspective."""

    perspective: Code("perspective")  # type: ignore[valid-type]


class TrajectoryCarriedOverPayload(TrajectoryPayload):
    """Administrative carry-over (administratief overzetten): a trajectory that runs on after 31 August is closed
    in its year (TrajectoryClosed, perspective continues_next_year) and continues as a new trajectory of a new
    referral (channel kans_rereferral) in the next year. This event links the two, so cross-year figures neither
    lose nor double-count it. Keyed by the new referral; the new trajectory keeps provider and module."""

    previous_referral_id: Identifier
    previous_trajectory_id: Identifier
    to_school_year: SchoolYear = Field(description="The school year the trajectory continues in.")
    provider_id: Identifier
    module_id: Identifier
    offer_type: Code("offer_type")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _links_two_trajectories(self) -> TrajectoryCarriedOverPayload:
        if self.previous_trajectory_id == self.trajectory_id:
            raise ValueError("the carried-over trajectory gets a new trajectory_id")
        return self

    def check_context(self, occurred_at: datetime) -> None:
        year = school_year_of(occurred_at)
        if self.to_school_year not in (year, next_school_year(year)):
            raise ValueError(
                f"payload.to_school_year {self.to_school_year} must be {year} or {next_school_year(year)} "
                "(the carry-over is registered around the turn of the school year)"
            )


class TrajectoryDispatched(Envelope):
    """A trajectory dispatched, version 2 (what consumers read; stored version-1 events are upcast to it)."""

    event_type: Literal["TrajectoryDispatched"] = "TrajectoryDispatched"
    schema_version: Literal[2] = 2
    payload: TrajectoryDispatchedPayload


class TrajectoryStarted(Envelope):
    event_type: Literal["TrajectoryStarted"] = "TrajectoryStarted"
    schema_version: Literal[1] = 1
    payload: TrajectoryStartedPayload


class TrajectoryNotStarted(Envelope):
    event_type: Literal["TrajectoryNotStarted"] = "TrajectoryNotStarted"
    schema_version: Literal[1] = 1
    payload: TrajectoryNotStartedPayload


class TrajectoryProgressReported(Envelope):
    event_type: Literal["TrajectoryProgressReported"] = "TrajectoryProgressReported"
    schema_version: Literal[1] = 1
    payload: TrajectoryProgressReportedPayload


class TrajectoryStoppedEarly(Envelope):
    event_type: Literal["TrajectoryStoppedEarly"] = "TrajectoryStoppedEarly"
    schema_version: Literal[1] = 1
    payload: TrajectoryStoppedEarlyPayload


class TrajectoryClosed(Envelope):
    event_type: Literal["TrajectoryClosed"] = "TrajectoryClosed"
    schema_version: Literal[1] = 1
    payload: TrajectoryClosedPayload


class TrajectoryCarriedOver(Envelope):
    event_type: Literal["TrajectoryCarriedOver"] = "TrajectoryCarriedOver"
    schema_version: Literal[1] = 1
    payload: TrajectoryCarriedOverPayload
