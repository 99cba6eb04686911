"""Dispatch events, keyed by the referral they are about (DOMAIN §5 step 3, §7): what the dispatch service proposes,
why (the rule trace), and the waiting lists a trajectory joins and leaves. The desk's decision is the
`TrajectoryDispatched` event (version 2 names the proposal it answers and whether the desk overrode it).

Every proposal records the rule set (`rule_set`, its version) and the day whose provider catalogue the rules read
(`decided_on`), and a trace: every rule's verdict on every candidate (provider and module) with the facts it used, so
"minimum age 10: pupil is 9 -> excluded" or "capacity 9, occupied 9 -> full" can be read back from the log. Facts are
numbers, yes/no, codes and ids: never a name. A waiting trajectory keeps the day it was referred (`waiting_since`):
the clock never restarts when it is proposed again.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.codelists import Code
from schemas.envelope import Envelope, Frozen, Identifier, Payload

# What the dispatch service writes to the log (sources submit the rest; the desk may submit these too).
DISPATCH_SERVICE_EVENT_TYPES = frozenset(
    {"DispatchProposed", "DispatchBlocked", "WaitingListJoined", "WaitingListLeft"}
)
RuleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
RuleSetVersion = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$"), Field(description="The rule set's version.")
]
FactValue = bool | int | Identifier | tuple[Identifier, ...] | None


def check_proposal_answer(proposal_id: str | None, overridden: bool | None, override_reason: str | None) -> None:
    """The rule of a dispatch decision (TrajectoryDispatched, GroupTrajectoryDispatched, version 2): it names the
    proposal it answers and whether the desk overrode it (then why), or neither; ValueError otherwise."""
    if proposal_id is None and (overridden is not None or override_reason is not None):
        raise ValueError("overridden and override_reason are given only with a proposal_id")
    if proposal_id is not None and overridden is None:
        raise ValueError("a decision on a proposal says whether it was overridden (overridden true or false)")
    if bool(overridden) != (override_reason is not None):
        raise ValueError("override_reason is required when overridden is true, and only then")


class RuleVerdict(Frozen):
    """One rule's verdict on one candidate (provider and module), or on the decision as a whole (no candidate), with
    the facts it read: e.g. rule `minimum_age`, verdict `excluded`, facts {minimum_age: 10, pupil_age: 9}."""

    rule: RuleName
    provider_id: Identifier | None = None
    module_id: Identifier | None = None
    verdict: Code("dispatch_verdict")  # type: ignore[valid-type]
    facts: dict[RuleName, FactValue] = Field(default_factory=dict, max_length=24)


Trace = Annotated[tuple[RuleVerdict, ...], Field(min_length=1, max_length=600)]


class Place(Frozen):
    """A provider's module: one waiting list."""

    provider_id: Identifier
    module_id: Identifier


class DispatchPayload(Payload):
    """A dispatch decision is about one trajectory of one referral: the referral id is the stream key."""

    stream_field: ClassVar[str] = "referral_id"
    referral_id: Identifier
    trajectory_id: Identifier = Field(description="The trajectory to place (named by the dispatch service).")


class DecisionPayload(DispatchPayload):
    """What every decision of the rules states: why it was taken, with which rules, on which day's catalogue."""

    offer_type: Code("offer_type")  # type: ignore[valid-type]
    trigger: Code("dispatch_trigger")  # type: ignore[valid-type]
    trigger_event_id: uuid.UUID = Field(description="The event the decision answers (round table, referral, ...).")
    rule_set: RuleSetVersion
    decided_on: date = Field(description="The day whose provider catalogue, load and waiting lists the rules read.")
    waiting_since: date = Field(description="The day the pupil was referred: waiting time counts from it, always.")
    trace: Trace


class DispatchProposedPayload(DecisionPayload):
    """The dispatch service proposes a provider and module for a trajectory; the desk confirms or overrides it
    (`TrajectoryDispatched` with this proposal's id). An open proposal holds its place until the desk decides."""

    proposal_id: Identifier
    provider_id: Identifier
    module_id: Identifier
    supersedes: Identifier | None = Field(None, description="The earlier proposal this one replaces (stale).")
    auto_confirm: bool = Field(False, description="The offer is dispatched without the desk (e.g. corona offer).")


class DispatchBlockedPayload(DecisionPayload):
    """No provider can take the trajectory: no module fits, or every candidate is excluded by a rule other than
    capacity (the trace says which). The desk decides by hand."""


class WaitingListJoinedPayload(DecisionPayload):
    """Every eligible provider is full: the trajectory waits for a place at each of `places` (the best
    candidates). When one frees, the longest-waiting eligible trajectory gets a proposal."""

    places: tuple[Place, ...] = Field(min_length=1, max_length=40)


class WaitingListLeftPayload(DispatchPayload):
    """The trajectory no longer waits at `places`: it got a proposal, the desk placed it, the referral was
    withdrawn, or it no longer fits any candidate."""

    places: tuple[Place, ...] = Field(min_length=1, max_length=40)
    reason: Code("waiting_list_exit_reason")  # type: ignore[valid-type]
    waiting_since: date
    left_on: date
    proposal_id: Identifier | None = Field(None, description="The proposal it left for (reason proposed).")

    @model_validator(mode="after")
    def _proposal_when_proposed(self) -> WaitingListLeftPayload:
        if (self.reason == "proposed") != (self.proposal_id is not None):
            raise ValueError("proposal_id is given exactly when the reason is proposed")
        return self


class DispatchProposed(Envelope):
    event_type: Literal["DispatchProposed"] = "DispatchProposed"
    schema_version: Literal[1] = 1
    payload: DispatchProposedPayload


class DispatchBlocked(Envelope):
    event_type: Literal["DispatchBlocked"] = "DispatchBlocked"
    schema_version: Literal[1] = 1
    payload: DispatchBlockedPayload


class WaitingListJoined(Envelope):
    event_type: Literal["WaitingListJoined"] = "WaitingListJoined"
    schema_version: Literal[1] = 1
    payload: WaitingListJoinedPayload


class WaitingListLeft(Envelope):
    event_type: Literal["WaitingListLeft"] = "WaitingListLeft"
    schema_version: Literal[1] = 1
    payload: WaitingListLeftPayload
