"""docker-compose.yml's broker, run without Docker: its KAFKA_* variables rendered by the image's own wrapper
(kafka.docker.KafkaDockerWrapper, from the same Kafka jars), its first-start script formatting the storage with the
admin's SCRAM credential, the `provision` one-shot creating the other principals and the ACLs, then each service's
environment tried against it. Only the paths of the image and the host names are replaced."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import events_topic, topic_specs
from kans.kafka_credentials import generate
from kans.kafka_local import LocalKafka, wait_until_ready
from kans.paths import REPO_ROOT
from tests.suite_broker import SuiteBroker

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
# The image's logging configuration files the wrapper copies (their content does not matter here).
LOG4J2 = """\
Configuration:
  Appenders:
    Console: {name: STDOUT, PatternLayout: {pattern: "[%d] %p %m (%c)%n"}}
  Loggers:
    Root: {level: INFO, AppenderRef: [{ref: STDOUT}]}
    Logger: [{name: kafka, level: INFO}]
"""


class ComposeBroker:
    """The compose broker's files under `root`, on 127.0.0.1 ports of its own (below the ephemeral range)."""

    def __init__(self, root: Path, slot: SuiteBroker) -> None:
        self.root, self.libs = root, slot.kafka().install()
        self.port = 19292 + 2 * slot.slot
        self.passwords = generate(root / ".env")
        self.kafka = LocalKafka(Settings(data_dir=root / "local", kafka_broker_port=self.port,
                                         kafka_controller_port=self.port + 1, kafka_security_protocol="PLAINTEXT",
                                         kafka_username=""), secured=False)  # fmt: skip
        for folder in ("default", "mounted", "final"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "default" / "server.properties").write_text("")
        for name in ("log4j2.yaml", "tools-log4j2.yaml"):
            (root / "default" / name).write_text(LOG4J2)

    def here(self, value: str) -> str:
        """A compose value with .env interpolated, the service names and the image's paths replaced."""
        value = re.sub(r"\$\{([A-Z_]+)(:\?[^}]*)?\}",
                       lambda m: self.passwords[m[1].removesuffix("_KAFKA_PASSWORD").lower()], value)  # fmt: skip
        broker, controller = f"127.0.0.1:{self.port}", f"127.0.0.1:{self.port + 1}"
        value = value.replace("kafka:9092", broker).replace("kafka:9093", controller)
        value = value.replace("://:9092", f"://{broker}").replace("://:9093", f"://{controller}")
        java = f"java -cp '{self.libs}/*'"
        for image_path, local in (
            ("/opt/kafka/bin/kafka-run-class.sh ", f"{java} "),
            ("/opt/kafka/bin/kafka-storage.sh", f"{java} kafka.tools.StorageTool"),
            ("/etc/kafka/docker/run", "true"), ("/etc/kafka/docker", str(self.root / "default")),
            ("/mnt/shared/config", str(self.root / "mounted")), ("/opt/kafka/config", str(self.root / "final")),
            ("/var/lib/kafka/data", str(self.root / "data")), ("/tmp/kans-", f"{self.root}/kans-"),
        ):  # fmt: skip
            value = value.replace(image_path, local)
        return value.replace("$$", "$")

    def environment(self, service: str) -> dict[str, str]:
        return {name: self.here(str(value)) for name, value in COMPOSE[service]["environment"].items()}

    def run_first_start(self) -> None:
        """The kafka service's command up to the image's own start (`/etc/kafka/docker/run`)."""
        script = self.here(COMPOSE["kafka"]["command"][2])
        env = {"PATH": os.environ["PATH"], **self.environment("kafka")}
        done = subprocess.run(["bash", "-ec", script], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def run_image_start(self) -> None:
        """What the image's launch does next: render again (its format finds the storage formatted), start."""
        env = {"PATH": os.environ["PATH"], **self.environment("kafka")}
        done = subprocess.run(["java", "-cp", f"{self.libs}/*", "kafka.docker.KafkaDockerWrapper", "setup",
                               "--default-configs-dir", str(self.root / "default"), "--mounted-configs-dir",
                               str(self.root / "mounted"), "--final-configs-dir", str(self.root / "final")],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0 or "already formatted" in done.stdout + done.stderr, done.stderr[-2000:]
        self.kafka.write_properties((self.root / "final" / "server.properties").read_text())
        self.process = self.kafka._launch()

    def settings(self, service: str) -> Settings:
        fields = {name.removeprefix("KANS_").lower(): value for name, value in self.environment(service).items()
                  if name.startswith("KANS_") and name != "KANS_DATA_DIR"}  # fmt: skip
        return Settings(**fields, data_dir=self.root / service)  # type: ignore[arg-type]


@pytest.fixture
def compose_broker(tmp_path: Path, suite_broker_slot: SuiteBroker) -> Iterator[ComposeBroker]:
    broker = ComposeBroker(tmp_path, suite_broker_slot)
    try:
        yield broker
    finally:
        broker.kafka.stop()


def produce(settings: Settings, topic: str) -> Any:
    producer = KafkaProducer(**client_config(settings), acks="all", max_block_ms=10_000, request_timeout_ms=10_000)
    try:
        return producer.send(topic, key=b"compose", value=b"{}").get(timeout=15)
    finally:
        producer.close(timeout=1)


def test_the_compose_broker_authenticates_and_authorizes_like_the_local_one(compose_broker: ComposeBroker) -> None:
    compose_broker.run_first_start()
    assert (compose_broker.root / "data" / "meta.properties").exists()
    compose_broker.run_image_start()
    provision = compose_broker.settings("provision")
    wait_until_ready(provision, 120, proc=compose_broker.process)

    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           **compose_broker.environment("provision"), "KANS_DATA_DIR": str(compose_broker.root / "provision")}
    done = subprocess.run([sys.executable, "-m", "kans.cli", "kafka", "provision"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "SCRAM users ['api', 'dispatch', 'inbound', 'ingest', 'projections', 'writer']" in done.stdout
    created = {spec.name for spec in topic_specs(provision)}
    assert all(name in done.stdout for name in created)

    # Each service, with its compose environment: the ingest writes the event log, the others may not.
    topic = events_topic(provision)
    assert produce(compose_broker.settings("ingest"), topic).offset == 0
    assert produce(compose_broker.settings("inbound"), topic).offset == 1, "the inbound worker is the ingest"
    for service in ("projections", "writer", "api"):
        with pytest.raises(TopicAuthorizationFailedError):
            produce(compose_broker.settings(service), topic)
    consumer = KafkaConsumer(**client_config(provision), group_id=None)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(provision.event_partitions)])
    finally:
        consumer.close()
    assert sum(ends.values()) == 2
