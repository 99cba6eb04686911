"""`kans up` keeps its services running (supervisord, infra/supervisor/supervisord.conf), run here as a developer runs
it (`kans up --no-demo`, on the suite's broker, with this module's own settings): a service killed with SIGKILL is
started again and ready within a bound; SIGTERM stops every process it started; a service that cannot start gives
up after its retries, with a message naming it, and takes the platform down (exit code 1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from core.topics import ensure_topics
from kans.paths import REPO_ROOT
from kans.processes import isolated_settings, settings_env
from kans.supervision import SERVICES, Supervisor
from tests.conftest import wait_for

START_BOUND_S = 180.0  # the whole platform, from `kans up` to every /ready answering 200
RECOVERY_BOUND_S = 90.0  # from SIGKILL to the service's /ready answering 200 again (a new process)
STOP_BOUND_S = 120.0


class Up:
    """`kans up --no-demo` as a process, its output in `log`; its services asked through supervisord's socket."""

    def __init__(self, settings: Settings, log: Path, env: dict[str, str] | None = None) -> None:
        self.settings, self.log = settings, log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kans.cli", "up", "--no-demo"], cwd=REPO_ROOT,
            env={**settings_env(settings), "PYTHONUNBUFFERED": "1", **(env or {})}, stdout=log.open("ab"),
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.supervisor = Supervisor(settings.data_dir / "supervisor", {})

    def ready_url(self, name: str) -> str:
        base = {"ingest": self.settings.ingest_base_url, "api": self.settings.api_base_url,
                "projections": self.settings.projections_base_url, "inbound": self.settings.inbound_base_url,
                "dispatch": self.settings.dispatch_base_url, "live": self.settings.live_base_url,
                "projections-2": f"http://{self.settings.projections_host}:{self.settings.projections_port + 10}",
                }[name]  # fmt: skip
        return f"{base}/ready"

    def ready(self, name: str) -> bool:
        try:
            return httpx.get(self.ready_url(name), timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def leftovers(self) -> list[int]:
        """Processes still running with this platform's settings (its topic prefix) in their environment."""
        marker = f"KANS_TOPIC_PREFIX={self.settings.topic_prefix}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        found.append(int(entry.name))
                except OSError:
                    pass
        return found

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            for pid in self.leftovers():
                os.kill(pid, signal.SIGKILL)
            raise


def start_up(tmp: Path, kafka_bootstrap: str, env: dict[str, str] | None = None, **overrides: object) -> Up:
    settings = isolated_settings(tmp / "data", kafka_bootstrap, log_level="WARNING").model_copy(update=overrides)
    ensure_topics(settings)
    return Up(settings, tmp / "up.log", env)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Up]:
    platform = start_up(tmp_path_factory.mktemp("up"), kafka_bootstrap)
    try:
        wait_for(lambda: platform.proc.poll() is None and all(platform.ready(name) for name in SERVICES),
                 timeout_s=START_BOUND_S, interval_s=0.5, what="every service of `kans up` ready")  # fmt: skip
        yield platform
    except AssertionError:
        print(platform.output()[-5000:])
        raise
    finally:
        if platform.proc.poll() is None:
            platform.terminate()


@pytest.mark.parametrize("name", ["projections", "dispatch", "api", "ingest", "inbound", "live"])
def test_a_service_killed_with_sigkill_is_started_again_and_ready_within_a_bound(up: Up, name: str) -> None:
    killed = up.supervisor.pid(name)
    assert killed is not None and up.ready(name)
    began = time.monotonic()
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: (pid := up.supervisor.pid(name)) is not None and pid != killed and up.ready(name),
             timeout_s=RECOVERY_BOUND_S, interval_s=0.2, what=f"{name} started again and ready")  # fmt: skip
    print(f"\n{name}: killed with SIGKILL, ready again after {time.monotonic() - began:.1f} s")
    assert up.proc.poll() is None, "kans up kept running"
    # The other projections worker gives partitions back (a rebalance) when its peer returns: ready again soon after.
    wait_for(lambda: all(up.ready(other) for other in SERVICES), timeout_s=60, what="every service ready")


def test_sigterm_stops_every_process_of_the_platform(up: Up) -> None:
    started = up.leftovers()
    assert len(started) >= len(SERVICES) + 2  # kans up, supervisord, the listener and the services
    began = time.monotonic()
    assert up.terminate() == 0
    print(f"\nSIGTERM to kans up: every process gone after {time.monotonic() - began:.1f} s")
    assert up.leftovers() == []
    assert not any(up.ready(name) for name in SERVICES)


def test_a_service_that_cannot_start_gives_up_with_a_clear_message_and_stops_the_platform(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    with socket.socket() as taken:  # the ingest's port, held: every start of the ingest fails within a second or two
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        began = time.monotonic()
        # One retry instead of the default five (KANS_START_RETRIES): the same give-up, in a third of the time. A
        # start counts as failed within 30 s instead of 10 (KANS_START_SECS): on a loaded machine (a fresh-clone run
        # of the suite) the ingest took more than 10 s to reach its port, so each failure counted as a started service
        # that exited later, and supervisord retried it forever.
        env = {"KANS_START_RETRIES": "1", "KANS_START_SECS": "30"}
        platform = start_up(tmp_path, kafka_bootstrap, env, ingest_port=taken.getsockname()[1])
        try:
            code = platform.proc.wait(timeout=240)
        finally:
            if platform.proc.poll() is None:
                platform.terminate()
    print(f"\ningest unable to start: kans up exited {code} after {time.monotonic() - began:.1f} s")
    output = platform.output()
    print(output[-2500:])
    assert code == 1, output[-3000:]
    assert ("kans: the ingest service gave up: it exited 2 times in a row, each time within 30 s of starting. Not "
            "restarting it again; stopping the platform.") in output
    assert "address already in use" in output  # why: the service's own output, in the same stream
    assert "stopping the platform" in output
    assert output.count("gave up: ingest entered FATAL state") == 1  # supervisord's own log line
    assert platform.leftovers() == []
