"""The idempotency index: (source_system, source_ref) -> event id, rebuilt from a compacted topic at start
and kept current by tailing it, so every ingest replica knows what any replica has published."""

from __future__ import annotations

import json
import logging
import threading
import uuid

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import source_index_topic
from services.ingest.rules import IndexEntry, SourceKey

log = logging.getLogger(__name__)


class SourceIndex:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = source_index_topic(settings)
        self.entries: dict[SourceKey, IndexEntry] = {}
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="source-index", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def remember(self, new: dict[SourceKey, IndexEntry]) -> None:
        self.entries.update(new)

    def _apply(self, key: bytes, value: bytes) -> None:
        system, _, ref = key.decode().partition("\x1f")
        data = json.loads(value)
        self.entries[(system, ref)] = IndexEntry(uuid.UUID(data["event_id"]), data["fingerprint"])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._load_and_tail()
            except KafkaError as err:
                log.warning("source index: Kafka unavailable (%s); retrying", err)
                self._stop.wait(2.0)

    def _load_and_tail(self) -> None:
        consumer = KafkaConsumer(
            **client_config(self._settings),
            client_id="kans-ingest-index",
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=5000,
        )
        try:
            partitions = [TopicPartition(self._topic, p) for p in (consumer.partitions_for_topic(self._topic) or [])]
            if not partitions:
                raise KafkaError(f"topic {self._topic} does not exist (run `kans topics create`)")
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            end = consumer.end_offsets(partitions)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500, max_records=10_000).values():
                    for record in records:
                        self._apply(record.key, record.value)
                if not self.ready.is_set() and all(consumer.position(tp) >= end[tp] for tp in partitions):
                    log.info("source index loaded: %d source records", len(self.entries))
                    self.ready.set()
        finally:
            consumer.close()
