"""Pure projection rules: trajectory lifecycle -> provider-load changes, idempotent and order-tolerant."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.registry import SUBMISSION_ADAPTER, example_submission, seal
from services.projections import provider_load as rows
from services.projections import trajectory_state
from services.projections.trajectory_state import LoadChange, TrajectoryState, WaitMeasured, apply_event

T0 = datetime(2025, 10, 1, 9, tzinfo=UTC)


def event(event_type: str, ref: str, occurred: str, **payload: Any) -> Any:
    data = example_submission(event_type)
    data.update(source_ref=ref, occurred_at=occurred)
    data["payload"].update(payload)
    return seal(SUBMISSION_ADAPTER.validate_python(data), T0)


DISPATCH = event("TrajectoryDispatched", "d", "2025-10-01T09:00:00+02:00", provider_id="tigo", module_id="day")
START = event("TrajectoryStarted", "s", "2025-10-11T09:00:00+02:00")
CLOSE = event("TrajectoryClosed", "c", "2025-12-01T09:00:00+01:00")


def fold(*events: Any) -> tuple[Any, list[Any]]:
    state, effects = None, []
    for e in events:
        state, new = apply_event(state, e)
        effects.extend(new)
    return state, effects


def test_lifecycle_moves_trajectory_from_waiting_to_active_to_gone() -> None:
    state, effects = fold(DISPATCH, START, CLOSE)
    changes = [e.membership for e in effects if isinstance(e, LoadChange)]
    assert changes == ["waiting", "active", None]
    (wait,) = [e for e in effects if isinstance(e, WaitMeasured)]
    assert wait.days == 10 and wait.load_key == "tigo|day" and wait.school_year == "2025-2026"
    assert state.ending == "closed" and state.membership is None


def test_replayed_events_change_nothing() -> None:
    once_state, once_effects = fold(DISPATCH, START)
    twice_state, twice_effects = fold(DISPATCH, START, DISPATCH, START)
    assert twice_state == once_state and twice_effects == once_effects


def test_start_before_dispatch_converges_to_the_same_state() -> None:
    in_order, _ = fold(DISPATCH, START)
    out_of_order, effects = fold(START, DISPATCH)
    assert (out_of_order.membership, out_of_order.load_key) == (in_order.membership, in_order.load_key)
    assert [e.membership for e in effects if isinstance(e, LoadChange)] == ["active"]


def test_load_row_is_a_set_so_duplicates_do_not_count_twice() -> None:
    row = rows.empty_row("tigo|day")
    for _ in range(3):
        row = rows.set_membership(row, "T1", "active")
    row = rows.set_membership(row, "T2", "waiting")
    row = rows.set_capacity(row, "2025-09-01", 12)
    row = rows.set_capacity(row, "2026-01-01", 9)
    view = rows.load_view(row, date(2025, 12, 31))
    assert (view["active"], view["waiting"], view["capacity"], view["free"]) == (1, 1, 12, 11)
    assert rows.load_view(row, date(2026, 1, 1))["capacity"] == 9
    assert rows.load_view(row, date(2025, 8, 31))["capacity"] is None
    row = rows.set_membership(row, "T1", None)
    assert rows.load_view(row, date(2026, 1, 1))["active"] == 0


def test_waiting_view_median_and_p90() -> None:
    row = rows.empty_row("a|b")
    for i, days in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]):
        row = rows.record_wait(row, "2025-2026", f"T{i}", days)
    row = rows.record_wait(row, "2025-2026", "T0", 1)  # replay
    view = rows.waiting_view(row, "2025-2026")
    assert (view["started"], view["median_days"], view["p90_days"], view["max_days"]) == (10, 5.5, 9, 100)
    assert rows.waiting_view(row, "2024-2025")["median_days"] is None


def test_carried_over_trajectory_runs_on_at_its_provider_without_a_new_wait() -> None:
    carried = event("TrajectoryCarriedOver", "co", "2025-09-01T08:00:00+02:00", trajectory_id="T-NEXT",
                    previous_referral_id="R-PREV", previous_trajectory_id="T-PREV", to_school_year="2025-2026",
                    provider_id="tigo", module_id="day", offer_type="regular")  # fmt: skip
    state, effects = fold(carried)
    assert (state.trajectory_id, state.status, state.load_key) == ("T-NEXT", "active", "tigo|day")
    assert effects == [LoadChange("tigo|day", "T-NEXT", "active", str(carried.event_id))]


def test_withdrawn_module_is_no_longer_offered_from_its_date() -> None:
    row = rows.set_capacity(rows.empty_row("abrusco|corona"), "2020-03-16", 20)
    row = rows.set_offered(row, "2020-03-16", True)
    row = rows.set_offered(row, "2020-09-01", False)
    assert rows.load_view(row, date(2020, 6, 1))["offered"] is True
    assert rows.load_view(row, date(2020, 9, 1))["offered"] is False
    assert rows.load_view(rows.empty_row("a|b"), date(2020, 9, 1))["offered"] is True  # no catalogue fact yet


def test_the_dispatch_services_waiting_list_counts_in_the_load_rows_until_it_is_left() -> None:
    """A trajectory waits at both full providers; it leaves both when it is dispatched by the desk (the leave comes
    after the dispatch in the log) and counts as dispatched-not-started only where it went."""
    both = [{"provider_id": provider, "module_id": "individual"} for provider in ("groep-intro", "abrusco")]
    joined = event("WaitingListJoined", "j", "2025-10-06T09:00:00+02:00", places=both)
    dispatched = event("TrajectoryDispatched", "d2", "2025-10-20T09:00:00+02:00", provider_id="abrusco",
                       module_id="individual", proposal_id=None, overridden=None, override_reason=None)  # fmt: skip
    left = event("WaitingListLeft", "l", "2025-10-20T09:00:00+02:00", places=both, reason="dispatched_by_desk",
                 proposal_id=None, left_on="2025-10-20")  # fmt: skip
    state, effects = fold(joined)
    assert state.status == "on_waiting_list" and state.membership is None
    assert [(e.load_key, e.on_list) for e in effects] == [
        ("abrusco|individual", True), ("groep-intro|individual", True)]  # fmt: skip
    assert fold(joined, joined)[1] == effects  # a duplicate changes nothing
    state, effects = fold(joined, dispatched, left)
    table: dict[str, dict[str, Any]] = {}
    for effect in effects:
        row = table.get(effect.load_key) or rows.empty_row(effect.load_key)
        if isinstance(effect, LoadChange):
            table[effect.load_key] = rows.set_membership(row, effect.trajectory_id, effect.membership)
        else:
            table[effect.load_key] = rows.set_on_waiting_list(row, effect.trajectory_id, effect.on_list)
    view = {key: rows.load_view(row, date(2025, 10, 21)) for key, row in table.items()}
    assert {key: (v["waiting"], v["waiting_list"]) for key, v in view.items()} == {
        "abrusco|individual": (1, 0), "groep-intro|individual": (0, 0)}  # fmt: skip
    assert state.status == "waiting" and state.listed == ()
    # Before the leave, both rows count the trajectory on their waiting list.
    _, early = fold(joined)
    listed = {e.load_key: rows.load_view(rows.set_on_waiting_list(rows.empty_row(e.load_key), e.trajectory_id, True),
                                         date(2025, 10, 7))["waiting_list"] for e in early}  # fmt: skip
    assert listed == {"abrusco|individual": 1, "groep-intro|individual": 1}


def test_not_started_before_any_dispatch_ends_the_trajectory_without_load_and_a_late_dispatch_counts_none() -> None:
    """A trajectory agreed at a round table and withdrawn before any dispatch (issue 14): no row of the provider load
    is touched, its status says not started, and a dispatch that still arrives later does not make it count."""
    not_started = event("TrajectoryNotStarted", "n", "2025-09-30T09:00:00+02:00")
    state, effects = fold(not_started)
    assert effects == [] and state.status == "not_started" and state.membership is None
    state, effects = fold(not_started, DISPATCH)
    assert state.status == "not_started" and state.membership is None
    assert [e.membership for e in effects if isinstance(e, LoadChange)] == [None]


def test_a_state_replaced_in_place_of_dataclasses_replace_is_the_same_state() -> None:
    state = TrajectoryState(trajectory_id="T-1", referral_id="R-1", provider_id="P-1", applied=("e1",))
    changed = trajectory_state._replace(state, module_id="M-1", applied=("e1", "e2"), wait_days=3.5)
    assert changed == dataclasses.replace(state, module_id="M-1", applied=("e1", "e2"), wait_days=3.5)
    assert changed is not state and state.module_id is None and state.applied == ("e1",)  # the original unchanged
    assert hash(changed) == hash(dataclasses.replace(changed))
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.module_id = "M-2"  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        trajectory_state._replace(state, modul_id="M-1")
