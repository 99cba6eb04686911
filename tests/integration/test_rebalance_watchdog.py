"""A faust worker held in a rebalance past KANS_FAUST_REBALANCE_EXIT_S exits with code 75, for its supervisor to start
it again (core/faust_apps.py): real projections workers on the suite's broker. The rebalance is held the way a hung
member holds one: a first worker is stopped (SIGSTOP) and a second joins; the broker waits for the stopped one until
its session times out, 60 s for this one (KANS_FAUST_SESSION_TIMEOUT_S), so however long the second takes to start
under load, its join meets the hung member."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.faust_apps import REBALANCE_EXIT_CODE
from core.settings import Settings
from kans.paths import REPO_ROOT
from kans.processes import free_port, settings_env
from tests.conftest import wait_for


def _worker(settings: Settings, port: int, limit_s: float, log: Path, session_s: float = 10) -> subprocess.Popen[bytes]:
    env = {**settings_env(settings), "KANS_PROJECTIONS_PORT": str(port), "KANS_FAUST_REBALANCE_EXIT_S": str(limit_s),
           "KANS_FAUST_SESSION_TIMEOUT_S": str(session_s)}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "kans.cli", "serve", "projections"], cwd=REPO_ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_worker_held_in_a_rebalance_exits_with_75_and_one_that_is_not_stays(settings: Settings,
                                                                               tmp_path: Path) -> None:  # fmt: skip
    first_port, second_port = free_port(), free_port()
    # No watchdog on the first: it is the one that hangs, and its session outlasts the second's bound many times.
    first = _worker(settings, first_port, 0, tmp_path / "first.log", session_s=60)
    second = None
    try:
        wait_for(lambda: _ready(first_port), timeout_s=90, what="the first worker ready")
        # Alone, the second worker's rebalance ends well within its bound: it becomes ready and stays up.
        second = _worker(settings, second_port, 4, tmp_path / "second.log")
        wait_for(lambda: _ready(second_port) and _ready(first_port), timeout_s=90, what="both workers ready")
        time.sleep(6)  # past its bound, ready all along: the watchdog counts a rebalance, not the time since start
        assert second.poll() is None and _ready(second_port)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        # Now the first worker hangs and the second joins again: the group waits for the hung member's session to
        # time out (60 s), far longer than the second worker's 4 s bound.
        os.killpg(first.pid, signal.SIGSTOP)
        began = time.monotonic()
        second = _worker(settings, second_port, 4, tmp_path / "second.log")
        code = second.wait(timeout=60)
        took = time.monotonic() - began
        assert code == REBALANCE_EXIT_CODE, (tmp_path / "second.log").read_text()[-3000:]
        assert 4 < took < 55  # its start (seconds under load) and its bound, before the hung member's session ends
        said = (tmp_path / "second.log").read_text()
        assert "has been rebalancing for" in said and "KANS_FAUST_REBALANCE_EXIT_S=4" in said
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
