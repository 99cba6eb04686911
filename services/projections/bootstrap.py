"""The projections worker's one wiring place: the faust app, its topics and tables built once from Settings, the
agents and pages registered on it. Nothing connects until the worker starts (`worker.py`)."""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics
from faust.types import TP, AppT
from mode import CrashingSupervisor

from core import topics
from core.faust_apps import new_faust_app
from core.faust_metrics import KansPrometheusMonitor
from core.faust_order import Ordering, commit_processed_only, watch_crashes
from core.kafka_security import client_config
from core.metrics import ConsumerMetrics, new_registry
from core.settings import Settings
from core.topics import event_dead_letter_topic, events_topic
from services.projections.agents import aggregate_provider_load, track_trajectories
from services.projections.progress import Offsets, Progress
from services.projections.topology import Topology, attach, topology_of
from services.projections.views import (
    metrics_page,
    provider_load_page,
    ready_page,
    trajectory_page,
    waiting_times_page,
)


def load_changes_topic(settings: Settings) -> str:
    """The internal topic between the two agents (faust's naming of an app's internal topics; made by ensure_topics)."""
    return topics.load_changes_topic(settings)


async def forget_revoked(app: AppT, revoked: set[TP], *args: Any, **kwargs: Any) -> None:
    topology = topology_of(app)
    topology.progress.forget(revoked)
    topology.ordering.forget(revoked)


def bootstrap(settings: Settings) -> faust.App:
    # Each worker its own data folder (several may run on one machine, each on its own web port).
    datadir = "faust" if settings.projections_port == 6066 else f"faust-projections-{settings.projections_port}"
    app = new_faust_app(settings, settings.projections_app_id, datadir, settings.projections_host,
                        settings.projections_port, table_standby_replicas=0)  # fmt: skip
    # Values are parsed and written at the agents' boundary (pydantic), so both topics carry raw bytes.
    events = app.topic(events_topic(settings), key_serializer="raw", value_serializer="raw")
    load_changes = app.topic(load_changes_topic(settings), partitions=settings.event_partitions, internal=True,
                             key_serializer="raw", value_serializer="raw")  # fmt: skip
    dead_letters = app.topic(event_dead_letter_topic(settings), key_serializer="raw", value_serializer="raw")
    # Keys are raw bytes, values JSON: the changelog serializers follow from key_type/value_type.
    trajectories = app.Table("trajectories", default=None, key_type=bytes)
    provider_load = app.Table("provider-load", default=None, key_type=bytes)
    offsets = Offsets(client_config(settings))
    # Metrics (/metrics): faust's Prometheus sensor (messages in and out per topic, table operations, commits,
    # rebalances, web requests; prefix kans_projections_), the agents' dead letters and lag (core.metrics).
    registry = new_registry()
    app.monitor = KansPrometheusMonitor(metrics=FaustMetrics.create(registry, "kans_projections"))
    metrics = ConsumerMetrics(registry)
    progress = Progress(metrics=metrics)
    # Each partition in order, and offsets committed are the agents' positions (core/faust_order.py).
    ordering = Ordering(offsets.beginnings, positions=progress.positions, metrics=metrics)
    attach(app, Topology(load_changes, trajectories, provider_load, dead_letters, events_topic(settings),
                         load_changes_topic(settings), offsets, progress, registry, ordering))  # fmt: skip
    commit_processed_only(app.consumer, ordering, (events_topic(settings), load_changes_topic(settings)))
    app.on_before_shutdown.connect(lambda *args, **kwargs: offsets.close())
    app.on_partitions_revoked.connect(forget_revoked)  # type: ignore[arg-type]  # faust's signal typing

    # A bug in an agent stops the worker (and the supervisor restarts it from the committed offsets) rather
    # than silently skipping the event that triggered it, which is what faust's default restart would do.
    # A bad record is not a bug: the agents dead-letter it and go on (agents.py).
    watch_crashes(app.agent(events, supervisor_strategy=CrashingSupervisor)(track_trajectories), ordering)
    watch_crashes(app.agent(load_changes, supervisor_strategy=CrashingSupervisor)(aggregate_provider_load), ordering)
    app.timer(1.0, name="projections.retry_rewinds")(ordering.retry_rewinds)
    app.page("/provider-load")(provider_load_page)
    app.page("/waiting-times")(waiting_times_page)
    app.page("/trajectories/{trajectory_id}")(trajectory_page)
    app.page("/ready")(ready_page)
    app.page("/metrics")(metrics_page)
    return app
