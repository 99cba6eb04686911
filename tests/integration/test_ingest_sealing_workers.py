"""The ingest's sealing workers (services/ingest/sealing.py) do not outlive it: an ingest killed with SIGKILL (what
the supervision drill does) leaves no worker behind, holding the pupil vault's file and the memory of a platform that
is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from kans.paths import REPO_ROOT
from tests.conftest import wait_for

PROGRAM = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from services.ingest.sealing import SealingPool
    pool = SealingPool(Path(sys.argv[1]), b"s" * 32, processes=2)
    pool.start()
    time.sleep(3600)
    """
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_sealing_workers_exit_when_the_ingest_is_killed(tmp_path: Path) -> None:
    ingest = subprocess.Popen([sys.executable, "-c", PROGRAM, str(tmp_path / "vault.sqlite")], cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    try:
        # Two workers (and multiprocessing's resource tracker) started by the pool.
        wait_for(lambda: len(_children(ingest.pid)) >= 3, timeout_s=60, what="the sealing workers started")
        workers = _children(ingest.pid)
        assert all(_alive(pid) for pid in workers)
        os.kill(ingest.pid, signal.SIGKILL)
        ingest.wait(timeout=10)
        wait_for(lambda: not any(_alive(pid) for pid in workers), timeout_s=20, what="the killed ingest's workers gone")
    finally:
        if ingest.poll() is None:
            ingest.kill()
