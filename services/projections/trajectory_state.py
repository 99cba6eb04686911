"""Pure rules: fold one trajectory's events into its state and say what changed for the provider-load view.

The state records the facts seen (dispatch, start, end), not a position in a fixed sequence, so events that
arrive late or out of order (a start before its dispatch) still converge on the same state. Every applied
event id is kept: a replayed or duplicated event changes nothing and emits nothing.

The state also keeps what it stands for in the provider-load rows (the rows it left, the waiting time it
reported), so `standing_effects` can say it all again: the worker sends that for a replayed event, in case the
changes its first pass caused were lost in a crash after the state itself was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from schemas.envelope import Envelope

Membership = Literal["active", "waiting"] | None
TRAJECTORY_EVENTS = {
    "TrajectoryDispatched", "TrajectoryStarted", "TrajectoryNotStarted", "TrajectoryStoppedEarly", "TrajectoryClosed",
    "TrajectoryCarriedOver", "WaitingListJoined", "WaitingListLeft", "TrajectoryProgressReported",
}  # fmt: skip
WAITING_LIST_EVENTS = {"WaitingListJoined", "WaitingListLeft"}
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
    left: tuple[str, ...] = ()  # rows (provider|module) it no longer counts in, after a dispatch elsewhere
    wait_key: str | None = None  # the waiting time reported: its row, school year and days
    wait_school_year: str | None = None
    wait_days: float | None = None
    listed: tuple[str, ...] = ()  # the rows (provider|module) whose waiting list it is on (dispatch service)
    half_days_per_week: float | None = None  # the latest known (start or progress report), for half-days in use
    half_days_at: str | None = None  # when that value was given: an older report arriving late does not win

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrajectoryState:
        """The state a table value holds; keys that are the table's bookkeeping (its `partition`) are left out."""
        return cls(**{**{k: v for k, v in data.items() if k in _FIELDS}, "applied": tuple(data.get("applied", ())),
                      "left": tuple(data.get("left", ())), "listed": tuple(data.get("listed", ()))})  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The table value (every field is a str, number, bool, None or tuple of str: no deep copy needed)."""
        return {**{name: getattr(self, name) for name in _FIELDS}, "applied": list(self.applied),
                "listed": list(self.listed)}  # fmt: skip

    @property
    def load_key(self) -> str | None:
        return f"{self.provider_id}|{self.module_id}" if self.provider_id and self.module_id else None

    @property
    def status(self) -> str:
        """For the desk and the referrer: where the trajectory stands (an early start waits for its dispatch)."""
        if self.ending is not None:
            return self.ending
        if self.provider_id is None:
            return "on_waiting_list" if self.listed else "awaiting_dispatch"
        return "active" if self.started_at else "waiting"

    @property
    def membership(self) -> Membership:
        if self.load_key is None or self.ending is not None:
            return None
        return "active" if self.started_at else "waiting"

    @property
    def half_days_in_use(self) -> float | None:
        """The half-days per week it takes at its provider: known, and only while it runs."""
        return self.half_days_per_week if self.membership == "active" else None


_FIELDS = tuple(f.name for f in fields(TrajectoryState))
_FIELD_SET = frozenset(_FIELDS)


@dataclass(frozen=True)
class LoadChange:
    """Set trajectory `trajectory_id` to `membership` (None = not counted) in the row `load_key`, taking
    `half_days_per_week` there while active (None: not known, or not active)."""

    load_key: str
    trajectory_id: str
    membership: Membership
    event_id: str
    half_days_per_week: float | None = None


@dataclass(frozen=True)
class WaitMeasured:
    """Dispatch -> start waiting time of one trajectory, in days."""

    load_key: str
    trajectory_id: str
    school_year: str
    days: float


@dataclass(frozen=True)
class ListChange:
    """Trajectory `trajectory_id` joined (on_list) or left the waiting list of row `load_key`."""

    load_key: str
    trajectory_id: str
    on_list: bool


Effect = LoadChange | WaitMeasured | ListChange


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
    new = _replace(state, applied=(*state.applied, event_id))
    if event.event_type in WAITING_LIST_EVENTS:
        places = {f"{place.provider_id}|{place.module_id}" for place in payload.places}
        joined = event.event_type == "WaitingListJoined"
        listed = set(state.listed) | places if joined else set(state.listed) - places
        changed = listed ^ set(state.listed)
        new = _replace(new, listed=tuple(sorted(listed)))
        return new, [ListChange(key, new.trajectory_id, joined) for key in sorted(changed)]
    if event.event_type == "TrajectoryDispatched":
        new = _replace(new, provider_id=payload.provider_id, module_id=payload.module_id,
                      offer_type=payload.offer_type, dispatched_at=at)  # fmt: skip
    elif event.event_type == "TrajectoryCarriedOver":
        # It continues at the same provider from this moment: running at once, and no new waiting time.
        new = _replace(new, provider_id=payload.provider_id, module_id=payload.module_id,
                      offer_type=payload.offer_type, dispatched_at=at, started_at=at, wait_reported=True)  # fmt: skip
    elif event.event_type == "TrajectoryStarted":
        new = _replace(_with_half_days(new, payload.half_days_per_week, at), started_at=at)
    elif event.event_type == "TrajectoryProgressReported":
        new = _with_half_days(new, payload.half_days_per_week, at)
    else:
        new = _replace(new, ended_at=at, ending=ENDINGS[event.event_type])

    effects: list[Effect] = []
    before, after = (state.load_key, state.membership, state.half_days_in_use), (new.load_key, new.membership,
                                                                                  new.half_days_in_use)  # fmt: skip
    if before != after:
        if state.load_key and state.load_key != new.load_key:
            effects.append(LoadChange(state.load_key, new.trajectory_id, None, event_id))
            new = _replace(new, left=(*new.left, state.load_key))
        if new.load_key:
            effects.append(LoadChange(new.load_key, new.trajectory_id, new.membership, event_id,
                                      new.half_days_in_use))  # fmt: skip
            new = _replace(new, left=tuple(key for key in new.left if key != new.load_key))
    if new.load_key and new.dispatched_at and new.started_at and not new.wait_reported:
        days = (datetime.fromisoformat(new.started_at) - datetime.fromisoformat(new.dispatched_at)).total_seconds()
        wait = WaitMeasured(new.load_key, new.trajectory_id, event.school_year, max(0.0, days / 86400))
        effects.append(wait)
        new = _replace(new, wait_reported=True, wait_key=wait.load_key, wait_school_year=wait.school_year,
                      wait_days=wait.days)  # fmt: skip
    return new, effects


def standing_effects(state: TrajectoryState, event_id: str) -> list[Effect]:
    """Everything `state` stands for in the provider-load rows, as effects: out of the rows it left, its membership
    in its row, its waiting time. Applying them again changes nothing (the rows are sets), so they can be re-sent."""
    effects: list[Effect] = [LoadChange(key, state.trajectory_id, None, event_id) for key in state.left]
    effects.extend(ListChange(key, state.trajectory_id, True) for key in state.listed)
    if state.load_key:
        effects.append(LoadChange(state.load_key, state.trajectory_id, state.membership, event_id,
                                  state.half_days_in_use))  # fmt: skip
    if state.wait_key and state.wait_school_year and state.wait_days is not None:
        effects.append(WaitMeasured(state.wait_key, state.trajectory_id, state.wait_school_year, state.wait_days))
    return effects


def _replace(state: TrajectoryState, **changes: Any) -> TrajectoryState:
    """`dataclasses.replace(state, **changes)` without its per-call field introspection and `__init__` (a fold
    replaces a state three times per event): a copy of the frozen instance's fields, with `changes` set."""
    unknown = changes.keys() - _FIELD_SET
    if unknown:
        raise TypeError(f"TrajectoryState has no field {sorted(unknown)}")
    new = object.__new__(TrajectoryState)
    new.__dict__.update(state.__dict__)
    new.__dict__.update(changes)
    return new


def _with_half_days(state: TrajectoryState, half_days: float | None, at: str) -> TrajectoryState:
    """The state with the half-days per week given at `at`, unless none was given or a later value is known."""
    if half_days is None or (state.half_days_at is not None
                             and datetime.fromisoformat(state.half_days_at) > datetime.fromisoformat(at)):
        return state
    return _replace(state, half_days_per_week=half_days, half_days_at=at)
