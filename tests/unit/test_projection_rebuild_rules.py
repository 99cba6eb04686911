"""The pure parts of the bulk rebuild (services/projections/rebuild.py): the partitions' split between processes, and
the fold of one share of the log, which must leave what the worker's agent would."""

from __future__ import annotations

import pytest

from core.dead_letters import BadRecord
from services.projections import provider_load as rows
from services.projections.rebuild import Fold, Stall, shares
from tests.event_log import poison, recompute_trajectories, replay_log, valid_events


def test_the_partitions_are_split_between_the_processes_none_left_empty() -> None:
    assert shares(range(6), 2) == [[0, 2, 4], [1, 3, 5]]
    assert shares([5, 1, 3], 1) == [[1, 3, 5]]
    assert shares(range(2), 4) == [[0], [1]]  # more processes than partitions: one each


def test_a_share_folds_to_the_states_and_row_changes_the_agent_would_make() -> None:
    records = valid_events("F", 40)
    values = [value for _, value in records] + [value for _, value in records[:10]]  # duplicates too
    fold = Fold()
    for offset, value in enumerate(values):
        fold.take(3, offset, None, None, value)
    fold.take(3, len(values), None, *poison("not_json", 1))
    assert fold.events == len(values)
    bad = [(partition, offset, reason.reason) for partition, offset, _, _, _, reason in fold.bad]
    assert bad == [(3, len(values), "not_json")]
    assert all(isinstance(bad, BadRecord) for *_, bad in fold.bad)
    expected = recompute_trajectories(values)
    assert {key.decode(): state for key, (state, _) in fold.states.items()} == expected
    assert {partition for _, partition in fold.states.values()} == {3}
    # Applied row by row, in order, the changes give the rows the log gives.
    table = {}
    for row, changes in fold.changes.items():
        current = rows.empty_row(row)
        for change in changes:
            current = rows.apply_change(current, change)
        table[row] = current
    assert table == replay_log(values)[1]


def test_a_share_that_reads_nothing_for_too_long_fails() -> None:
    now = [0.0]
    stall = Stall("partitions [0] of events", limit_s=120, clock=lambda: now[0])
    stall.polled(False)  # the first poll starts the clock
    for now[0] in (60.0, 119.0):
        stall.polled(False)
    stall.polled(True)  # records: the clock starts again
    now[0] = 200.0
    stall.polled(False)
    now[0] = 321.0
    with pytest.raises(TimeoutError, match=r"nothing read from partitions \[0\] of events for 120 s"):
        stall.polled(False)
