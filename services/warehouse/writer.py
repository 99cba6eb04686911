"""Kafka -> ClickHouse writer: consumes the event log in batches, inserts them into `events` and refolds the
current-state facts of what each batch touched (`state.store`).

Offsets are committed only after ClickHouse accepted the batch (at-least-once); a re-delivered event has
the same event_id and collapses in the ReplacingMergeTree, so the table holds each event exactly once.
Runs as a thread, inside the API process with embedded chDB (one process owns its data directory),
or as its own process (`kans serve writer`) against a ClickHouse server.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from core.settings import Settings
from core.topics import events_topic
from schemas.registry import parse_event
from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient

log = logging.getLogger(__name__)

COLUMNS = [
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "school_year", "source_system",
    "source_ref", "actor", "stream_id", "payload", "kafka_partition", "kafka_offset",
]  # fmt: skip


def event_row(value: bytes, partition: int, offset: int) -> list[Any]:
    """One `events` row from a Kafka record; raises ValidationError for a record that breaks the contract."""
    event = parse_event(value)
    return [
        event.event_id, event.event_type, event.schema_version, event.occurred_at, event.recorded_at,
        event.school_year, event.source_system, event.source_ref, event.actor, event.stream_id,
        event.payload.model_dump_json(), partition, offset,
    ]  # fmt: skip


@dataclass
class WriterStatus:
    running: bool = False
    batches: int = 0
    rows_written: int = 0
    rejected: int = 0
    last_commit_monotonic: float | None = None
    last_error: str | None = None


class ClickHouseWriter:
    def __init__(self, settings: Settings, client: ClickHouseClient, client_lock: threading.Lock | None = None) -> None:
        self._settings = settings
        self._client = client
        self._client_lock = client_lock or threading.Lock()
        self._topic = events_topic(settings)
        self._database = settings.clickhouse_database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = WriterStatus()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="clickhouse-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=f"{self._settings.topic_prefix}{self._settings.writer_group}",
            client_id="kans-clickhouse-writer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._settings.writer_batch_max,
            fetch_max_wait_ms=100,
            metadata_max_age_ms=10_000,
        )
        # Join the group only once the topic's partitions are known: a member that joins before the metadata
        # reached it gets no assignment and would wait for the next metadata refresh.
        if not consumer.partitions_for_topic(self._topic):
            consumer.close()
            raise KafkaError(f"topic {self._topic} has no partitions yet (run `kans topics create`)")
        consumer.subscribe([self._topic])
        return consumer

    def run(self) -> None:
        self.status.running = True
        consumer: KafkaConsumer | None = None
        try:
            while not self._stop.is_set():
                try:
                    consumer = consumer or self._consumer()
                    self._step(consumer)
                except KafkaError as err:
                    self.status.last_error = f"kafka: {err}"
                    log.warning("writer: Kafka unavailable (%s); retrying", err)
                    if consumer is not None:
                        consumer.close()
                        consumer = None
                    self._stop.wait(2.0)
        finally:
            if consumer is not None:
                consumer.close()
            self.status.running = False

    def _step(self, consumer: KafkaConsumer) -> None:
        records: list[Any] = []
        deadline = time.monotonic() + self._settings.writer_batch_wait_ms / 1000
        while len(records) < self._settings.writer_batch_max and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=50, max_records=self._settings.writer_batch_max - len(records))
            records.extend(r for batch in polled.values() for r in batch)
            if not polled and records:
                break
        if not records:
            return
        rows = []
        for record in records:
            try:
                rows.append(event_row(record.value, record.partition, record.offset))
            except ValidationError as err:
                self.status.rejected += 1
                log.error("writer: record %s/%d breaks the contract, not stored: %s",
                          record.partition, record.offset, err.errors()[:3])  # fmt: skip
        try:
            if rows:
                with self._client_lock:  # statistics read under this lock: they never see a half-refreshed state
                    state.store(self._client, self._database, rows, COLUMNS)
        except Exception as err:  # noqa: BLE001 - any ClickHouse failure: rewind, keep the offsets, retry
            self.status.last_error = f"clickhouse: {err}"
            log.error("writer: ClickHouse refused a batch of %d (%s); will retry it", len(rows), err)
            first: dict[TopicPartition, int] = {}
            for record in records:
                tp = TopicPartition(record.topic, record.partition)
                first[tp] = min(first.get(tp, record.offset), record.offset)
            for tp, offset in first.items():
                consumer.seek(tp, offset)
            self._stop.wait(1.0)
            return
        consumer.commit()
        self.status.batches += 1
        self.status.rows_written += len(rows)
        self.status.last_commit_monotonic = time.monotonic()
        self.status.last_error = None
