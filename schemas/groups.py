"""Group referrals and their group trajectories (DOMAIN §6), keyed by group_referral_id.

One group referral lists one or more groups (a class, a school-composed small group `zsg`, a restorative group);
each group gets its own group trajectory. Reports count both referrals and groups.

School year of a group referral: the envelope's `school_year` is, as for every event, derived from occurred_at.
Requests made in May-August may be for the next school year and then belong to it: the payload's
`for_school_year` says which year the request is for, and statistics count the referral (and its groups) in
that year. It may be left out on submission; sealing then stores the occurred_at school year, so every stored
group referral states its year. The next school year is accepted only for requests made May-August.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.codelists import Code
from schemas.dispatch import check_proposal_answer
from schemas.education import Schooling
from schemas.envelope import (
    BRUSSELS,
    Envelope,
    Identifier,
    Payload,
    SchoolYear,
    SealContext,
    next_school_year,
    school_year_of,
)
from schemas.privacy import FreeText

NEXT_YEAR_REQUEST_MONTHS = range(5, 9)  # May-August


def allowed_request_years(occurred_at: datetime) -> tuple[str, ...]:
    """The school years a group request made at `occurred_at` may be for."""
    year = school_year_of(occurred_at)
    if occurred_at.astimezone(BRUSSELS).month in NEXT_YEAR_REQUEST_MONTHS:
        return (year, next_school_year(year))
    return (year,)


class GroupRequest(Schooling):
    """One group of a group referral: where it is at school, what kind of group, how many pupils, which module."""

    group_id: Identifier
    school_id: Identifier
    school_location: Code("school_location") = "unknown"  # type: ignore[valid-type]
    group_kind: Code("group_kind")  # type: ignore[valid-type]
    pupil_count: int = Field(ge=1, le=200, description="Pupils in the group.")
    requested_module: Code("group_module")  # type: ignore[valid-type]
    preferred_provider_id: Identifier | None = Field(None, description="The provider the school asks for, if any.")
    class_action_theme: Code("class_action_theme") | None = Field(None, description="For class actions.")  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _group_is_consistent(self) -> GroupRequest:
        if self.group_kind == "restorative_group" and self.pupil_count < 2:
            raise ValueError("a restorative group has at least 2 pupils")
        if self.class_action_theme is not None and self.requested_module != "class_action":
            raise ValueError("class_action_theme is given only for requested_module class_action")
        return self


class GroupReferralSubmittedPayload(Payload):
    """A CLB (or school) refers one or more groups in one request."""

    stream_field: ClassVar[str] = "group_referral_id"
    group_referral_id: Identifier
    channel: Code("channel")  # type: ignore[valid-type]
    referrer_id: Identifier = Field(description="CLB or school identifier of the referrer.")
    for_school_year: SchoolYear | None = Field(
        None, description="The school year the request is for; default the year of occurred_at. May-August only: "
        "the next school year.",
    )  # fmt: skip
    groups: tuple[GroupRequest, ...] = Field(min_length=1, max_length=60)

    @model_validator(mode="after")
    def _group_ids_unique(self) -> GroupReferralSubmittedPayload:
        ids = [g.group_id for g in self.groups]
        if len(set(ids)) != len(ids):
            raise ValueError("group_id must be unique within a group referral")
        return self

    def check_context(self, occurred_at: datetime) -> None:
        allowed = allowed_request_years(occurred_at)
        if self.for_school_year is not None and self.for_school_year not in allowed:
            raise ValueError(
                f"payload.for_school_year {self.for_school_year} must be one of {', '.join(allowed)} for a request "
                f"made on {occurred_at.astimezone(BRUSSELS).date()} (the next year only for requests May-August)"
            )

    def sealed(self, context: SealContext) -> GroupReferralSubmittedPayload:
        if self.for_school_year is not None:
            return self
        return self.model_copy(update={"for_school_year": school_year_of(context.occurred_at)})


class GroupTrajectoryPayload(Payload):
    """A group trajectory belongs to one group of a group referral, and is ordered with that referral."""

    stream_field: ClassVar[str] = "group_referral_id"
    group_referral_id: Identifier
    group_id: Identifier
    group_trajectory_id: Identifier


class GroupTrajectoryDispatchedPayload(GroupTrajectoryPayload):
    """The desk assigns the group to a provider and a module. Version 2: when it answers a proposal of the dispatch
    service, `proposal_id` names it and `overridden` says whether the desk chose another provider (then
    `override_reason` says why; no names). Without a proposal both stay null (version 1 is read so)."""

    provider_id: Identifier
    module: Code("group_module")  # type: ignore[valid-type]
    proposal_id: Identifier | None = Field(None, description="The dispatch proposal this decision answers, if any.")
    overridden: bool | None = Field(None, description="True: the desk chose otherwise than proposed.")
    override_reason: FreeText | None = Field(None, description="Why the desk overrode the proposal; no names.")

    @model_validator(mode="after")
    def _decision_on_a_proposal(self) -> GroupTrajectoryDispatchedPayload:
        check_proposal_answer(self.proposal_id, self.overridden, self.override_reason)
        return self


class GroupTrajectoryStartedPayload(GroupTrajectoryPayload):
    """The provider started working with the group."""


class GroupTrajectoryNotStartedPayload(GroupTrajectoryPayload):
    """The group trajectory will not start."""

    reason: Code("group_not_started_reason")  # type: ignore[valid-type]


class GroupTrajectoryStoppedEarlyPayload(GroupTrajectoryPayload):
    """Started but stopped before the end; "effectively run" = started minus stopped early."""

    reason: Code("group_early_stop_reason")  # type: ignore[valid-type]
    class_hours: float | None = Field(None, ge=0, le=200, description="Lesuren spent before stopping, if known.")


class GroupTrajectoryCompletedPayload(GroupTrajectoryPayload):
    """The group trajectory ran to its end: class hours spent and pupils reached."""

    class_hours: float = Field(ge=0, le=200, description="Lesuren spent.")
    pupils_reached: int = Field(ge=0, le=1000)


class GroupReferralSubmitted(Envelope):
    event_type: Literal["GroupReferralSubmitted"] = "GroupReferralSubmitted"
    schema_version: Literal[1] = 1
    payload: GroupReferralSubmittedPayload


class GroupTrajectoryDispatched(Envelope):
    event_type: Literal["GroupTrajectoryDispatched"] = "GroupTrajectoryDispatched"
    schema_version: Literal[2] = 2
    payload: GroupTrajectoryDispatchedPayload


class GroupTrajectoryStarted(Envelope):
    event_type: Literal["GroupTrajectoryStarted"] = "GroupTrajectoryStarted"
    schema_version: Literal[1] = 1
    payload: GroupTrajectoryStartedPayload


class GroupTrajectoryNotStarted(Envelope):
    event_type: Literal["GroupTrajectoryNotStarted"] = "GroupTrajectoryNotStarted"
    schema_version: Literal[1] = 1
    payload: GroupTrajectoryNotStartedPayload


class GroupTrajectoryStoppedEarly(Envelope):
    event_type: Literal["GroupTrajectoryStoppedEarly"] = "GroupTrajectoryStoppedEarly"
    schema_version: Literal[1] = 1
    payload: GroupTrajectoryStoppedEarlyPayload


class GroupTrajectoryCompleted(Envelope):
    event_type: Literal["GroupTrajectoryCompleted"] = "GroupTrajectoryCompleted"
    schema_version: Literal[1] = 1
    payload: GroupTrajectoryCompletedPayload
