"""The worker's topology as the agents and views find it: the load-changes channel, the two tables, where dead
letters go and how far the agents have got.

`bootstrap` builds it once and attaches it to the faust app; an agent reaches it through its stream's app, a
page through its view's app (as FastAPI routes find theirs in `app.state`). A test may replace the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from faust.types import TP, AppT, ChannelT, TableT
from prometheus_client import CollectorRegistry

from core.faust_order import Ordering
from core.metrics import new_registry
from services.projections.progress import Offsets, Progress

_ATTRIBUTE = "kans_projections"


@dataclass(frozen=True)
class Topology:
    """`load_changes`: where `track_trajectories` sends (the internal topic; an in-memory channel in a test).
    `trajectories`: trajectory id -> TrajectoryState.to_dict(). `provider_load`: provider|module -> row.
    Keys are bytes; both tables are in memory, rebuilt from their changelogs when the worker restarts.
    `dead_letters`: the event log's dead-letter topic (a channel in a test). `events_topic`, `load_changes_topic`:
    the names the agents read, whose lag the pages report, with `offsets` asked of the broker. `registry`: the
    process's metrics, served on /metrics (faust's sensor, and the dead letters and lag `progress` reports)."""

    load_changes: ChannelT[Any]
    trajectories: TableT[bytes, Any]
    provider_load: TableT[bytes, Any]
    dead_letters: ChannelT[Any]
    events_topic: str
    load_changes_topic: str
    offsets: Offsets
    progress: Progress = field(default_factory=Progress)
    registry: CollectorRegistry = field(default_factory=new_registry)
    ordering: Ordering = field(default_factory=lambda: Ordering(beginnings=_nothing_known))


async def _nothing_known(tps: list[TP]) -> dict[TP, int]:
    return {}


def attach(app: AppT, topology: Topology) -> None:
    setattr(app, _ATTRIBUTE, topology)


def topology_of(app: AppT) -> Topology:
    return cast(Topology, getattr(app, _ATTRIBUTE))
