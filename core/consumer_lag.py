"""Consumer lag, in events and in seconds, as every consumer of the log reports it (pure: the consumer measures).

Events: per partition, the end offset (the offset the next record produced will get) minus the consumer's position
(the offset of the first record it has not processed yet), summed over its partitions.

Seconds: the age of the oldest record not processed yet, by the records' timestamps (the producer's clock), 0 when
caught up. A consumer knows that record's timestamp when it holds it (a batch being written); otherwise it gives the
timestamp of the last record it processed in that partition, the closest it has seen: the record waiting is newer,
so the age reported is an upper bound ("at most"). Unknown (null) until the consumer has seen a record there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartitionLag:
    """`pending_since_ms`: the timestamp of the oldest record not processed yet, or an older bound; None: unknown."""

    topic: str
    partition: int
    end: int
    position: int
    pending_since_ms: int | None = None

    @property
    def events(self) -> int:
        return max(0, self.end - self.position)

    def seconds(self, now_ms: int) -> float | None:
        if self.events == 0:
            return 0.0
        if self.pending_since_ms is None:
            return None
        return round(max(0, now_ms - self.pending_since_ms) / 1000, 3)


def lag_report(partitions: Iterable[PartitionLag], now_ms: int) -> dict[str, Any]:
    """`lag_events` (summed), `lag_seconds` (the oldest partition's; null if a lagging partition's is unknown),
    and each partition's figures."""
    parts = sorted(partitions, key=lambda p: (p.topic, p.partition))
    seconds = [p.seconds(now_ms) for p in parts]
    return {
        "lag_events": sum(p.events for p in parts),
        "lag_seconds": None if None in seconds else max((s for s in seconds if s is not None), default=0.0),
        "partitions": [
            {"topic": p.topic, "partition": p.partition, "end": p.end, "position": p.position,
             "lag_events": p.events, "lag_seconds": s}
            for p, s in zip(parts, seconds, strict=True)
        ],
    }  # fmt: skip


def as_of_offsets(partitions: Iterable[PartitionLag]) -> dict[str, dict[str, int]]:
    """What a view reflects: per topic and partition, the offset of the first record not processed yet."""
    offsets: dict[str, dict[str, int]] = {}
    for p in sorted(partitions, key=lambda p: (p.topic, p.partition)):
        offsets.setdefault(p.topic, {})[str(p.partition)] = p.position
    return offsets
