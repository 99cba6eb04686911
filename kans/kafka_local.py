"""A real single-node Apache Kafka (KRaft) from Maven Central jars: install, start, stop, status.

Secured as production runs it: SASL (SCRAM) on the client listener, ACLs (`core/kafka_acls.py`). The credentials
are generated at the first start into `<data_dir>/kafka/credentials.env` (mode 0600, never committed), the SCRAM
users are created when the storage is formatted, and every start makes sure of the users and the ACLs (as admin).

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
from core.kafka_acls import ADMIN, PRINCIPALS, ensure_acls, ensure_users, existing_users
from core.settings import Settings
from kans.kafka_credentials import CONTROLLER, as_principal, generate, local_credentials_file
from kans.paths import REPO_ROOT

log = logging.getLogger(__name__)

INFRA = REPO_ROOT / "infra" / "kafka"
SCRAM_MECHANISM = "SCRAM-SHA-256"  # the one the template enables
SECURED_PROTOCOLS = "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"


class KafkaLocalError(RuntimeError):
    """The local broker could not be installed or started; the message says which command failed."""


@dataclass(frozen=True)
class LocalKafka:
    settings: Settings
    # The single broker of `make up` and the tests is secured; a node of the cluster drill (kans/cluster.py) is not.
    secured: bool = True

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

    # -- credentials -----------------------------------------------------------------------------------------
    @property
    def credentials_file(self) -> Path:
        return local_credentials_file(self.settings)

    def credentials(self) -> dict[str, str]:
        """Every principal's password and the controller listener's, generated (mode 0600) at the first call."""
        return generate(self.credentials_file)

    def client_settings(self) -> Settings:
        """How a client reaches this broker as admin (the super user of the tools); as given when not secured."""
        if not self.secured:
            return self.settings
        admin = as_principal(self.settings, ADMIN, self.credentials())
        return admin.model_copy(update={"kafka_credentials_file": self.credentials_file})

    def provision(self) -> None:
        """The SCRAM users a start needs (created at format; any principal added since) and the ACLs of the
        settings' topic prefix; both idempotent."""
        if not self.secured:
            return
        client, passwords = self.client_settings(), self.credentials()
        missing = set(PRINCIPALS) - existing_users(client)
        if missing:
            ensure_users(client, {name: passwords[name] for name in sorted(missing)})
        ensure_acls(client)

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
        passwords = self.credentials()
        return template.format(
            broker_port=self.settings.kafka_broker_port,
            controller_port=self.settings.kafka_controller_port,
            log_dirs=self.home / "data",
            admin_password=passwords[ADMIN],
            controller_password=passwords[CONTROLLER],
            super_users=f"User:{ADMIN};User:{CONTROLLER}",
        )

    def write_properties(self, text: str | None = None) -> Path:
        """Write the broker's properties (they hold the admin's and the controller's passwords: owner only)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.touch(mode=0o600)
        self.properties.chmod(0o600)
        self.properties.write_text(self.render_properties() if text is None else text)
        return self.properties

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    def quorum_format_options(self) -> list[str]:
        """How the controller quorum is formatted: one dynamic voter (`controller.quorum.bootstrap.servers`)."""
        return ["--standalone"]

    def scram_format_options(self) -> list[str]:
        """The SCRAM users written into the cluster's first metadata: one `--add-scram` per principal."""
        if not self.secured:
            return []
        passwords = self.credentials()
        return [option for name in PRINCIPALS
                for option in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={passwords[name]}]")]

    def formatted(self) -> bool:
        return (self.home / "data" / "meta.properties").exists()

    def format_storage(self) -> None:
        """Format the KRaft storage once; `-g` makes a second format a no-op instead of an error."""
        if self.formatted():
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
            "-c", str(self.properties), *self.quorum_format_options(), *self.scram_format_options(), "-g",
        )  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            shown = " ".join(c if "password=" not in c else "SCRAM-…" for c in cmd)
            raise KafkaLocalError(f"{shown} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")

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
            wait_until_ready(self.client_settings(), timeout_s)
            self.provision()
            return running
        if self.settings.kafka_username and broker_reachable(self.settings, timeout_s=1.0):
            # A broker already serves this address to the principal these settings name (the tests' broker, for a
            # `kans up` run on it): use it as it is; its ACLs are its owner's, the topics' are made with them.
            log.info("a broker already answers at %s to %s; using it", self.settings.kafka_bootstrap,
                     self.settings.kafka_username)  # fmt: skip
            return 0
        if self.secured and self.formatted() and not self.credentials_file.exists():
            self._add_users_to_unsecured_storage(timeout_s)
        client = self.client_settings()
        if broker_reachable(client, timeout_s=1.0):
            # Another checkout's (or the developer's own) broker already serves this address and takes these
            # credentials: use it, and leave stopping it to whoever started it.
            log.info("a broker already answers at %s; using it", self.settings.kafka_bootstrap)
            self.provision()
            return 0
        proc = self.spawn()
        self._wait_started(client, timeout_s, proc)
        self.provision()
        return proc.pid

    def _wait_started(self, client: Settings, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
        try:
            wait_until_ready(client, timeout_s, proc=proc)
        except KafkaLocalError as err:
            tail = _tail(self.home / "logs" / "server.log") or _tail(self.home / "logs" / "stdout.log")
            raise KafkaLocalError(f"{err}\n--- broker log tail ---\n{tail}") from err

    def _add_users_to_unsecured_storage(self, timeout_s: float) -> None:
        """Storage formatted before the broker was secured holds no SCRAM user, so no client could authenticate:
        start it once with open listeners (everyone a super user, nothing else listening than before), create the
        users, stop. The data stay."""
        log.warning("the broker's storage in %s predates SASL: adding its SCRAM users once", self.home)
        self.install()
        text = self.render_properties()
        assert SECURED_PROTOCOLS in text, "the template's listeners changed: adapt the open start"
        text = text.replace(SECURED_PROTOCOLS, "listener.security.protocol.map=CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT")
        self.write_properties(text.replace("super.users=", "super.users=User:ANONYMOUS;"))
        proc = self._launch()
        try:
            open_client = self.settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
            self._wait_started(open_client, timeout_s, proc)
            passwords = self.credentials()
            ensure_users(open_client.model_copy(update={"kafka_sasl_mechanism": SCRAM_MECHANISM}),
                         {name: passwords[name] for name in PRINCIPALS})  # fmt: skip
        finally:
            self.stop()

    def spawn(self) -> subprocess.Popen[bytes]:
        """Install, configure, format once and launch the broker detached (it outlives this command); no wait."""
        self.install()
        self.write_properties()
        self.format_storage()
        return self._launch()

    def _launch(self) -> subprocess.Popen[bytes]:
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


def wait_until_ready(client: Settings, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Ready means a metadata request (as `client`) succeeds (`core.broker`), not that the port is open."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise KafkaLocalError(f"broker exited with code {proc.returncode} during start")
        if (last := wait_for_metadata(client, min(3.0, max(0.1, deadline - time.monotonic())))) is None:
            return
    raise KafkaLocalError(f"broker at {client.kafka_bootstrap} not ready after {timeout_s:.0f}s: {last!r}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
