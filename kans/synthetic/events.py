"""Building submissions: ids, source refs and actors of generated events, collected per region-year and handed
out in time order.

Ids are the namespace plus short digit groups separated by letters (`syn42ab12-R2019s3n17t2`): unique per run,
readable, and never a run of digits that the contract could take for a national number or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kans.synthetic.calendar import Clock

DESK = "desk:kans"
# Every event type and the payload field that holds its stream id (referral, group referral or provider).
STREAM_FIELD = {
    "ReferralSubmitted": "referral_id", "ReferralAmended": "referral_id", "ReferralWithdrawn": "referral_id",
    "AdviceGiven": "referral_id", "RoundTableScheduled": "referral_id", "RoundTableHeld": "referral_id",
    "RoundTableCancelled": "referral_id", "TrajectoryDispatched": "referral_id", "TrajectoryStarted": "referral_id",
    "TrajectoryNotStarted": "referral_id", "TrajectoryProgressReported": "referral_id",
    "TrajectoryStoppedEarly": "referral_id", "TrajectoryClosed": "referral_id",
    "TrajectoryCarriedOver": "referral_id", "GroupReferralSubmitted": "group_referral_id",
    "GroupTrajectoryDispatched": "group_referral_id", "GroupTrajectoryStarted": "group_referral_id",
    "GroupTrajectoryNotStarted": "group_referral_id", "GroupTrajectoryStoppedEarly": "group_referral_id",
    "GroupTrajectoryCompleted": "group_referral_id", "ProviderRegistered": "provider_id",
    "ModuleOffered": "provider_id", "ModuleWithdrawn": "provider_id", "ProviderCapacitySet": "provider_id",
    "ProviderMinimumAgeSet": "provider_id", "ProviderAcceptingReferralsSet": "provider_id",
    "ProviderReachabilitySet": "provider_id",
    "ProviderTravelRegionSet": "provider_id", "ProviderCoachSettingSet": "provider_id",
    "ProviderCoronaCoachingReported": "provider_id",
}  # fmt: skip
VERSIONS = {"ReferralSubmitted": 4}  # v4: the pupil_id and the home address


def stream_id(submission: dict[str, Any]) -> str:
    """The id that orders a submission's stream (its Kafka key once it is an event)."""
    return str(submission["payload"][STREAM_FIELD[submission["event_type"]]])


@dataclass(frozen=True)
class Ids:
    """The ids of one region's entities in one run."""

    namespace: str
    region: int

    @property
    def _region(self) -> str:
        return f"s{self.region}" if self.region else ""

    def referral(self, start_year: int, n: int) -> str:
        return f"{self.namespace}-R{start_year}{self._region}n{n}"

    def group_referral(self, start_year: int, n: int) -> str:
        return f"{self.namespace}-G{start_year}{self._region}n{n}"

    def pupil(self, serial: int) -> str:
        """The source's own pupil id: the ingest turns it into the pseudonymous pupil key."""
        return f"{self.namespace}-P{self._region}x{serial}"

    def clb(self, name: str) -> str:
        return f"{name}-r{self.region}" if self.region else name

    def school(self, kind: str, n: int) -> str:
        return f"{kind}-r{self.region}n{n}" if self.region else f"{kind}-n{n}"


@dataclass
class Emitter:
    """Collects the submissions of one region-year; `drain()` returns them in time order (stable: events with the
    same stamp keep the order they were made in, which within a stream is causal)."""

    namespace: str
    source_system: str
    clock: Clock
    items: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, stamp: int, event_type: str, ref: str, actor: str, payload: dict[str, Any]) -> None:
        submission = {
            "event_type": event_type,
            "schema_version": VERSIONS.get(event_type, 1),
            "occurred_at": self.clock.iso(stamp),
            "source_system": self.source_system,
            "source_ref": f"{self.namespace}:{ref}",
            "actor": actor,
            "payload": payload,
        }
        self.items.append((stamp, len(self.items), submission))

    def drain(self, until: int | None = None) -> list[dict[str, Any]]:
        """The collected submissions in time order, those after `until` (a stamp) left out; empties the buffer."""
        self.items.sort(key=_order)
        out = [s for stamp, _, s in self.items if until is None or stamp <= until]
        self.items = []
        return out


def _order(item: tuple[int, int, dict[str, Any]]) -> tuple[int, int]:
    return item[0], item[1]
