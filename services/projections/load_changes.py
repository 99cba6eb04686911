"""Pure rule: what one event changes in the provider-load rows, as load-change messages keyed by provider|module.

The event log is keyed by referral (or provider) while load is counted per provider and module, so every event
is translated into the changes of the rows it touches. A provider fact becomes a change of its row directly; a
trajectory event is folded into the trajectory's stored state first (`trajectory_state.apply_event`), and what
the fold reports becomes membership and waiting-time changes. A duplicate or replayed event changes no state; it
sends again what the trajectory's state stands for (`standing_effects`), which changes no row either, but restores
a change that a crash lost after the state that records the event was saved (the table's changelog and the
load-changes topic are written by one producer, but not atomically).
`read_load_change` reads a record of the internal topic back, as strictly as any record of the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.dead_letters import BadRecord, read_record
from schemas.envelope import Envelope
from schemas.projections import (
    LoadChangeMessage,
    MembershipChanged,
    ModuleCapacityChanged,
    ModuleOfferingChanged,
    OneChange,
    WaitingListChanged,
    WaitingTimeMeasured,
    load_key,
    parse_load_change,
)
from services.projections.trajectory_state import (
    Effect,
    ListChange,
    LoadChange,
    TrajectoryState,
    apply_event,
    standing_effects,
)

KeyedChange = tuple[str, OneChange]  # (the row's key provider|module, the change)


@dataclass(frozen=True)
class Translation:
    """The trajectory's state to store (None: nothing to store) and the changes to send, in order."""

    state: TrajectoryState | None = None
    changes: tuple[KeyedChange, ...] = ()


def trajectory_id_of(event: Envelope) -> str | None:
    """The trajectory whose stored state `translate` needs for this event, if any."""
    return getattr(event.payload, "trajectory_id", None)


def translate(event: Envelope, stored: TrajectoryState | None) -> Translation:
    """The changes `event` makes, given the stored state of its trajectory (None: none yet, or no trajectory)."""
    p: Any = event.payload
    if event.event_type == "ProviderCapacitySet":
        change = ModuleCapacityChanged(valid_from=p.valid_from, capacity=p.capacity)
        return Translation(changes=((load_key(p.provider_id, p.module_id), change),))
    if event.event_type in ("ModuleOffered", "ModuleWithdrawn"):
        offering = ModuleOfferingChanged(valid_from=p.valid_from, offered=event.event_type == "ModuleOffered")
        return Translation(changes=((load_key(p.provider_id, p.module_id), offering),))
    if trajectory_id_of(event) is None:
        return Translation()
    if stored is not None and str(event.event_id) in stored.applied:  # replayed or duplicated: nothing to store
        return Translation(changes=tuple(_keyed(effect) for effect in standing_effects(stored, str(event.event_id))))
    state, effects = apply_event(stored, event)
    if state is None or state == stored:
        return Translation()  # a duplicate or replayed event: nothing changes
    return Translation(state, tuple(_keyed(effect) for effect in effects))


def read_load_change(key: bytes | None, value: bytes | None) -> LoadChangeMessage:
    """A record of the load-changes topic: its change, or BadRecord (the key must name a row: `provider|module`).
    Only this worker writes the topic, but what the broker hands over is read like any record."""
    try:
        text = None if key is None else key.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or text.count("|") != 1 or not all(text.split("|")):
        raise BadRecord("bad_key", "the key is not a provider-load row's `provider|module`")
    return read_record(value, parse_load_change)


def _keyed(effect: Effect) -> KeyedChange:
    if isinstance(effect, LoadChange):
        return effect.load_key, MembershipChanged(trajectory_id=effect.trajectory_id, membership=effect.membership,
                                                  half_days_per_week=effect.half_days_per_week)  # fmt: skip
    if isinstance(effect, ListChange):
        return effect.load_key, WaitingListChanged(trajectory_id=effect.trajectory_id, on_list=effect.on_list)
    wait = WaitingTimeMeasured(trajectory_id=effect.trajectory_id, school_year=effect.school_year, days=effect.days)
    return effect.load_key, wait
