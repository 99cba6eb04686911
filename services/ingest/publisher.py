"""Publishes sealed events to Kafka (idempotent producer, acks=all) and waits for the broker's acknowledgement."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import events_topic, source_index_topic
from schemas.envelope import Envelope
from services.ingest.metrics import IngestMetrics
from services.ingest.rules import IndexEntry, SourceKey

log = logging.getLogger(__name__)
RECONNECT_BACKOFF_MAX_MS = 1000
# How the ingest batches its records, and the raw reference of `kans bench` with it. Up to 512 KiB per partition per
# request (kafka-python's default is 16 KiB): a request of 1,000 referrals (~1.3 kB each) fills a few batches instead
# of ~80, and kafka-python wakes its sender thread (a socket write) for every new batch. Below the broker's 1 MiB.
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 2,
    "batch_size": 512 * 1024,
    "compression_type": "lz4",
}


class BrokerUnavailable(RuntimeError):
    """Kafka did not acknowledge in time: nothing is reported as accepted, yet what was sent may still reach the log
    (the producer keeps retrying its buffer). A retry is safe: the same submissions are the same event ids."""


def index_record_key(key: SourceKey) -> bytes:
    return f"{key[0]}\x1f{key[1]}".encode()


class EventPublisher:
    """One producer per process, created lazily so the service starts (and answers 503) while Kafka is down."""

    def __init__(self, settings: Settings, metrics: IngestMetrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics  # counts the records the broker acknowledged, per topic
        self._events_topic = events_topic(settings)
        self._index_topic = source_index_topic(settings)
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(
                        **client_config(self._settings),
                        **PRODUCER_SETTINGS,
                        client_id="kans-ingest",
                        max_block_ms=int(self._settings.publish_timeout_s * 1000),
                        request_timeout_ms=int(self._settings.publish_timeout_s * 1000),
                        bootstrap_timeout_ms=int(self._settings.publish_timeout_s * 1000),
                        # Back off at most 1 s between reconnects (kafka-python's default: up to 30 s), so a restarted
                        # broker is written to within a second of answering again, not 20-30 s later.
                        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                    )
                except KafkaError as err:
                    raise BrokerUnavailable(
                        f"Kafka at {self._settings.kafka_bootstrap} is unreachable ({err})"
                    ) from err
            return self._producer

    def publish(self, events: Sequence[Envelope], index: dict[SourceKey, IndexEntry]) -> list[int]:
        """Send every event keyed by its stream id; return only once the broker acknowledged all of them, with the
        offset each event has in its partition (its stream's). All are sent first, then waited for at once."""
        producer = self._get_producer()
        deadline = time.monotonic() + self._settings.publish_timeout_s
        try:
            futures = [
                producer.send(
                    self._events_topic,
                    key=event.stream_id.encode(),
                    value=event.model_dump_json().encode(),
                    headers=[
                        ("event_type", event.event_type.encode()),
                        ("schema_version", str(event.schema_version).encode()),
                    ],
                )
                for event in events
            ]
            producer.flush(timeout=max(0.1, deadline - time.monotonic()))
            offsets = [future.get(timeout=0).offset for future in futures]
        except KafkaError as err:
            raise BrokerUnavailable(
                f"Kafka did not acknowledge the events within {self._settings.publish_timeout_s:.0f}s ({err})"
            ) from err
        if self._metrics is not None:
            self._metrics.published_to(self._events_topic, len(futures))
        # The index is a cache of what is already in the log (written only once the events are acknowledged): losing
        # a write here only means a later resubmission republishes the same event id, which every consumer
        # deduplicates. Not waited for: its acknowledgements are counted as they come.
        try:
            for key, entry in index.items():
                future = producer.send(
                    self._index_topic,
                    key=index_record_key(key),
                    value=json.dumps({"event_id": str(entry.event_id), "fingerprint": entry.fingerprint}).encode(),
                )
                if self._metrics is not None:
                    future.add_callback(self._index_record_acknowledged)
        except KafkaError:
            log.warning("could not record %d source refs in the index", len(index), exc_info=True)
        return offsets

    def _index_record_acknowledged(self, _: object) -> None:
        if self._metrics is not None:
            self._metrics.published_to(self._index_topic, 1)

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(timeout=5)
                self._producer.close(timeout=5)
                self._producer = None
