"""The event -> load-change translation (`services/projections/load_changes.py`), without Kafka."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from schemas.projections import MembershipChanged, ModuleCapacityChanged, ModuleOfferingChanged, WaitingTimeMeasured
from schemas.registry import SUBMISSION_ADAPTER, example_submission, seal
from services.projections import provider_load as rows
from services.projections.load_changes import Translation, trajectory_id_of, translate
from services.projections.trajectory_state import TrajectoryState
from tests.factories import capacity, dispatch, start

ROW = "tigo|day"
T0 = datetime(2025, 10, 1, 9, tzinfo=UTC)


def sealed(submission: dict[str, Any]) -> Any:
    return seal(SUBMISSION_ADAPTER.validate_python(submission), T0)


def provider_fact(event_type: str, **payload: Any) -> Any:
    data = example_submission(event_type)
    data["payload"].update(payload)
    return sealed(data)


DISPATCH = sealed(dispatch("R-1", "T-1", "tigo", "day", occurred="2025-10-01T09:00:00+02:00"))
START = sealed(start("R-1", "T-1", occurred="2025-10-04T21:00:00+02:00"))


def fold(*events: Any) -> tuple[TrajectoryState | None, list[Translation]]:
    state, outcomes = None, []
    for event in events:
        outcome = translate(event, state)
        outcomes.append(outcome)
        state = outcome.state or state
    return state, outcomes


def test_dispatch_then_start_become_membership_changes_and_one_waiting_time() -> None:
    state, (dispatched, started) = fold(DISPATCH, START)
    assert dispatched.changes == ((ROW, MembershipChanged(trajectory_id="T-1", membership="waiting")),)
    assert started.changes == (
        (ROW, MembershipChanged(trajectory_id="T-1", membership="active", half_days_per_week=2.0)),
        (ROW, WaitingTimeMeasured(trajectory_id="T-1", school_year="2025-2026", days=3.5)),
    )
    assert state is not None and state.status == "active" and len(state.applied) == 2


def test_a_duplicate_stores_nothing_and_sends_again_what_the_state_stands_for() -> None:
    """What a replay sends changes no row (sets), but restores a change lost in a crash after the state was saved."""
    state, (_, started) = fold(DISPATCH, START)
    again = translate(START, state)
    assert again == translate(DISPATCH, state) == Translation(changes=started.changes)
    row = rows.empty_row(ROW)
    for _, change in started.changes:
        row = rows.apply_change(row, change)
    replayed = row
    for _, change in again.changes:
        replayed = rows.apply_change(replayed, change)
    assert replayed == row


def test_a_replay_after_a_move_takes_the_trajectory_out_of_the_row_it_left_again() -> None:
    moved = sealed({**dispatch("R-1", "T-1", "elders", "day"), "source_ref": "dispatch:T-1:again"})
    state, _ = fold(DISPATCH, START, moved)
    assert state is not None and state.left == (ROW,)
    assert translate(moved, state).changes == (
        (ROW, MembershipChanged(trajectory_id="T-1", membership=None)),
        ("elders|day", MembershipChanged(trajectory_id="T-1", membership="active", half_days_per_week=2.0)),
        (ROW, WaitingTimeMeasured(trajectory_id="T-1", school_year="2025-2026", days=3.5)),
    )
    back = sealed({**dispatch("R-1", "T-1", "tigo", "day"), "source_ref": "dispatch:T-1:back"})
    state, _ = fold(DISPATCH, START, moved, back)
    assert state is not None and state.left == ("elders|day",) and state.load_key == ROW


def test_a_redispatch_leaves_the_old_row_and_joins_the_new_one() -> None:
    moved = sealed({**dispatch("R-1", "T-1", "elders", "day"), "source_ref": "dispatch:T-1:again"})
    _, (_, outcome) = fold(DISPATCH, moved)
    assert outcome.changes == (
        (ROW, MembershipChanged(trajectory_id="T-1", membership=None)),
        ("elders|day", MembershipChanged(trajectory_id="T-1", membership="waiting")),
    )


def test_provider_facts_change_their_row_and_store_no_trajectory() -> None:
    cap = sealed(capacity("tigo", "day", 12, "2025-09-01"))
    withdrawn = provider_fact("ModuleWithdrawn", provider_id="tigo", module_id="day", valid_from="2026-01-01")
    offered = provider_fact("ModuleOffered", provider_id="tigo", module_id="day", valid_from="2026-02-01")
    assert [translate(e, None) for e in (cap, withdrawn, offered)] == [
        Translation(changes=((ROW, ModuleCapacityChanged(valid_from=date(2025, 9, 1), capacity=12)),)),
        Translation(changes=((ROW, ModuleOfferingChanged(valid_from=date(2026, 1, 1), offered=False)),)),
        Translation(changes=((ROW, ModuleOfferingChanged(valid_from=date(2026, 2, 1), offered=True)),)),
    ]
    assert trajectory_id_of(cap) is None and trajectory_id_of(START) == "T-1"


def test_an_event_that_touches_no_load_changes_nothing() -> None:
    referral = sealed(example_submission("ReferralSubmitted", 1))
    assert translate(referral, None) == Translation()


def progress(half_days: float, occurred: str, ref: str) -> Any:
    data = example_submission("TrajectoryProgressReported")
    data["payload"].update(trajectory_id="T-1", referral_id="R-1", half_days_per_week=half_days)
    return sealed({**data, "occurred_at": occurred, "source_ref": ref})


def test_half_days_in_use_follow_the_latest_report_while_the_trajectory_runs() -> None:
    """A progress report before the dispatch is kept (no row yet); the start's half-days count once it runs; a later
    report changes them; an older report arriving late does not; the end takes them out with the trajectory."""
    early = progress(1, "2025-10-01T10:00:00+02:00", "progress:early")
    state, (first, _, started) = fold(early, DISPATCH, START)
    assert first.changes == () and first.state is not None and first.state.half_days_per_week == 1
    assert started.changes[0] == (ROW, MembershipChanged(trajectory_id="T-1", membership="active",
                                                         half_days_per_week=2.0))  # fmt: skip
    assert state is not None
    more = translate(progress(4, "2025-11-01T10:00:00+01:00", "progress:later"), state)
    assert more.changes == ((ROW, MembershipChanged(trajectory_id="T-1", membership="active",
                                                    half_days_per_week=4.0)),)  # fmt: skip
    assert more.state is not None
    stale = translate(progress(3, "2025-10-20T10:00:00+02:00", "progress:stale"), more.state)
    assert stale.changes == () and stale.state is not None and stale.state.half_days_per_week == 4.0
    row = rows.empty_row(ROW)
    for outcome in (started, more):
        for _, change in outcome.changes:
            row = rows.apply_change(row, change)
    view = rows.load_view(row, date(2025, 11, 2))
    assert (view["active"], view["half_days_in_use"], view["half_days_unknown"]) == (1, 4.0, 0)
    row = rows.apply_change(row, MembershipChanged(trajectory_id="T-1", membership=None))
    assert rows.load_view(row, date(2025, 12, 1))["half_days_in_use"] == 0
