"""`kans bench-live`'s replay starts a replay worker again when it exited (kans/bench_live.py `restart_exited`), as
supervisord and compose's restart policy do for the platform's workers."""

from __future__ import annotations

from kans.bench_live import restart_exited


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
