"""Former home of the lifecycle events (the backbone's version 1 contract), kept as an import path.

The catalogue now lives in per-topic modules: `schemas.referrals` (and `schemas.referrals_v1`),
`schemas.trajectories`, `schemas.providers`, `schemas.round_tables`, `schemas.groups`; `schemas.catalogue`
lists them all. `ReferralSubmitted` here is the current version (2); version 1 is `ReferralSubmittedV1`.
"""

from __future__ import annotations

from schemas.providers import ProviderCapacitySet, ProviderCapacitySetPayload
from schemas.pseudonym import PupilKey
from schemas.referrals import ReferralSubmitted, ReferralSubmittedPayload
from schemas.referrals_v1 import ReferralSubmittedV1, ReferralSubmittedV1Payload
from schemas.trajectories import (
    TrajectoryClosed,
    TrajectoryClosedPayload,
    TrajectoryDispatched,
    TrajectoryDispatchedPayload,
    TrajectoryNotStarted,
    TrajectoryNotStartedPayload,
    TrajectoryPayload,
    TrajectoryStarted,
    TrajectoryStartedPayload,
    TrajectoryStoppedEarly,
    TrajectoryStoppedEarlyPayload,
)

__all__ = [
    "ProviderCapacitySet", "ProviderCapacitySetPayload", "PupilKey", "ReferralSubmitted", "ReferralSubmittedPayload",
    "ReferralSubmittedV1", "ReferralSubmittedV1Payload", "TrajectoryClosed", "TrajectoryClosedPayload",
    "TrajectoryDispatched", "TrajectoryDispatchedPayload", "TrajectoryNotStarted", "TrajectoryNotStartedPayload",
    "TrajectoryPayload", "TrajectoryStarted", "TrajectoryStartedPayload", "TrajectoryStoppedEarly",
    "TrajectoryStoppedEarlyPayload",
]  # fmt: skip
