"""The event log read from Kafka, from its beginning to its current end, in one deterministic order: the what-if
replay's input (`kans dispatch what-if`). The log is partitioned by stream (referral, provider), so its partitions are
merged by the events' recorded_at, then partition and offset; each partition keeps its own order. A record that is
not an event of the contract is skipped and counted (the consumers dead-letter it; a replay only reads).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from core.dead_letters import BadRecord, read_event
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import events_topic
from schemas.envelope import Envelope

Record = tuple[int, bytes | None]  # (offset, value)


@dataclass(frozen=True)
class History:
    events: list[Envelope]  # in log order
    records: int
    bad_records: int  # not events of the contract: skipped
    partitions: int


def in_log_order(partitions: Mapping[int, Sequence[Record]]) -> History:
    """The events of the partitions' records (each partition's in offset order), merged by recorded_at, then
    partition and offset."""
    bad = 0

    def read(partition: int, records: Sequence[Record]) -> Iterator[tuple[Any, int, int, Envelope]]:
        nonlocal bad
        for offset, value in records:
            try:
                event = read_event(value)
            except BadRecord:
                bad += 1
                continue
            yield event.recorded_at, partition, offset, event

    parsed = [list(read(p, records)) for p, records in sorted(partitions.items())]
    merged = [event for *_, event in heapq.merge(*parsed, key=lambda item: item[:3])]
    return History(merged, sum(len(r) for r in partitions.values()), bad, len(partitions))


def read_history(settings: Settings, timeout_s: float = 300.0) -> History:
    """Every record of the event log up to its end offsets when reading began (a kafka-python consumer without a
    group: it commits nothing), in log order."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False,
                             client_id="kans-dispatch-what-if", max_partition_fetch_bytes=8 * 1024 * 1024,
                             max_poll_records=5000)  # fmt: skip
    try:
        topic = events_topic(settings)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise LookupError(f"the event log {topic} does not exist")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: dict[int, list[Record]] = {tp.partition: [] for tp in partitions}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the event log was not read to its end in {timeout_s:g} s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records[tp.partition].extend((r.offset, r.value) for r in batch if r.offset < ends[tp])
        return in_log_order(records)
    finally:
        consumer.close()
