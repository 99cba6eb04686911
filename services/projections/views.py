"""The worker's HTTP pages (internal; the API serves them to users): provider load, waiting times, one
trajectory's state, readiness. Load and waiting times answer 503 until the tables are restored.

Every view answer says how fresh it is: `lag_events` (records of the topics behind it not yet reflected),
`lag_seconds` (at most this old: `core.consumer_lag`) and `as_of_offsets` (per topic and partition, the first
record not reflected yet), in the body and in the headers `X-Consumer-Lag` and `X-Consumer-Lag-Seconds`. Load and
waiting times depend on both agents (events and load changes), a trajectory's state on the events alone.

More than one worker may run (faust splits the partitions between them, the event log's and the load-changes'
together): each page answers from the partitions this worker holds now, says which (`partitions`), and tags each
row with its own `partition`, so the API can ask every worker, check that every partition was answered for exactly
once, and merge (services/api/projections.py). A row of a partition this worker no longer holds (the in-memory
table keeps what it wrote until the next recovery) is never shown."""

from __future__ import annotations

from datetime import date
from typing import Any

from faust.types import AppT
from faust.web import Request, Response, View

from core.metrics import CONTENT_TYPE_LATEST, exposition
from schemas.envelope import school_year_of
from services.projections import provider_load as rows
from services.projections.agents import AGGREGATE, TRACK
from services.projections.progress import freshness, lag_by_topic, lag_headers
from services.projections.topology import Topology, topology_of
from services.projections.trajectory_state import TrajectoryState

# What the trajectory page leaves out: the state's bookkeeping, not where the trajectory stands.
INTERNAL_FIELDS = frozenset({"applied", "wait_reported", "left", "wait_key", "wait_school_year", "wait_days",
                             "half_days_at", "partition"})  # fmt: skip


def is_ready(app: AppT) -> bool:
    """Tables restored from their changelogs, partitions assigned to both agents, no rebalance under way, no agent
    crashed."""
    return (
        not topology_of(app).ordering.crashed
        and app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        and not getattr(app, "in_recovery", False)
        and not app.rebalancing
        and both_agents_assigned(app)
    )


def both_agents_assigned(app: AppT) -> bool:
    """Each event-log partition this worker holds comes with the load-changes partition of the same number (faust
    assigns co-partitioned topics together). A worker that holds event partitions but none of the internal topic's
    (it subscribed before the topic existed, and faust ignored it) counts load nobody aggregates: not ready."""
    topology = topology_of(app)
    assigned = app.consumer.assignment()
    events = {tp.partition for tp in assigned if tp.topic == topology.events_topic}
    changes = {tp.partition for tp in assigned if tp.topic == topology.load_changes_topic}
    return bool(events) and events == changes


def _restoring(view: View) -> Response:
    return view.json({"detail": "the projections are being restored from their changelogs"}, status=503)


async def _fresh_json(view: View, topics: tuple[str, ...], body: dict[str, Any], status: int = 200) -> Response:
    topology = topology_of(view.app)
    fresh = await freshness(view.app, topology.progress, topology.offsets, topics)
    return view.json({**body, **fresh}, status=status, headers=lag_headers(fresh))


def _both(topology: Topology) -> tuple[str, ...]:
    return (topology.events_topic, topology.load_changes_topic)


def held(app: AppT, topic: str) -> set[int]:
    """The partitions of `topic` assigned to this worker now."""
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}


def _rows(app: AppT) -> tuple[set[int], list[dict[str, Any]]]:
    """The partitions of load-changes this worker holds, and the provider-load rows of those partitions (a row
    stored before rows named their partition counts as held: one worker held everything then)."""
    topology = topology_of(app)
    partitions = held(app, topology.load_changes_topic)
    stored = sorted(topology.provider_load.items())
    return partitions, [row for _, row in stored if row is not None and row.get("partition", -1) in partitions | {-1}]


async def provider_load_page(view: View, request: Request) -> Response:
    """Active and waiting trajectories against capacity per provider and module, on `date` (default today)."""
    if not is_ready(view.app):
        return _restoring(view)
    day = date.fromisoformat(request.query.get("date") or date.today().isoformat())
    partitions, stored = _rows(view.app)
    views = [{**rows.load_view(r, day), "partition": r.get("partition")} for r in stored]
    # A withdrawn module drops out of the view once nobody is running or waiting there any more.
    views = [v for v in views if v["offered"] or v["active"] or v["waiting"]]
    body = {"as_of": day.isoformat(), "rows": views, "partitions": sorted(partitions)}
    return await _fresh_json(view, _both(topology_of(view.app)), body)


async def waiting_times_page(view: View, request: Request) -> Response:
    """Dispatch -> start waiting times per provider and module in `school_year` (default the current one)."""
    if not is_ready(view.app):
        return _restoring(view)
    year = request.query.get("school_year") or school_year_of(date.today())
    partitions, stored = _rows(view.app)
    views = [{**rows.waiting_view(r, year), "partition": r.get("partition")} for r in stored]
    body = {"school_year": year, "rows": views, "partitions": sorted(partitions)}
    return await _fresh_json(view, _both(topology_of(view.app)), body)


async def trajectory_page(view: View, request: Request, trajectory_id: str) -> Response:
    """Where one trajectory stands, and how many of its events were applied."""
    topology = topology_of(view.app)
    partitions = held(view.app, topology.events_topic)
    stored = topology.trajectories.get(trajectory_id.encode())
    if stored is not None and stored.get("partition", -1) not in partitions | {-1}:
        stored = None  # another worker's now
    if stored is None:  # not known, or not yet, or not here: the lag and the partitions say which it may be
        unknown: dict[str, Any] = {"detail": f"unknown trajectory {trajectory_id}", "partitions": sorted(partitions)}
        return await _fresh_json(view, (topology.events_topic,), unknown, status=404)
    state = TrajectoryState.from_dict(stored)
    shown = {k: v for k, v in stored.items() if k not in INTERNAL_FIELDS}
    body = {**shown, "status": state.status, "events_applied": len(state.applied), "partitions": sorted(partitions)}
    return await _fresh_json(view, (topology.events_topic,), body)


async def ready_page(view: View, request: Request) -> Response:
    """Readiness, each topic's lag (events, seconds, partitions), the dead letters sent per agent and reason, the
    rewinds per topic (`core.faust_order.Ordering`) and the agents that crashed."""
    ready = is_ready(view.app)
    topology = topology_of(view.app)
    body = {
        "ready": ready,
        "lag": await lag_by_topic(view.app, topology.progress, topology.offsets, _both(topology)),
        "dead_letters": topology.progress.dead_letter_counts(),
        "rewinds": dict(sorted(topology.ordering.rewound.items())),
        "crashed_agents": list(topology.ordering.crashed),
        "partitions": {topic: sorted(held(view.app, topic)) for topic in _both(topology)},
    }
    return view.json(body, status=200 if ready else 503)


async def metrics_page(view: View, request: Request) -> Response:
    """Prometheus: each agent's lag measured now (the events topic is `track_trajectories`' input, the load changes
    `aggregate_provider_load`'s), then every metric of the process's registry."""
    topology = topology_of(view.app)
    metrics = topology.progress.metrics
    if metrics is not None:
        lags = await lag_by_topic(view.app, topology.progress, topology.offsets, _both(topology))
        for consumer, topic in ((TRACK, topology.events_topic), (AGGREGATE, topology.load_changes_topic)):
            lag = lags[topic]
            metrics.lag(consumer, topic, lag and lag["lag_events"], lag and lag["lag_seconds"])
    return view.bytes(exposition(topology.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
