"""Version 1 of TrajectoryDispatched and its upcaster: a dispatch without the proposal it answers.

Version 1 stays readable forever and is still accepted on submission (a producer that dispatches without the
dispatch service keeps working); `parse_event` reads it as version 2 with `proposal_id`, `overridden` and
`override_reason` null: dispatched without a proposal.
"""

from __future__ import annotations

from typing import Any, Literal

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier
from schemas.trajectories import TrajectoryPayload


class TrajectoryDispatchedV1Payload(TrajectoryPayload):
    """The desk offers a trajectory: dispatched to a provider and one of its modules (version 1: no proposal)."""

    provider_id: Identifier
    module_id: Identifier
    offer_type: Code("offer_type")  # type: ignore[valid-type]


class TrajectoryDispatchedV1(Envelope):
    """TrajectoryDispatched as stored by version 1 (read as version 2, without a proposal)."""

    event_type: Literal["TrajectoryDispatched"] = "TrajectoryDispatched"
    schema_version: Literal[1] = 1
    payload: TrajectoryDispatchedV1Payload


def upcast_trajectory_dispatched_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 dispatch as version 2: every field kept, dispatched without a proposal."""
    return {**payload, "proposal_id": None, "overridden": None, "override_reason": None}
