"""`kans bench-live`'s replay starts a replay worker again when it exited (kans/bench_live.py `restart_exited`), as
supervisord and compose's restart policy do for the platform's workers, and when it hangs (`StallWatch`)."""

from __future__ import annotations

from kans.bench_live import StallWatch, restart_exited


class Proc:
    def __init__(self, code: int | None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


def test_only_the_workers_that_exited_are_started_again_and_counted() -> None:
    procs = {6001: Proc(None), 6002: Proc(1), 6003: Proc(-9)}
    launched: list[int] = []

    def launch(port: int) -> None:
        launched.append(port)
        procs[port] = Proc(None)

    assert restart_exited(procs, launch) == 2 and launched == [6002, 6003]
    assert restart_exited(procs, launch) == 0 and launched == [6002, 6003]  # running again: left alone


def test_a_worker_is_stalled_only_after_the_same_answer_for_longer_than_the_limit_while_not_caught_up() -> None:
    watch = StallWatch(120)
    lagging = (503, {"events": 500}, {"events": []})
    assert not watch.stalled(1, False, lagging, 0.0)
    assert not watch.stalled(1, False, lagging, 120.0)  # 120 s is not over 120 s
    assert watch.stalled(1, False, lagging, 121.0)
    assert not watch.stalled(2, False, None, 0.0) and watch.stalled(2, False, None, 200.0)  # silent all along


def test_progress_or_being_caught_up_starts_the_count_again_and_a_restarted_worker_is_new() -> None:
    watch = StallWatch(120)
    watch.stalled(1, False, (200, {"events": 500}), 0.0)
    assert not watch.stalled(1, False, (200, {"events": 400}), 100.0)  # it moved
    assert not watch.stalled(1, False, (200, {"events": 400}), 200.0)  # 100 s since it moved
    assert not watch.stalled(1, True, (200, {"events": 0}), 500.0)  # caught up: never stalled
    assert not watch.stalled(1, True, (200, {"events": 0}), 900.0)
    watch.stalled(3, False, None, 0.0)
    watch.forget(3)
    assert not watch.stalled(3, False, None, 500.0)  # started again: its time counts from now
