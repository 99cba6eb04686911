"""The audit trail in ClickHouse: a small consumer of `kans.audit.v1` that stores each record in `audit_log`, and the
desk's query over it.

A second consumer rather than a second topic for the event writer: the audit records are not events of the
contract, have their own retention and their own readers, and the event writer's batches refold the current-state
facts, which audit records must never wait for. Offsets are committed only after ClickHouse took a batch
(at-least-once); a redelivered record has the same audit_id and collapses (ReplacingMergeTree, read FINAL).
A record that is not an audit record (only the read API writes the topic; on a secured broker only its principal
may) is logged and counted in `status.rejected`, and the writer moves on: it is still in the topic for anyone to see.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pydantic import ValidationError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import AUDIT_WRITER_GROUP, audit_topic
from schemas.audit import AuditRecord, utc
from services.warehouse.clickhouse import ClickHouseClient

log = logging.getLogger(__name__)
COLUMNS = [
    "audit_id", "at", "subject", "role", "scope", "client", "method", "route", "referral_id", "trajectory_id",
    "detail", "status", "outcome", "reason", "schema_version", "kafka_partition", "kafka_offset",
]  # fmt: skip
RECORD_FIELDS = [c for c in COLUMNS if c not in ("kafka_partition", "kafka_offset")]
MAX_ROWS = 1000


def audit_row(record: AuditRecord, partition: int, offset: int) -> list[Any]:
    return [*(getattr(record, name) for name in RECORD_FIELDS), partition, offset]


@dataclass
class AuditWriterStatus:
    running: bool = False
    rows_written: int = 0
    rejected: int = 0
    last_error: str | None = None
    crashed: str | None = None


class AuditWriter:
    """Kafka `kans.audit.v1` -> ClickHouse `audit_log`, as a thread (in the API process with embedded chDB)."""

    def __init__(self, settings: Settings, client: ClickHouseClient) -> None:
        self._settings, self._client = settings, client  # its own client (a server session takes one call at a time)
        self._topic, self._table = audit_topic(settings), f"{settings.clickhouse_database}.audit_log"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = AuditWriterStatus()

    def start(self) -> None:
        self.status.running = True
        self._thread = threading.Thread(target=self.run, name="audit-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **client_config(self._settings), group_id=f"{self._settings.topic_prefix}{AUDIT_WRITER_GROUP}",
            client_id="kans-audit-writer", enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=500, fetch_max_wait_ms=500, metadata_max_age_ms=10_000, session_timeout_ms=10_000,
        )  # fmt: skip
        if not consumer.partitions_for_topic(self._topic):
            consumer.close()
            raise KafkaError(f"topic {self._topic} has no partitions yet (run `kans topics create`)")
        consumer.subscribe([self._topic])
        return consumer

    def run(self) -> None:
        consumer: KafkaConsumer | None = None
        try:
            while not self._stop.is_set():
                try:
                    consumer = consumer or self._consumer()
                    self._step(consumer)
                except KafkaError as err:
                    self.status.last_error = f"kafka: {err}"
                    log.warning("audit writer: Kafka unavailable (%s); retrying", err)
                    if consumer is not None:
                        consumer.close()
                        consumer = None
                    self._stop.wait(2.0)
        except Exception as err:  # a bug: say so and stop (nothing after the last commit is skipped)
            self.status.crashed = f"{type(err).__name__}: {err}"
            log.exception("audit writer: stopped by a bug")
            raise
        finally:
            if consumer is not None:
                consumer.close()
            self.status.running = False

    def _step(self, consumer: KafkaConsumer) -> None:
        polled = consumer.poll(timeout_ms=200, max_records=500)
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return
        rows = []
        for record in records:
            try:
                rows.append(audit_row(AuditRecord.model_validate_json(record.value or b""), record.partition,
                                      record.offset))  # fmt: skip
            except ValidationError as err:
                self.status.rejected += 1
                log.error("audit writer: %s[%d]@%d is not an audit record (%d errors); left in the topic",
                          record.topic, record.partition, record.offset, err.error_count())  # fmt: skip
        try:
            if rows:
                self._client.insert(self._table, rows, column_names=COLUMNS)
        except ClickHouseError as err:  # retry the batch from its first offsets
            self.status.last_error = f"clickhouse: {err}"
            log.error("audit writer: ClickHouse refused %d records (%s); will retry", len(rows), err)
            for tp, batch in polled.items():
                consumer.seek(tp, min(r.offset for r in batch))
            self._stop.wait(1.0)
            return
        consumer.commit()
        self.status.rows_written += len(rows)
        self.status.last_error = None


def audit_records(client: ClickHouseClient, database: str, subject: str | None, referral_id: str | None,
                  trajectory_id: str | None, since: datetime | None, limit: int) -> list[AuditRecord]:  # fmt: skip
    """The audit trail, newest first, filtered by subject, referral, trajectory and time (all bound parameters)."""
    where, params = ["1"], {"limit": min(limit, MAX_ROWS)}
    for column, value in (("subject", subject), ("referral_id", referral_id), ("trajectory_id", trajectory_id)):
        if value is not None:
            where.append(f"{column} = {{{column}:String}}")
            params[column] = value  # type: ignore[assignment]
    if since is not None:
        where.append("at >= toDateTime64({since:String}, 3, 'UTC')")
        params["since"] = utc(since).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]  # type: ignore[assignment]
    sql = (f"SELECT {', '.join(RECORD_FIELDS)} FROM {database}.audit_log FINAL WHERE {' AND '.join(where)} "
           "ORDER BY at DESC, audit_id LIMIT {limit:UInt32}")  # fmt: skip
    result = client.query(sql, parameters=params)
    out = []
    for row in result.result_rows:
        item = dict(zip(result.column_names, row, strict=True))
        item["at"] = utc(item["at"])
        item["scope"] = list(item["scope"])
        out.append(AuditRecord.model_validate(item))
    return out
