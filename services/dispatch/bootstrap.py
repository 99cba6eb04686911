"""The dispatch worker's one wiring place: the faust app, its topics, tables, rule set, agents and pages, built once
from Settings. Nothing connects until the worker starts (`worker.py`)."""

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
from core.metrics import ConsumerMetrics, new_registry
from core.settings import DEV_DISPATCH_API_KEY, Settings
from core.topics import event_dead_letter_topic, events_topic, inbound_topic
from services.dispatch.agents import decide, route_events
from services.dispatch.ruleset import DEFAULT_RULES, load_rule_set
from services.dispatch.store import TABLES
from services.dispatch.topology import Seen, Topology, attach, topology_of
from services.dispatch.views import (
    catalogue_page,
    metrics_page,
    placement_page,
    proposals_page,
    ready_page,
    waiting_lists_page,
)


def feed_topic(settings: Settings) -> str:
    """The internal one-partition topic between the two agents (faust's naming; made by ensure_topics)."""
    return topics.dispatch_feed_topic(settings)


async def forget_revoked(app: AppT, revoked: set[TP], *args: Any, **kwargs: Any) -> None:
    topology_of(app).ordering.forget(revoked)


def bootstrap(settings: Settings) -> faust.App:
    api_key = settings.dispatch_api_key.get_secret_value()
    if settings.environment == "production" and api_key == DEV_DISPATCH_API_KEY:
        raise ValueError("KANS_DISPATCH_API_KEY must be the dispatch service's own key: the development key is public")
    # A worker killed without leaving the group holds its partitions until the broker gives up on it: 10 s.
    app = new_faust_app(settings, settings.dispatch_app_id, "faust-dispatch", settings.dispatch_host,
                        settings.dispatch_port, table_standby_replicas=0)  # fmt: skip
    events = app.topic(events_topic(settings), key_serializer="raw", value_serializer="raw")
    feed = app.topic(feed_topic(settings), partitions=1, internal=True, key_serializer="raw",
                     value_serializer="raw")  # fmt: skip
    inbound = app.topic(inbound_topic(settings), key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(event_dead_letter_topic(settings), key_serializer="raw", value_serializer="raw")
    # One partition, like the feed that writes them: every table of the desk's state in one order.
    tables = {name: app.Table(name, default=None, key_type=str, partitions=1) for name in TABLES}
    registry = new_registry()
    app.monitor = KansPrometheusMonitor(metrics=FaustMetrics.create(registry, "kans_dispatch"))
    rules = load_rule_set(settings.dispatch_rules or DEFAULT_RULES)
    metrics = ConsumerMetrics(registry)
    # Each partition in order, and offsets committed are the agents' positions (core/faust_order.py).
    ordering = Ordering(lambda tps: app.consumer.earliest_offsets(*tps), metrics=metrics)
    attach(app, Topology(feed, inbound, api_key, dead_letters, tables, rules, events_topic(settings),
                         feed_topic(settings), Seen(metrics=metrics), registry, ordering))  # fmt: skip
    commit_processed_only(app.consumer, ordering, (events_topic(settings), feed_topic(settings)))
    app.on_partitions_revoked.connect(forget_revoked)  # type: ignore[arg-type]  # faust's signal typing
    app.timer(1.0, name="dispatch.retry_rewinds")(ordering.retry_rewinds)
    # A bug in an agent stops the worker (its supervisor restarts it from the committed offsets) rather than skip the
    # event that triggered it; a bad record is not a bug (dead-lettered, agents.py).
    watch_crashes(app.agent(events, supervisor_strategy=CrashingSupervisor)(route_events), ordering)
    watch_crashes(app.agent(feed, supervisor_strategy=CrashingSupervisor)(decide), ordering)
    app.page("/proposals")(proposals_page)
    app.page("/waiting-lists")(waiting_lists_page)
    app.page("/placements/{trajectory_id}")(placement_page)
    app.page("/catalogue")(catalogue_page)
    app.page("/ready")(ready_page)
    app.page("/metrics")(metrics_page)
    return app
