"""The dispatch worker's topology as the agents and pages find it: the feed (every event the rules read, in one
partition), the state tables, where outputs and dead letters go, the rule set, and what the agents have seen.

Why one partition: a decision reads the whole desk at once (every provider's catalogue and load, every waiting list),
while the event log is spread over partitions by referral and provider. `route_events` forwards what the rules read
to the feed; `decide` reads it alone, in one order, and keeps every table in that one partition, so every write of a
table has one order and a restart restores exactly the state it left.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from faust.types import TP, AppT, ChannelT, TableT
from prometheus_client import CollectorRegistry

from core.faust_order import Ordering
from core.metrics import ConsumerMetrics, new_registry
from services.dispatch.ruleset import RuleSet

_ATTRIBUTE = "kans_dispatch"


@dataclass
class Seen:
    """Messages each agent processed, dead letters per agent and reason, and what was published."""

    processed: Counter[str] = field(default_factory=Counter)
    dead_letters: dict[str, Counter[str]] = field(default_factory=dict)
    published: Counter[str] = field(default_factory=Counter)
    metrics: ConsumerMetrics | None = None

    def dead_lettered(self, consumer: str, reason: str) -> None:
        self.dead_letters.setdefault(consumer, Counter())[reason] += 1
        if self.metrics is not None:
            self.metrics.dead_lettered(consumer, reason)


@dataclass(frozen=True)
class Topology:
    """`feed`: the internal one-partition topic (a channel in a test); `inbound`: the ingest's Kafka way in, where the
    outputs go as submissions with `api_key` (a channel in a test); `tables`: name -> faust table (see
    `store.TABLES`), in memory, rebuilt from their changelogs on restart. `ordering`: each partition in order, commits
    of what was processed only, who gave up (core/faust_order.py)."""

    feed: ChannelT[Any]
    inbound: ChannelT[Any]
    api_key: str
    dead_letters: ChannelT[Any]
    tables: dict[str, TableT[str, Any]]
    rules: RuleSet
    events_topic: str
    feed_topic: str
    seen: Seen = field(default_factory=Seen)
    registry: CollectorRegistry = field(default_factory=new_registry)
    ordering: Ordering = field(default_factory=lambda: Ordering(beginnings=_nothing_known))


async def _nothing_known(tps: list[TP]) -> dict[TP, int]:
    return {}


def attach(app: AppT, topology: Topology) -> None:
    setattr(app, _ATTRIBUTE, topology)


def topology_of(app: AppT) -> Topology:
    return cast(Topology, getattr(app, _ATTRIBUTE))
