"""Pure rules for the provider-load row (one per provider and module): who is active or waiting, the capacity
in force, and the dispatch -> start waiting times. Every update is a set operation, so replays are harmless."""

from __future__ import annotations

import statistics
from datetime import date
from typing import Any

from schemas.projections import (
    MembershipChanged,
    ModuleCapacityChanged,
    ModuleOfferingChanged,
    OneChange,
    WaitingListChanged,
    WaitingTimeMeasured,
)


def empty_row(load_key: str) -> dict[str, Any]:
    provider_id, _, module_id = load_key.partition("|")
    return {"provider_id": provider_id, "module_id": module_id, "active": [], "waiting": [],
            "capacities": {}, "waits": {}}  # fmt: skip


def set_membership(row: dict[str, Any], trajectory_id: str, membership: str | None,
                   half_days: float | None = None) -> dict[str, Any]:  # fmt: skip
    """`half_days`: the half-days per week the trajectory takes while active (kept only then, and only if known)."""
    active = set(row["active"]) - {trajectory_id}
    waiting = set(row["waiting"]) - {trajectory_id}
    in_use = {k: v for k, v in row.get("half_days", {}).items() if k != trajectory_id}
    if membership == "active":
        active.add(trajectory_id)
        if half_days is not None:
            in_use[trajectory_id] = half_days
    elif membership == "waiting":
        waiting.add(trajectory_id)
    return {**row, "active": sorted(active), "waiting": sorted(waiting), "half_days": in_use}


def set_on_waiting_list(row: dict[str, Any], trajectory_id: str, on_list: bool) -> dict[str, Any]:
    """The dispatch service's waiting list of the row (a set: joining or leaving twice changes nothing)."""
    listed = set(row.get("waiting_list", ())) - {trajectory_id}
    if on_list:
        listed.add(trajectory_id)
    return {**row, "waiting_list": sorted(listed)}


def set_capacity(row: dict[str, Any], valid_from: str, capacity: int) -> dict[str, Any]:
    return {**row, "capacities": {**row["capacities"], valid_from: capacity}}


def set_offered(row: dict[str, Any], valid_from: str, offered: bool) -> dict[str, Any]:
    return {**row, "offered": {**row.get("offered", {}), valid_from: offered}}


def _in_force(by_date: dict[str, Any], day: date) -> Any:
    """The value whose date key is the latest on or before `day`, else None."""
    dates = [d for d in by_date if date.fromisoformat(d) <= day]
    return by_date[max(dates)] if dates else None


def offered_on(row: dict[str, Any], day: date) -> bool:
    """A module counts as offered unless a withdrawal is in force (catalogue facts may come later than load)."""
    state = _in_force(row.get("offered", {}), day)
    return True if state is None else bool(state)


def record_wait(row: dict[str, Any], school_year: str, trajectory_id: str, days: float) -> dict[str, Any]:
    year = {**row["waits"].get(school_year, {}), trajectory_id: round(days, 3)}
    return {**row, "waits": {**row["waits"], school_year: year}}


def apply_change(row: dict[str, Any], change: OneChange) -> dict[str, Any]:
    """The row with one load-change message applied (the message's kind says which update)."""
    if isinstance(change, MembershipChanged):
        return set_membership(row, change.trajectory_id, change.membership, change.half_days_per_week)
    if isinstance(change, ModuleCapacityChanged):
        return set_capacity(row, change.valid_from.isoformat(), change.capacity)
    if isinstance(change, ModuleOfferingChanged):
        return set_offered(row, change.valid_from.isoformat(), change.offered)
    if isinstance(change, WaitingListChanged):
        return set_on_waiting_list(row, change.trajectory_id, change.on_list)
    assert isinstance(change, WaitingTimeMeasured)
    return record_wait(row, change.school_year, change.trajectory_id, change.days)


def capacity_on(row: dict[str, Any], day: date) -> int | None:
    """The capacity whose valid_from is the latest on or before `day`."""
    return _in_force(row["capacities"], day)  # type: ignore[no-any-return]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def load_view(row: dict[str, Any], today: date) -> dict[str, Any]:
    capacity = capacity_on(row, today)
    active = len(row["active"])
    in_use = row.get("half_days", {})
    return {
        "provider_id": row["provider_id"],
        "module_id": row["module_id"],
        "active": active,
        "half_days_in_use": round(sum(in_use.values()), 1),
        "half_days_unknown": active - len(in_use),
        "waiting": len(row["waiting"]),
        "waiting_list": len(row.get("waiting_list", ())),
        "capacity": capacity,
        "free": None if capacity is None else capacity - active,
        "load_pct": None if not capacity else round(100 * active / capacity, 1),
        "offered": offered_on(row, today),
    }


def waiting_view(row: dict[str, Any], school_year: str) -> dict[str, Any]:
    days = list(row["waits"].get(school_year, {}).values())
    return {
        "provider_id": row["provider_id"],
        "module_id": row["module_id"],
        "school_year": school_year,
        "started": len(days),
        "median_days": statistics.median(days) if days else None,
        "p90_days": percentile(days, 90),
        "max_days": max(days) if days else None,
    }
