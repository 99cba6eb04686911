"""A local three-node Kafka cluster (KRaft, every node broker + controller, a static 3-voter quorum) on 127.0.0.1,
for the cluster drill: replication factor 3, `min.insync.replicas=2`. Each node is a `LocalKafka` with its own
folder under `.kans-cluster/`, its own ports and its own properties; nothing is shared with `make up`'s broker
(`.kans/`, 9092) or the tests' (`.kans-test/`, 19092...).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from core.broker import broker_reachable
from core.kafka_security import client_config
from core.settings import Settings
from kans.kafka_local import INFRA, KafkaLocalError, LocalKafka, _tail
from kans.paths import REPO_ROOT

log = logging.getLogger(__name__)

CLUSTER_DIR = REPO_ROOT / ".kans-cluster"
BROKER_PORT = 29092  # node n listens on BROKER_PORT + n - 1 (clients) and CONTROLLER_PORT + n - 1 (quorum)
CONTROLLER_PORT = 29192
HEAP = "384m"  # three JVMs on a 2-core machine


def _plaintext(settings: Settings) -> Settings:
    """The cluster's clients: no SASL, whatever the environment says (a test session's is secured)."""
    return settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT", "kafka_username": "",
                                       "kafka_credentials_file": None})  # fmt: skip


@dataclass(frozen=True)
class ClusterNode(LocalKafka):
    """One node: the single broker's install/format/spawn/stop, with the cluster's properties and quorum."""

    # The drill is about replication, not access: its nodes keep PLAINTEXT listeners and no authorizer.
    secured: bool = False
    node_id: int = 1
    voters: str = ""
    replication_factor: int = 3
    min_insync_replicas: int = 2

    @property
    def home(self) -> Path:
        return self.settings.data_dir / f"node-{self.node_id}"

    @property
    def cluster_id_file(self) -> Path:
        return self.settings.data_dir / "cluster.id"  # one id for the three nodes

    def render_properties(self) -> str:
        """The node's server.properties: the one place to extend (listeners, security) for every node."""
        template = (INFRA / "cluster.properties.template").read_text()
        return template.format(
            node_id=self.node_id,
            voters=self.voters,
            broker_port=self.settings.kafka_broker_port,
            controller_port=self.settings.kafka_controller_port,
            log_dirs=self.home / "data",
            replication_factor=self.replication_factor,
            min_insync_replicas=self.min_insync_replicas,
        )

    def quorum_format_options(self) -> list[str]:
        return []  # static `controller.quorum.voters`: the format needs no quorum flag

    def kill(self) -> int | None:
        """kill -9: no controlled shutdown, no flush; what a power cut does to one machine."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.05)
        return pid


@dataclass(frozen=True)
class LocalCluster:
    """Three (or `size`) nodes; `bootstrap` lists every broker, as a client of a real cluster would."""

    base: Settings = field(default_factory=lambda: _plaintext(Settings()))  # the jar cache and Kafka version
    data_dir: Path = CLUSTER_DIR
    size: int = 3
    broker_port: int = BROKER_PORT
    controller_port: int = CONTROLLER_PORT
    heap: str = HEAP
    min_insync_replicas: int = 2

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port + i}" for i in range(self.size))

    @property
    def voters(self) -> str:
        return ",".join(f"{i + 1}@127.0.0.1:{self.controller_port + i}" for i in range(self.size))

    @property
    def nodes(self) -> dict[int, ClusterNode]:
        return {i + 1: self.node(i + 1) for i in range(self.size)}

    def node(self, node_id: int) -> ClusterNode:
        settings = _plaintext(self.base).model_copy(update={
            "data_dir": self.data_dir.resolve(), "kafka_heap": self.heap,
            "kafka_broker_port": self.broker_port + node_id - 1,
            "kafka_controller_port": self.controller_port + node_id - 1,
            "kafka_bootstrap": f"127.0.0.1:{self.broker_port + node_id - 1}",
        })  # fmt: skip
        return ClusterNode(settings, node_id=node_id, voters=self.voters, replication_factor=self.size,
                           min_insync_replicas=self.min_insync_replicas)  # fmt: skip

    def settings(self, **overrides: object) -> Settings:
        """Settings of a platform on this cluster: every broker listed, topics on `size` replicas, min ISR."""
        return _plaintext(self.base).model_copy(update={
            "kafka_bootstrap": self.bootstrap, "replication_factor": self.size,
            "min_insync_replicas": self.min_insync_replicas, **overrides,
        })  # fmt: skip

    # -- run -------------------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 120.0) -> None:
        """Launch every node that is not running (all at once: a node waits for the quorum), then wait until the
        cluster lists all of them as live brokers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for node in self.nodes.values():
            if node.pid() is None:
                node.spawn()
        self.wait_alive(set(self.nodes), timeout_s)

    def restart(self, *node_ids: int) -> None:
        """Launch the given (killed or stopped) nodes again; returns at once: see `wait_alive`."""
        for node_id in node_ids:
            node = self.node(node_id)
            if node.pid() is None:
                node.spawn()

    def kill(self, node_id: int) -> int | None:
        return self.node(node_id).kill()

    def stop(self) -> list[int]:
        """Controlled shutdown of every running node (all signalled first: the last ones lose their quorum)."""
        running = [n for n in self.nodes.values() if n.pid() is not None]
        for node in running:
            pid = node.pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        for node in running:
            node.stop(timeout_s=30.0)
        return [n.node_id for n in running]

    def running(self) -> list[int]:
        return [i for i, n in self.nodes.items() if n.pid() is not None]

    # -- observe ---------------------------------------------------------------------------------------------
    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(**client_config(self.settings()), request_timeout_ms=5000, client_id="kans-cluster")

    def live_brokers(self) -> set[int] | None:
        """Node ids the cluster reports as live brokers (registered, not fenced); None when it does not answer.
        A killed node stays listed until the controller fences it (`broker.session.timeout.ms`, 9 s)."""
        try:
            admin = self._admin()
        except (KafkaError, OSError):
            return None
        try:
            return {int(b["broker_id"]) for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced")}
        except (KafkaError, OSError):
            return None
        finally:
            admin.close()

    def wait_alive(self, node_ids: set[int], timeout_s: float = 120.0) -> float:
        """Wait until every node of `node_ids` answers on its own port and the cluster lists it as a live broker;
        returns the seconds it took."""
        started = time.monotonic()
        while not (node_ids <= (self.live_brokers() or set()) and all(self.answers(n) for n in node_ids)):
            for node_id in node_ids:
                if self.node(node_id).pid() is None:
                    raise KafkaLocalError(f"cluster node {node_id} exited:\n{self.log_tail(node_id)}")
            if time.monotonic() - started > timeout_s:
                raise KafkaLocalError(f"cluster nodes {sorted(node_ids)} not all live after {timeout_s:.0f}s")
            time.sleep(0.5)
        return time.monotonic() - started

    def answers(self, node_id: int) -> bool:
        """The node itself serves a metadata request (not only its listed registration)."""
        return broker_reachable(self.node(node_id).settings, timeout_s=1.0)

    def under_replicated(self, topics: list[str] | None = None) -> int | None:
        """Partitions (of `topics`; default every topic, internal ones included) with fewer in-sync replicas than
        replicas; None when the cluster does not answer."""
        try:
            admin = self._admin()
        except (KafkaError, OSError):
            return None
        try:
            described = admin.describe_topics(topics)
        except (KafkaError, OSError):
            return None
        finally:
            admin.close()
        return sum(len(p["isr_nodes"]) < len(p["replica_nodes"]) for t in described for p in t["partitions"])

    def log_tail(self, node_id: int) -> str:
        home = self.node(node_id).home / "logs"
        return _tail(home / "server.log") or _tail(home / "stdout.log")
