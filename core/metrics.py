"""Prometheus metrics every service shares (prometheus-client): one registry per process (per app, so tests can build
several in one process), the consumers' dead letters and lag. Each service adds its own metrics to the registry its
wiring module creates, and serves it on `/metrics`.

Labels name services, consumers, topics, reasons, source systems, event types, routes and statuses: bounded sets.
Never a pupil key, a referral or trajectory id, or anything else taken from a record or a path (cardinality and
privacy).
"""

from __future__ import annotations

import math

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "ConsumerMetrics", "exposition", "new_registry"]


def new_registry() -> CollectorRegistry:
    """A registry with the process's own figures (CPU, memory, open files, start time, GC, Python version). The
    `*_created` timestamps of counters are left out (process-wide: the start time says as much)."""
    disable_created_metrics()
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus' text format (served with CONTENT_TYPE_LATEST)."""
    return generate_latest(registry)


class ConsumerMetrics:
    """What every consumer of a topic reports: records dead-lettered by consumer and reason, and its lag per topic
    in events and in seconds (`core.consumer_lag`; NaN while unknown). `consumer` is the name its dead letters carry
    in their `consumer` header (`clickhouse-writer`, `projections.track_trajectories`, `inbound`, ...)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.dead_letters = Counter(
            "kans_dead_letters", "Records sent to a dead-letter topic, by consumer and reason.",
            ["consumer", "reason"], registry=registry,
        )  # fmt: skip
        self.lag_events = Gauge(
            "kans_consumer_lag_events", "Records of the topic not yet processed by the consumer (NaN: unknown now).",
            ["consumer", "topic"], registry=registry,
        )  # fmt: skip
        self.lag_seconds = Gauge(
            "kans_consumer_lag_seconds",
            "Age of the oldest record not yet processed, at most (0 when caught up; NaN: unknown now).",
            ["consumer", "topic"], registry=registry,
        )  # fmt: skip

        self.rewinds = Counter(
            "kans_consumer_rewinds",
            "Times the consumer was sent back to offsets of a topic its client skipped (faust, around a rebalance).",
            ["topic"], registry=registry,
        )  # fmt: skip

    def rewound(self, topic: str) -> None:
        self.rewinds.labels(topic=topic).inc()

    def dead_lettered(self, consumer: str, reason: str) -> None:
        self.dead_letters.labels(consumer=consumer, reason=reason).inc()

    def lag(self, consumer: str, topic: str, events: int | None, seconds: float | None) -> None:
        self.lag_events.labels(consumer=consumer, topic=topic).set(math.nan if events is None else events)
        self.lag_seconds.labels(consumer=consumer, topic=topic).set(math.nan if seconds is None else seconds)
