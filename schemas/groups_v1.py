"""Version 1 of GroupTrajectoryDispatched and its upcaster: a group dispatch without the proposal it answers.

Version 1 stays readable forever and is still accepted on submission (the group tool dispatches without the dispatch
service); `parse_event` reads it as version 2 with `proposal_id`, `overridden` and `override_reason` null.
"""

from __future__ import annotations

from typing import Any, Literal

from schemas.codelists import Code
from schemas.envelope import Envelope, Identifier
from schemas.groups import GroupTrajectoryPayload


class GroupTrajectoryDispatchedV1Payload(GroupTrajectoryPayload):
    """The desk assigns the group to a provider and a module (version 1: no proposal)."""

    provider_id: Identifier
    module: Code("group_module")  # type: ignore[valid-type]


class GroupTrajectoryDispatchedV1(Envelope):
    """GroupTrajectoryDispatched as stored by version 1 (read as version 2, without a proposal)."""

    event_type: Literal["GroupTrajectoryDispatched"] = "GroupTrajectoryDispatched"
    schema_version: Literal[1] = 1
    payload: GroupTrajectoryDispatchedV1Payload


def upcast_group_trajectory_dispatched_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """A v1 group dispatch as version 2: every field kept, dispatched without a proposal."""
    return {**payload, "proposal_id": None, "overridden": None, "override_reason": None}
