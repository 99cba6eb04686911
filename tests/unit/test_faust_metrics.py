"""The workers' Prometheus sensor (core/faust_metrics.py) keeps the labelled series it updates per message: it must
expose exactly what faust's own PrometheusMonitor exposes after the same calls, including after a rebalance."""

from __future__ import annotations

import re

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from faust.types.tuples import Message

from core.faust_apps import new_faust_app
from core.faust_metrics import KansPrometheusMonitor
from core.metrics import exposition, new_registry
from core.settings import Settings

# Values that depend on when and where it ran: the process's own, creation times, latencies.
VARYING = re.compile(r"^(?!#)(process_.*|python_gc_.*|.*(_created|latency|_bucket|_sum|_count).*)$", re.MULTILINE)


class _Event:
    """What the sensors keep of an event: a weak reference."""


def _drive(monitor: PrometheusMonitor, settings: Settings) -> None:
    app = new_faust_app(settings, "metrics-test", "faust", "127.0.0.1", 6998)
    stream = app.topic("kans.test.events").stream()
    owner = _Event()
    stream.task_owner = owner  # type: ignore[assignment]  # the agent's task, in a running worker
    table = app.Table("trajectories", default=None)
    for round_ in range(2):
        for partition in range(3):
            tp = TP("kans.test.events", partition)
            monitor.track_tp_end_offset(tp, 100 + partition)
            for offset in range(5):
                message = Message("kans.test.events", partition, offset, 0.0, 0, None, b"k", b"v", None)
                monitor.on_message_in(tp, offset, message)
                event = _Event()
                state = monitor.on_stream_event_in(tp, offset, stream, event)  # type: ignore[arg-type]
                monitor.on_table_get(table, b"k")
                monitor.on_table_set(table, b"k", {"n": offset})
                monitor.on_send_initiated(None, "kans.test.changelog", None, 1, 1)  # type: ignore[arg-type]
                monitor.on_stream_event_out(tp, offset, stream, event, state)  # type: ignore[arg-type]
                monitor.on_message_out(tp, offset, message)
        if round_ == 0:
            monitor._clear_partition_related_metrics()  # a rebalance: the partitions' series go


def test_the_kept_series_expose_what_fausts_sensor_exposes(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    exposed = []
    for sensor in (PrometheusMonitor, KansPrometheusMonitor):
        registry = new_registry()
        _drive(sensor(metrics=FaustMetrics.create(registry, "kans_test")), settings)
        exposed.append(VARYING.sub("", exposition(registry).decode()))
    faust_own, kept = exposed
    # the topic's series were cleared by the rebalance: the second round's 15 messages
    assert 'kans_test_messages_received_per_topic_total{topic="kans.test.events"} 15.0' in faust_own
    assert 'kans_test_table_operations_total{operation="keys_updated",table="table.trajectories"} 30.0' in faust_own
    assert 'kans_test_topic_partition_end_offset{partition="2",topic="kans.test.events"} 102.0' in faust_own
    assert kept == faust_own
