"""Pure rules: fold one trajectory's events into its state and say what changed for the provider-load view.

The state records the facts seen (dispatch, start, end), not a position in a fixed sequence, so events that
arrive late or out of order (a start before its dispatch) still converge on the same state. Every applied
event id is kept: a replayed or duplicated event changes nothing and emits nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from schemas.envelope import Envelope

Membership = Literal["active", "waiting"] | None
TRAJECTORY_EVENTS = {
    "TrajectoryDispatched", "TrajectoryStarted", "TrajectoryNotStarted", "TrajectoryStoppedEarly", "TrajectoryClosed",
    "TrajectoryCarriedOver",
}  # fmt: skip
ENDINGS = {
    "TrajectoryNotStarted": "not_started", "TrajectoryStoppedEarly": "stopped_early", "TrajectoryClosed": "closed",
}  # fmt: skip


@dataclass(frozen=True)
class TrajectoryState:
    trajectory_id: str
    referral_id: str
    provider_id: str | None = None
    module_id: str | None = None
    offer_type: str | None = None
    dispatched_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    ending: str | None = None
    wait_reported: bool = False
    applied: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrajectoryState:
        return cls(**{**data, "applied": tuple(data.get("applied", ()))})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "applied": list(self.applied)}

    @property
    def load_key(self) -> str | None:
        return f"{self.provider_id}|{self.module_id}" if self.provider_id and self.module_id else None

    @property
    def status(self) -> str:
        """For the desk and the referrer: where the trajectory stands (an early start waits for its dispatch)."""
        if self.ending is not None:
            return self.ending
        if self.provider_id is None:
            return "awaiting_dispatch"
        return "active" if self.started_at else "waiting"

    @property
    def membership(self) -> Membership:
        if self.load_key is None or self.ending is not None:
            return None
        return "active" if self.started_at else "waiting"


@dataclass(frozen=True)
class LoadChange:
    """Set trajectory `trajectory_id` to `membership` (None = not counted) in the row `load_key`."""

    load_key: str
    trajectory_id: str
    membership: Membership
    event_id: str


@dataclass(frozen=True)
class WaitMeasured:
    """Dispatch -> start waiting time of one trajectory, in days."""

    load_key: str
    trajectory_id: str
    school_year: str
    days: float


Effect = LoadChange | WaitMeasured


def apply_event(state: TrajectoryState | None, event: Envelope) -> tuple[TrajectoryState | None, list[Effect]]:
    if event.event_type not in TRAJECTORY_EVENTS:
        return state, []
    payload: Any = event.payload
    if state is None:
        state = TrajectoryState(trajectory_id=payload.trajectory_id, referral_id=payload.referral_id)
    event_id = str(event.event_id)
    if event_id in state.applied:
        return state, []
    at = event.occurred_at.isoformat()
    new = replace(state, applied=(*state.applied, event_id))
    if event.event_type == "TrajectoryDispatched":
        new = replace(new, provider_id=payload.provider_id, module_id=payload.module_id,
                      offer_type=payload.offer_type, dispatched_at=at)  # fmt: skip
    elif event.event_type == "TrajectoryCarriedOver":
        # It continues at the same provider from this moment: running at once, and no new waiting time.
        new = replace(new, provider_id=payload.provider_id, module_id=payload.module_id,
                      offer_type=payload.offer_type, dispatched_at=at, started_at=at, wait_reported=True)  # fmt: skip
    elif event.event_type == "TrajectoryStarted":
        new = replace(new, started_at=at)
    else:
        new = replace(new, ended_at=at, ending=ENDINGS[event.event_type])

    effects: list[Effect] = []
    if (state.load_key, state.membership) != (new.load_key, new.membership):
        if state.load_key and state.load_key != new.load_key:
            effects.append(LoadChange(state.load_key, new.trajectory_id, None, event_id))
        if new.load_key:
            effects.append(LoadChange(new.load_key, new.trajectory_id, new.membership, event_id))
    if new.load_key and new.dispatched_at and new.started_at and not new.wait_reported:
        days = (datetime.fromisoformat(new.started_at) - datetime.fromisoformat(new.dispatched_at)).total_seconds()
        effects.append(WaitMeasured(new.load_key, new.trajectory_id, event.school_year, max(0.0, days / 86400)))
        new = replace(new, wait_reported=True)
    return new, effects
