"""The rule behind the faust workers' rebalance watchdog (core/faust_apps.py): how long one rebalance has lasted."""

from __future__ import annotations

from typing import Any

from core.faust_apps import RebalanceClock


def test_a_rebalance_over_the_limit_is_reported_with_how_long_it_lasted() -> None:
    clock = RebalanceClock(10)
    assert [clock.observe(True, t) for t in (100.0, 105.0, 110.0)] == [None, None, None]  # 10 s is not over 10 s
    assert clock.observe(True, 110.5) == 10.5


def test_a_break_in_the_rebalance_starts_the_count_again() -> None:
    clock = RebalanceClock(10)
    clock.observe(True, 0.0)
    assert clock.observe(False, 9.0) is None
    assert clock.observe(True, 9.5) is None
    assert clock.observe(True, 19.0) is None  # 9.5 s of the new rebalance, not 19 s of the first
    assert abs((clock.observe(True, 19.6) or 0) - 10.1) < 1e-9


def test_a_worker_that_is_not_rebalancing_is_never_reported_and_zero_turns_it_off() -> None:
    assert all(RebalanceClock(10).observe(False, t) is None for t in range(0, 1000, 50))
    off = RebalanceClock(0)
    assert [off.observe(True, t) for t in (0.0, 1e6)] == [None, None]


def test_a_recovery_that_reads_on_is_progress_and_one_that_stops_is_not() -> None:
    clock = RebalanceClock(10)
    times, restored = (0.0, 8.0, 16.0, 24.0, 30.0, 34.5), (0, 5_000, 12_000, 20_000, 20_000, 20_000)
    seen = [clock.observe(True, t, offsets) for t, offsets in zip(times, restored, strict=True)]
    assert seen[:5] == [None] * 5  # 30 s in one rebalance, but the offsets moved until 24 s
    assert seen[5] == 10.5  # stuck since 24 s


def test_recovery_progress_counts_the_offsets_read_and_survives_a_partition_that_read_none_yet() -> None:
    from types import SimpleNamespace

    from core.faust_apps import recovery_progress

    def app(offsets: dict[str, int | None]) -> Any:
        return SimpleNamespace(tables=SimpleNamespace(recovery=SimpleNamespace(active_offsets=offsets)))

    assert recovery_progress(app({"a": 3, "b": 4})) == 7
    assert recovery_progress(app({"a": 3, "b": None})) == 3  # raised TypeError, which ended the watchdog's thread
    assert recovery_progress(SimpleNamespace(tables=SimpleNamespace())) is not recovery_progress(
        SimpleNamespace(tables=SimpleNamespace()))  # no recovery to read: counts as progress  # fmt: skip
