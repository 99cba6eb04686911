"""The platform's services under supervisord (`infra/supervisor/supervisord.conf`): what `kans up` starts, and the
event listener that gives up for the platform when a service cannot be started.

`Supervisor` runs supervisord in the foreground of the calling process (its output, and the services', on the
caller's stdout unless redirected), asks it over its XML-RPC socket which service runs with which pid, and stops it.
`python -m kans.supervision` is the listener (supervisor's event-listener protocol on stdin/stdout): on
PROCESS_STATE_FATAL it writes why the service gave up to stderr and to `<run dir>/gave-up`, then shuts supervisord
down, which stops every service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xmlrpc.client
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from supervisor import childutils
from supervisor.xmlrpc import SupervisorTransport

from kans.paths import REPO_ROOT

CONFIG = REPO_ROOT / "infra" / "supervisor" / "supervisord.conf"
# CONFIG's programs, in start order
SERVICES = ("api", "live", "projections", "projections-2", "dispatch", "inbound", "ingest")
GAVE_UP = "gave-up"


def two_projections_ports(env: Mapping[str, str]) -> tuple[str, int, int]:
    """The projections workers' host and web ports: KANS_PROJECTIONS_PORT (6066) and KANS_PROJECTIONS_2_PORT (+10)."""
    host = env.get("KANS_PROJECTIONS_HOST") or "127.0.0.1"
    port = int(env.get("KANS_PROJECTIONS_PORT") or 6066)
    return host, port, int(env.get("KANS_PROJECTIONS_2_PORT") or port + 10)


def two_projection_workers(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of two projections workers (programs projections and projections-2, one consumer group, the
    partitions split between them) and of the API that asks both (KANS_PROJECTIONS_URLS), unless set."""
    host, port, second = two_projections_ports(env)
    urls = env.get("KANS_PROJECTIONS_URLS") or f"http://{host}:{port},http://{host}:{second}"
    return {"KANS_PROJECTIONS_2_PORT": str(second), "KANS_PROJECTIONS_URLS": urls}


def dashboard_reads_live(env: Mapping[str, str]) -> dict[str, str]:
    """The API's dashboard reads the live views from the live process (KANS_LIVE_PUBLIC_URL), which lets the
    dashboard's origin read it (KANS_LIVE_CORS_ORIGINS), unless set."""
    live = f"http://{env.get('KANS_LIVE_HOST') or '127.0.0.1'}:{env.get('KANS_LIVE_PORT') or 8002}"
    api_port = env.get("KANS_API_PORT") or "8000"
    return {"KANS_LIVE_PUBLIC_URL": env.get("KANS_LIVE_PUBLIC_URL") or live,
            "KANS_LIVE_CORS_ORIGINS": env.get("KANS_LIVE_CORS_ORIGINS")
            or f"http://127.0.0.1:{api_port},http://localhost:{api_port}"}  # fmt: skip


class Supervisor:
    """supervisord on CONFIG, its socket, pid file and log in `run_dir`, the services in `env` (KANS_* settings)."""

    def __init__(self, run_dir: Path, env: dict[str, str], output: IO[bytes] | None = None) -> None:
        self.run_dir = run_dir
        bin_dir = str(Path(sys.executable).parent)
        self.env = {"KANS_START_RETRIES": "5", "KANS_START_SECS": "10", **env, **two_projection_workers(env),
                    **dashboard_reads_live(env),
                    "KANS_SUPERVISOR_DIR": str(run_dir), "KANS_VENV_BIN": bin_dir,
                    "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}  # fmt: skip
        self.output = output
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / GAVE_UP).unlink(missing_ok=True)
        supervisord = str(Path(sys.executable).with_name("supervisord"))
        self.proc = subprocess.Popen(
            [supervisord, "-c", str(CONFIG)], cwd=REPO_ROOT, env=self.env, stdout=self.output,
            stderr=subprocess.STDOUT if self.output is not None else None,
        )  # fmt: skip

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rpc(self) -> Any:
        """supervisord's XML-RPC interface (`supervisor.getProcessInfo`, ...), over its unix socket."""
        transport = SupervisorTransport(None, None, f"unix://{self.run_dir / 'supervisor.sock'}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport)

    def pid(self, name: str) -> int | None:
        """The pid of service `name` while it runs (or is starting), else None."""
        info = self.rpc().supervisor.getProcessInfo(name)
        return int(info["pid"]) if info["statename"] in ("STARTING", "RUNNING") and info["pid"] else None

    def gave_up(self) -> str | None:
        """What the listener said when a service could not be started (None: no service gave up)."""
        path = self.run_dir / GAVE_UP
        return path.read_text() if path.exists() else None

    def wait(self, timeout_s: float | None = None) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self, timeout_s: float = 150.0) -> int | None:
        """SIGTERM to supervisord (it stops every service, each within its stopwaitsecs); SIGKILL only if it has not
        finished within `timeout_s`. Its exit code, or None if it was not started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def give_up_message(name: str, info: dict[str, Any], config: dict[str, Any] | None, run_dir: Path) -> str:
    """What the listener says when service `name` is FATAL (`info`: getProcessInfo, `config`: its getAllConfigInfo
    entry)."""
    tries = "" if config is None else f"{int(config['startretries']) + 1} times in a row, "
    within = "" if config is None else f" within {config['startsecs']} s of starting"
    # supervisord's spawnerr says "Exited too quickly" for every FATAL; it says more when it could not spawn at all.
    # (Its exit status is not kept in a FATAL process's info: the exits are in the output above.)
    spawn_error = str(info.get("spawnerr") or "")
    cause = f" ({spawn_error})" if spawn_error and "too quickly" not in spawn_error else ""
    return (f"kans: the {name} service gave up: it exited {tries}each time{within}{cause}. Not restarting it "
            f"again; stopping the platform. Its output is above (and supervisord's log in "
            f"{run_dir / 'supervisord.log'}).\n")  # fmt: skip


def listen(stdin: IO[str], stdout: IO[str], stderr: IO[str], rpc: Any, run_dir: Path) -> None:
    """supervisor's event-listener loop (until stdin closes): acknowledge every event; on PROCESS_STATE_FATAL give
    up for the platform: say why, leave the message in `run_dir/gave-up`, shut supervisord down."""
    while True:
        childutils.listener.ready(stdout)
        line = stdin.readline()
        if not line:
            return
        headers = childutils.get_headers(line)
        payload = stdin.read(int(headers["len"]))
        if headers.get("eventname") != "PROCESS_STATE_FATAL":
            childutils.listener.ok(stdout)
            continue
        name = childutils.get_headers(payload)["processname"]
        info = rpc.supervisor.getProcessInfo(name)
        config = next((c for c in rpc.supervisor.getAllConfigInfo() if c["name"] == name), None)
        message = give_up_message(name, info, config, run_dir)
        stderr.write(message)
        stderr.flush()
        (run_dir / GAVE_UP).write_text(message)
        childutils.listener.ok(stdout)
        rpc.supervisor.shutdown()


def main() -> None:
    """`python -m kans.supervision`: the `giveup` event listener of CONFIG."""
    run_dir = Path(os.environ["KANS_SUPERVISOR_DIR"])
    listen(sys.stdin, sys.stdout, sys.stderr, childutils.getRPCInterface(os.environ), run_dir)


if __name__ == "__main__":
    main()
