"""A real single-node Apache Kafka (KRaft) from Maven Central jars: install, start, stop, status.

Idempotent by design: install skips a complete jar cache, start finds a running broker, format runs once.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.broker import broker_reachable, wait_for_metadata
from core.settings import Settings
from kans.paths import REPO_ROOT

log = logging.getLogger(__name__)

INFRA = REPO_ROOT / "infra" / "kafka"


class KafkaLocalError(RuntimeError):
    """The local broker could not be installed or started; the message says which command failed."""


@dataclass(frozen=True)
class LocalKafka:
    settings: Settings

    @property
    def libs(self) -> Path:
        return self.settings.cache_dir / f"kafka-{self.settings.kafka_version}" / "libs"

    @property
    def home(self) -> Path:
        return self.settings.data_dir / "kafka"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    # -- install ---------------------------------------------------------------------------------------------
    def installed(self) -> bool:
        marker = self.libs / ".complete"
        return marker.exists()

    def install(self) -> Path:
        """Resolve kafka_2.13 and its runtime dependencies (plus log4j binding) into the cache, once."""
        if self.installed():
            return self.libs
        if shutil.which("mvn") is None:
            raise KafkaLocalError("Maven (mvn) is not on PATH: it is needed once to fetch the Kafka jars")
        tmp = self.libs.with_name("libs.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            "mvn", "-q", "-B", "-f", str(INFRA / "pom.xml"),
            f"-Dkafka.version={self.settings.kafka_version}",
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}",
        ]  # fmt: skip
        log.info("fetching Kafka %s jars with Maven", self.settings.kafka_version)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            raise KafkaLocalError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        shutil.rmtree(self.libs, ignore_errors=True)
        tmp.rename(self.libs)
        (self.libs / ".complete").write_text(self.settings.kafka_version)
        return self.libs

    # -- configure -------------------------------------------------------------------------------------------
    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        java = shutil.which("java") or "java"
        return [
            java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={INFRA / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp", f"{self.libs}/*", main, *args,
        ]  # fmt: skip

    def render_properties(self) -> str:
        """The broker's server.properties (a subclass renders another template: see kans/cluster.py)."""
        template = (INFRA / "server.properties.template").read_text()
        return template.format(
            broker_port=self.settings.kafka_broker_port,
            controller_port=self.settings.kafka_controller_port,
            log_dirs=self.home / "data",
        )

    def write_properties(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(self.render_properties())
        return self.properties

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    def quorum_format_options(self) -> list[str]:
        """How the controller quorum is formatted: one dynamic voter (`controller.quorum.bootstrap.servers`)."""
        return ["--standalone"]

    def format_storage(self) -> None:
        """Format the KRaft storage once; `-g` makes a second format a no-op instead of an error."""
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_file = self.cluster_id_file
        if not cluster_file.exists():
            out = subprocess.run(
                self._java("kafka.tools.StorageTool", "random-uuid"), capture_output=True, text=True, check=False
            )
            if out.returncode != 0:
                raise KafkaLocalError(f"StorageTool random-uuid failed: {out.stderr[-2000:]}")
            cluster_file.write_text(out.stdout.strip().splitlines()[-1])
        cmd = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_file.read_text().strip(),
            "-c", str(self.properties), *self.quorum_format_options(), "-g",
        )  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise KafkaLocalError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")

    # -- run -------------------------------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"kafka.Kafka" not in cmdline.read_bytes():
            return None  # a recycled pid
        return pid

    def start(self, timeout_s: float = 90.0) -> int:
        """Start the broker detached (it outlives this command) and wait until a client can fetch metadata."""
        running = self.pid()
        if running is not None:
            wait_until_ready(self.settings.kafka_bootstrap, timeout_s)
            return running
        if broker_reachable(self.settings.kafka_bootstrap, timeout_s=1.0):
            # Another checkout's (or the developer's own) broker already serves this address: use it, and leave
            # stopping it to whoever started it.
            log.info("a broker already answers at %s; using it", self.settings.kafka_bootstrap)
            return 0
        proc = self.spawn()
        try:
            wait_until_ready(self.settings.kafka_bootstrap, timeout_s, proc=proc)
        except KafkaLocalError as err:
            tail = _tail(self.home / "logs" / "server.log") or _tail(self.home / "logs" / "stdout.log")
            raise KafkaLocalError(f"{err}\n--- broker log tail ---\n{tail}") from err
        return proc.pid

    def spawn(self) -> subprocess.Popen[bytes]:
        """Install, configure, format once and launch the broker detached (it outlives this command); no wait."""
        self.install()
        self.write_properties()
        self.format_storage()
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        stdout = open(self.home / "logs" / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.properties), heap=self.settings.kafka_heap),
            stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.pid_file.write_text(str(proc.pid))
        return proc

    def stop(self, timeout_s: float = 30.0) -> bool:
        """SIGTERM for a controlled shutdown, SIGKILL only if it does not finish in time."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def wait_until_ready(bootstrap: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Ready means a metadata request succeeds (`core.broker`), not that the port is open."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise KafkaLocalError(f"broker exited with code {proc.returncode} during start")
        if (last := wait_for_metadata(bootstrap, min(3.0, max(0.1, deadline - time.monotonic())))) is None:
            return
    raise KafkaLocalError(f"broker at {bootstrap} not ready after {timeout_s:.0f}s: {last!r}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
