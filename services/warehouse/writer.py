"""Kafka -> ClickHouse writer: consumes the event log in batches, inserts them into `events` and refolds the
current-state facts of what each batch touched (`state.store`).

Offsets are committed only after ClickHouse accepted the batch (at-least-once); a re-delivered event has
the same event_id and collapses in the ReplacingMergeTree, so the table holds each event exactly once.
A record that is not an event of the contract (`core.dead_letters.BadRecord`: no value, garbage, not an object,
against the contract, oversized) is dead-lettered to `kans.events.dlq.v1` and the batch goes on; its offset is
committed only after the broker acknowledged the dead letter. Anything else that goes wrong in the writer's own code
is a bug: the thread stops, and its status says so (`running: false`, `crashed`), rather than skipping events.
Its metrics (`WriterMetrics`) go to the registry of the process that hosts it, served on that process's /metrics.
Runs as a thread, inside the API process with embedded chDB (one process owns its data directory),
or as its own process (`kans serve writer`) against a ClickHouse server.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import prometheus_client as prom
from clickhouse_connect.driver.exceptions import ClickHouseError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from core.consumer_lag import PartitionLag, lag_report
from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from core.kafka_security import client_config
from core.metrics import ConsumerMetrics, new_registry
from core.pupil_vault import PupilVault
from core.settings import Settings
from core.topics import event_dead_letter_topic, events_topic
from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient

log = logging.getLogger(__name__)
CONSUMER_NAME = "clickhouse-writer"

COLUMNS = [
    "event_id", "event_type", "schema_version", "occurred_at", "recorded_at", "school_year", "source_system",
    "source_ref", "actor", "stream_id", "payload", "kafka_partition", "kafka_offset",
]  # fmt: skip


def event_row(value: bytes | None, partition: int, offset: int) -> list[Any]:
    """One `events` row from a Kafka record; raises BadRecord for a record that is not an event of the contract."""
    event = read_event(value)
    return [
        event.event_id, event.event_type, event.schema_version, event.occurred_at, event.recorded_at,
        event.school_year, event.source_system, event.source_ref, event.actor, event.stream_id,
        event.payload.model_dump_json(), partition, offset,
    ]  # fmt: skip


@dataclass
class WriterStatus:
    """What the API's /ready shows. `rejected`: records dead-lettered (all reasons; by reason in `dead_letters`).
    Lag (`core.consumer_lag`): measured at the start of every batch, after its commit, and every
    `writer_batch_wait_ms` when idle; null while unknown (before the first poll, or while Kafka is away).
    `crashed`: the exception that stopped the thread (a bug in the writer's code): it does not restart itself."""

    running: bool = False
    batches: int = 0
    rows_written: int = 0
    rejected: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    lag_events: int | None = None
    lag_seconds: float | None = None
    lag_partitions: list[dict[str, Any]] = field(default_factory=list)
    last_commit_monotonic: float | None = None
    last_error: str | None = None
    crashed: str | None = None


class WriterMetrics:
    """The writer's metrics: batches and rows committed, each batch's duration (from the records in hand to the
    commit: decoding, dead letters, ClickHouse insert and refold, commit), errors by kind (`kafka`: the broker
    away, `clickhouse`: a batch refused and retried, `crashed`: a bug stopped the thread), whether it runs; and, as
    a consumer (`core.metrics`), its dead letters by reason and its lag."""

    BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

    def __init__(self, registry: prom.CollectorRegistry) -> None:
        self.consumer = ConsumerMetrics(registry)
        self.batches = prom.Counter(
            "kans_writer_batches", "Batches committed (stored in ClickHouse, offsets committed).", registry=registry
        )
        self.rows = prom.Counter(
            "kans_writer_rows", "Events stored in ClickHouse by committed batches.", registry=registry
        )
        self.batch_seconds = prom.Histogram(
            "kans_writer_batch_duration_seconds", "From a batch's records in hand to its commit.",
            buckets=self.BATCH_BUCKETS, registry=registry,
        )  # fmt: skip
        self.errors = prom.Counter(
            "kans_writer_errors", "Errors by kind: kafka, clickhouse (batch retried), crashed.", ["kind"],
            registry=registry,
        )
        self.running = prom.Gauge("kans_writer_running", "1 while the writer thread runs.", registry=registry)


class ClickHouseWriter:
    def __init__(
        self, settings: Settings, client: ClickHouseClient, metrics: WriterMetrics | None = None,
        vault: PupilVault | None = None, writes: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._settings = settings
        # The pupil key vault: a PupilErased read here destroys the pupil's key (again: the ingest did it when the
        # event was acknowledged, unless it died in between). None where the vault is not reachable (tests).
        self._vault = vault
        self._client = client  # its own client (connection): the reads run beside it (state.py says why they may)
        # Held while a batch is stored: the API's reads of the event history wait for it (services/api/warehouse.py).
        self._writes = writes or threading.Lock()
        self._topic = events_topic(settings)
        self._dead_letter_topic = event_dead_letter_topic(settings)
        self._database = settings.clickhouse_database
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: KafkaProducer | None = None
        # Records dead-lettered since the last commit: a batch retried after a ClickHouse refusal does not send
        # their dead letters again. Timestamps (ms) of the last record committed per partition, for the lag.
        self._dead_lettered: set[tuple[str, int, int]] = set()
        self._last_committed_ms: dict[TopicPartition, int] = {}
        self._dead_letter_counts: Counter[str] = Counter()
        self.status = WriterStatus()
        self.metrics = metrics or WriterMetrics(new_registry())
        # Read at every scrape: what the status says now (lag measured by the thread; NaN while unknown).
        self.metrics.running.set_function(lambda: float(self.status.running))
        lag = self.metrics.consumer
        lag.lag_events.labels(consumer=CONSUMER_NAME, topic=self._topic).set_function(
            lambda: math.nan if self.status.lag_events is None else float(self.status.lag_events))
        lag.lag_seconds.labels(consumer=CONSUMER_NAME, topic=self._topic).set_function(
            lambda: math.nan if self.status.lag_seconds is None else self.status.lag_seconds)

    def start(self) -> None:
        self.status.running, self.status.crashed = True, None  # running from now on: /ready never sees a gap
        self._thread = threading.Thread(target=self.run, name="clickhouse-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **client_config(self._settings),
            group_id=f"{self._settings.topic_prefix}{self._settings.writer_group}",
            client_id="kans-clickhouse-writer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._settings.writer_batch_max,
            fetch_max_wait_ms=500,
            metadata_max_age_ms=10_000,
            # A writer killed without leaving the group holds its partitions until the broker gives up on its
            # heartbeats (sent by kafka-python's own thread, whatever a batch takes): 10 s, not the default 45.
            session_timeout_ms=10_000,
        )
        # Join the group only once the topic's partitions are known: a member that joins before the metadata
        # reached it gets no assignment and would wait for the next metadata refresh.
        if not consumer.partitions_for_topic(self._topic):
            consumer.close()
            raise KafkaError(f"topic {self._topic} has no partitions yet (run `kans topics create`)")
        consumer.subscribe([self._topic])
        return consumer

    def _dead_letter_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**client_config(self._settings), acks="all",
                                           client_id="kans-clickhouse-writer-dlq", linger_ms=5)  # fmt: skip
        return self._producer

    def run(self) -> None:
        self.status.running = True
        consumer: KafkaConsumer | None = None
        try:
            while not self._stop.is_set():
                try:
                    consumer = consumer or self._consumer()
                    self._step(consumer)
                except KafkaError as err:
                    self.metrics.errors.labels(kind="kafka").inc()
                    self.status.last_error = f"kafka: {err}"
                    self.status.lag_events = self.status.lag_seconds = None
                    log.warning("writer: Kafka unavailable (%s); retrying", err)
                    if consumer is not None:
                        consumer.close()
                        consumer = None
                    self._stop.wait(2.0)
        except Exception as err:  # a bug in the writer, not a bad record: say so, then let it stop the thread
            self.status.crashed = f"{type(err).__name__}: {err}"
            self.metrics.errors.labels(kind="crashed").inc()
            log.exception("writer: stopped by a bug (nothing after the last commit is skipped)")
            raise
        finally:
            if consumer is not None:
                consumer.close()
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
            self.status.running = False

    def _poll(self, consumer: KafkaConsumer) -> list[ConsumerRecord]:
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + self._settings.writer_batch_wait_ms / 1000
        while len(records) < self._settings.writer_batch_max and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=50, max_records=self._settings.writer_batch_max - len(records))
            records.extend(r for batch in polled.values() for r in batch)
            if not polled and records:
                break
        return records

    def _step(self, consumer: KafkaConsumer) -> None:
        records = self._poll(consumer)
        pending = _first_per_partition(records)
        self._measure_lag(consumer, pending)
        if not records:
            return
        started = time.monotonic()
        rows, bad = [], []
        for record in records:
            try:
                rows.append(event_row(record.value, record.partition, record.offset))
            except BadRecord as err:
                bad.append((record, err))
        self._dead_letter(bad)  # acknowledged by the broker before the offsets are committed
        try:
            if rows:
                with self._writes:
                    state.store(self._client, self._database, rows, COLUMNS)
        except ClickHouseError as err:  # ClickHouse refused or is away: rewind, keep the offsets, retry
            self.metrics.errors.labels(kind="clickhouse").inc()
            self.status.last_error = f"clickhouse: {err}"
            log.error("writer: ClickHouse refused a batch of %d (%s); will retry it", len(rows), err)
            for tp, (offset, _) in pending.items():
                consumer.seek(tp, offset)
            self._stop.wait(1.0)
            return
        if self._vault is not None:
            for row in rows:
                if row[1] == "PupilErased":
                    self._vault.erase(row[9])  # stream_id: the erased pupil's reference
        consumer.commit()
        self._dead_lettered.clear()
        for record in records:
            self._last_committed_ms[TopicPartition(record.topic, record.partition)] = record.timestamp
        self.status.batches += 1
        self.status.rows_written += len(rows)
        self.metrics.batches.inc()
        self.metrics.rows.inc(len(rows))
        self.metrics.batch_seconds.observe(time.monotonic() - started)
        self.status.last_commit_monotonic = time.monotonic()
        self.status.last_error = None
        self._measure_lag(consumer, {})

    def _dead_letter(self, bad: list[tuple[ConsumerRecord, BadRecord]]) -> None:
        """Send each bad record's dead letter and wait for the broker's acknowledgement (a KafkaError otherwise:
        the batch is then read again, uncommitted)."""
        sent = []
        for record, err in bad:
            origin_id = (record.topic, record.partition, record.offset)
            if origin_id in self._dead_lettered:
                continue
            origin = Origin(record.topic, record.partition, record.offset, record.timestamp, CONSUMER_NAME)
            letter = dead_letter(err, record.key, record.value, origin)
            future = self._dead_letter_producer().send(self._dead_letter_topic, key=letter.key, value=letter.value,
                                                       headers=letter.headers)  # fmt: skip
            sent.append((origin_id, err.reason, future))
        for origin_id, reason, future in sent:
            future.get(timeout=self._settings.publish_timeout_s)
            self._dead_lettered.add(origin_id)
            self._dead_letter_counts[reason] += 1
            self.metrics.consumer.dead_lettered(CONSUMER_NAME, reason)
        if sent:
            self.status.rejected += len(sent)
            self.status.dead_letters = dict(self._dead_letter_counts)  # a new dict: /ready reads it from its thread
            log.warning("writer: dead-lettered %d records to %s (%s)", len(sent), self._dead_letter_topic,
                        dict(Counter(reason for _, reason, _ in sent)))  # fmt: skip

    def _measure_lag(self, consumer: KafkaConsumer, pending: dict[TopicPartition, tuple[int, int]]) -> None:
        """Lag against the end offsets (from the last fetch; asked of the broker for a partition not fetched yet)."""
        assigned = consumer.assignment()
        if not assigned:  # not in the group yet: nothing known
            self.status.lag_events, self.status.lag_seconds, self.status.lag_partitions = None, None, []
            return
        ends = {tp: consumer.highwater(tp) for tp in assigned}
        if unknown := [tp for tp, end in ends.items() if end is None]:
            ends.update(consumer.end_offsets(unknown))
        partitions = []
        for tp in assigned:
            since: int | None
            if tp in pending:
                position, since = pending[tp]
            else:
                position, since = consumer.position(tp, timeout_ms=5000), self._last_committed_ms.get(tp)
            partitions.append(PartitionLag(tp.topic, tp.partition, ends[tp], position, since))
        report = lag_report(partitions, int(time.time() * 1000))
        self.status.lag_partitions = report["partitions"]
        self.status.lag_events, self.status.lag_seconds = report["lag_events"], report["lag_seconds"]


def _first_per_partition(records: list[ConsumerRecord]) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition, the offset and timestamp (ms) of the batch's first record: where a retry starts from."""
    first: dict[TopicPartition, tuple[int, int]] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        if tp not in first or record.offset < first[tp][0]:
            first[tp] = (record.offset, record.timestamp)
    return first
