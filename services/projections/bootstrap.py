"""The projections worker's one wiring place: the faust app, its topics and tables built once from Settings, the
agents and pages registered on it. Nothing connects until the worker starts (`worker.py`)."""

from __future__ import annotations

import faust
from mode import CrashingSupervisor

from core.faust_apps import new_faust_app
from core.settings import Settings
from core.topics import events_topic
from services.projections.agents import aggregate_provider_load, track_trajectories
from services.projections.topology import Topology, attach
from services.projections.views import provider_load_page, ready_page, trajectory_page, waiting_times_page


def load_changes_topic(settings: Settings) -> str:
    """The internal topic between the two agents (faust's naming of an app's internal topics)."""
    return f"{settings.topic_prefix}{settings.projections_app_id}-load-changes"


def bootstrap(settings: Settings) -> faust.App:
    app = new_faust_app(settings, settings.projections_app_id, "faust", settings.projections_host,
                        settings.projections_port, table_standby_replicas=0)  # fmt: skip
    # Values are parsed and written at the agents' boundary (pydantic), so both topics carry raw bytes.
    events = app.topic(events_topic(settings), key_serializer="raw", value_serializer="raw")
    load_changes = app.topic(load_changes_topic(settings), partitions=settings.event_partitions, internal=True,
                             key_serializer="raw", value_serializer="raw")  # fmt: skip
    # Keys are raw bytes, values JSON: the changelog serializers follow from key_type/value_type.
    trajectories = app.Table("trajectories", default=None, key_type=bytes)
    provider_load = app.Table("provider-load", default=None, key_type=bytes)
    attach(app, Topology(load_changes, trajectories, provider_load))

    # A bug in an agent stops the worker (and the supervisor restarts it from the committed offsets) rather
    # than silently skipping the event that triggered it, which is what faust's default restart would do.
    app.agent(events, supervisor_strategy=CrashingSupervisor)(track_trajectories)
    app.agent(load_changes, supervisor_strategy=CrashingSupervisor)(aggregate_provider_load)
    app.page("/provider-load")(provider_load_page)
    app.page("/waiting-times")(waiting_times_page)
    app.page("/trajectories/{trajectory_id}")(trajectory_page)
    app.page("/ready")(ready_page)
    return app
