"""How far the worker's agents have got: the position each processed in each partition, their dead letters, and
from these the lag of a view (`core.consumer_lag`) that the pages show with every answer.

An agent records a message once it is done with it (applied, or dead-lettered and acknowledged by the broker). The
end offsets are asked of the broker when a page asks for the lag (after the question arrived: a record acknowledged
before it is counted), so a view never claims to be fresher than it is. They are asked with a small kafka-python
client of the worker's own: faust's consumer answers such questions through its fetch thread, seconds late.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP, AppT
from faust.types.tuples import Message
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from core.consumer_lag import PartitionLag, as_of_offsets, lag_report
from core.faust_order import committed_offset
from core.metrics import ConsumerMetrics

log = logging.getLogger(__name__)
OFFSETS_TIMEOUT_S = 2.0


@dataclass
class Progress:
    """Per partition the offset after the last message processed and that message's timestamp (ms); the dead
    letters sent, per agent and reason (also counted in `metrics`, when given)."""

    positions: dict[TP, int] = field(default_factory=dict)
    timestamps_ms: dict[TP, int] = field(default_factory=dict)
    dead_letters: dict[str, Counter[str]] = field(default_factory=dict)
    metrics: ConsumerMetrics | None = None

    def processed(self, message: Message) -> None:
        self.positions[message.tp] = message.offset + 1
        self.timestamps_ms[message.tp] = int(message.timestamp * 1000)

    def forget(self, partitions: Collection[TP]) -> None:
        """Partitions revoked: what was processed there says nothing about where they resume."""
        for tp in partitions:
            self.positions.pop(tp, None)
            self.timestamps_ms.pop(tp, None)

    def dead_lettered(self, consumer: str, reason: str) -> None:
        self.dead_letters.setdefault(consumer, Counter())[reason] += 1
        if self.metrics is not None:
            self.metrics.dead_lettered(consumer, reason)

    def dead_letter_counts(self) -> dict[str, dict[str, int]]:
        return {consumer: dict(counts) for consumer, counts in sorted(self.dead_letters.items())}


class Offsets:
    """End and beginning offsets asked of the broker (one connection, opened on first use, one question at a time)."""

    def __init__(self, connection: dict[str, Any]) -> None:
        self._connection = connection  # core.kafka_security.client_config: bootstrap servers and credentials
        self._client: KafkaConsumer | None = None
        self._lock = threading.Lock()

    def _ask(self, tps: list[TP], end: bool) -> dict[TP, int]:
        with self._lock:
            if self._client is None:
                self._client = KafkaConsumer(**self._connection, group_id=None,
                                             client_id="kans-projections-lag", enable_auto_commit=False)  # fmt: skip
            partitions = [TopicPartition(tp.topic, tp.partition) for tp in tps]
            ask = self._client.end_offsets if end else self._client.beginning_offsets
            found = ask(partitions, timeout_ms=int(OFFSETS_TIMEOUT_S * 1000))
        return {TP(tp.topic, tp.partition): offset for tp, offset in found.items()}

    async def ends(self, tps: list[TP]) -> dict[TP, int]:
        return await asyncio.to_thread(self._ask, tps, True)

    async def beginnings(self, tps: list[TP]) -> dict[TP, int]:
        return await asyncio.to_thread(self._ask, tps, False)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


async def partition_lags(
    app: AppT, progress: Progress, offsets: Offsets, topics: Collection[str]
) -> list[PartitionLag] | None:
    """The lag of every assigned partition of `topics`; None when it cannot be known now (no assignment, or the
    broker did not tell the end offsets in time)."""
    assigned = sorted(tp for tp in app.consumer.assignment() if tp.topic in topics)
    if not assigned:
        return None
    # Before an agent processed anything in a partition since the start: the committed offset, else the beginning.
    known = {tp: progress.positions.get(tp) or committed_offset(app, tp) for tp in assigned}
    try:
        ends = await offsets.ends(assigned)
        if unknown := [tp for tp, position in known.items() if position is None]:
            known.update(await offsets.beginnings(unknown))
    except KafkaError as err:
        log.warning("end offsets not known now (%s): lag unknown", err)
        return None
    lags = []
    for tp in assigned:
        position = known.get(tp) or 0
        lags.append(PartitionLag(tp.topic, tp.partition, max(ends.get(tp) or 0, position), position,
                                 progress.timestamps_ms.get(tp)))  # fmt: skip
    return lags


async def freshness(app: AppT, progress: Progress, offsets: Offsets, topics: Collection[str]) -> dict[str, Any]:
    """What a view answer adds: `lag_events`, `lag_seconds` and `as_of_offsets` (null when unknown)."""
    lags = await partition_lags(app, progress, offsets, topics)
    if lags is None:
        return {"lag_events": None, "lag_seconds": None, "as_of_offsets": None}
    report = lag_report(lags, int(time.time() * 1000))
    positions = as_of_offsets(lags)
    return {"lag_events": report["lag_events"], "lag_seconds": report["lag_seconds"], "as_of_offsets": positions}


def lag_headers(fresh: dict[str, Any]) -> dict[str, str]:
    """`X-Consumer-Lag` (events not yet reflected) and `X-Consumer-Lag-Seconds`; `unknown` when not known."""
    events, seconds = fresh["lag_events"], fresh["lag_seconds"]
    return {"X-Consumer-Lag": "unknown" if events is None else str(events),
            "X-Consumer-Lag-Seconds": "unknown" if seconds is None else str(seconds)}  # fmt: skip


async def lag_by_topic(app: AppT, progress: Progress, offsets: Offsets, topics: Collection[str]) -> dict[str, Any]:
    """For the readiness page: each topic's lag report (events, seconds, partitions), null when unknown."""
    lags = await partition_lags(app, progress, offsets, topics)
    now = int(time.time() * 1000)
    return {topic: None if lags is None else lag_report([p for p in lags if p.topic == topic], now) for topic in topics}
