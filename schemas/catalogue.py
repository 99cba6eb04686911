"""Every event type of the contract with all its versions, and the upcasters that lift an old version to the next.

Adding a version: keep the old class (in a `<topic>_v<n>.py` module, with its upcaster beside it), list it in
LEGACY_EVENT_CLASSES and its upcaster in UPCASTERS; the import-time check below refuses a gap in the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import (
    coaching,
    dispatch,
    groups,
    groups_v1,
    providers,
    pupils,
    referrals,
    referrals_v1,
    referrals_v2,
    referrals_v3,
    round_tables,
    trajectories,
    trajectories_v1,
)
from schemas.envelope import Envelope

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# The current version of every event type, in the order of the domain (DOMAIN §4-§7).
EVENT_CLASSES: tuple[type[Envelope], ...] = (
    referrals.ReferralSubmitted,
    referrals.ReferralAmended,
    referrals.ReferralWithdrawn,
    referrals.AdviceGiven,
    round_tables.RoundTableScheduled,
    round_tables.RoundTableHeld,
    round_tables.RoundTableCancelled,
    dispatch.DispatchProposed,
    dispatch.DispatchBlocked,
    dispatch.WaitingListJoined,
    dispatch.WaitingListLeft,
    trajectories.TrajectoryDispatched,
    trajectories.TrajectoryStarted,
    trajectories.TrajectoryNotStarted,
    trajectories.TrajectoryProgressReported,
    trajectories.TrajectoryStoppedEarly,
    trajectories.TrajectoryClosed,
    trajectories.TrajectoryCarriedOver,
    groups.GroupReferralSubmitted,
    groups.GroupTrajectoryDispatched,
    groups.GroupTrajectoryStarted,
    groups.GroupTrajectoryNotStarted,
    groups.GroupTrajectoryStoppedEarly,
    groups.GroupTrajectoryCompleted,
    providers.ProviderRegistered,
    providers.ModuleOffered,
    providers.ModuleWithdrawn,
    providers.ProviderCapacitySet,
    providers.ProviderMinimumAgeSet,
    providers.ProviderAcceptingReferralsSet,
    providers.ProviderReachabilitySet,
    providers.ProviderTravelRegionSet,
    coaching.ProviderCoachSettingSet,
    coaching.ProviderCoronaCoachingReported,
    pupils.PupilErased,
)
# Older versions: still accepted on submission, stored as sent, upcast on read.
LEGACY_EVENT_CLASSES: tuple[type[Envelope], ...] = (
    referrals_v1.ReferralSubmittedV1,
    referrals_v2.ReferralSubmittedV2,
    referrals_v3.ReferralSubmittedV3,
    referrals_v1.ReferralWithdrawnV1,
    trajectories_v1.TrajectoryDispatchedV1,
    groups_v1.GroupTrajectoryDispatchedV1,
)
# (event type, version) -> function turning that version's payload into the next version's payload.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("ReferralSubmitted", 1): referrals_v1.upcast_referral_submitted_v1_to_v2,
    ("ReferralSubmitted", 2): referrals_v2.upcast_referral_submitted_v2_to_v3,
    ("ReferralSubmitted", 3): referrals_v3.upcast_referral_submitted_v3_to_v4,
    ("ReferralWithdrawn", 1): referrals_v1.upcast_referral_withdrawn_v1_to_v2,
    ("TrajectoryDispatched", 1): trajectories_v1.upcast_trajectory_dispatched_v1_to_v2,
    ("GroupTrajectoryDispatched", 1): groups_v1.upcast_group_trajectory_dispatched_v1_to_v2,
}

# A submission version stored as a later version: the source sends the same thing, the platform stores it
# differently (ReferralSubmitted v2-v4 all send the pupil_id; since v3 the pupil key is sealed, not in clear; v4 may
# add the address, stored as its household key: v2 and v3 submissions are stored as v4 without one).
STORED_AS: dict[tuple[str, int], int] = {("ReferralSubmitted", 2): 4, ("ReferralSubmitted", 3): 4}


def event_type_of(cls: type[Envelope]) -> str:
    return str(cls.model_fields["event_type"].default)


def version_of(cls: type[Envelope]) -> int:
    return int(cls.model_fields["schema_version"].default)


EVENT_TYPES: dict[str, type[Envelope]] = {event_type_of(cls): cls for cls in EVENT_CLASSES}
LATEST_VERSION: dict[str, int] = {name: version_of(cls) for name, cls in EVENT_TYPES.items()}
EVENT_VERSIONS: dict[tuple[str, int], type[Envelope]] = {
    (event_type_of(cls), version_of(cls)): cls for cls in (*LEGACY_EVENT_CLASSES, *EVENT_CLASSES)
}


def _check_upcast_chains() -> None:
    for name, version in EVENT_VERSIONS:
        if version < LATEST_VERSION[name] and (name, version) not in UPCASTERS:
            raise RuntimeError(f"{name} v{version} has no upcaster to v{version + 1}")
        if version > 1 and (name, version - 1) not in EVENT_VERSIONS:
            raise RuntimeError(f"{name} v{version - 1} is missing: keep every older version readable")


_check_upcast_chains()
