"""The Kafka way in: a faust worker reads submissions (the JSON of POST /v1/events) from `kans.inbound.v1`,
checks each one (`checks.py`) and publishes it through the same IngestService as the REST way in, or dead-letters
it to `kans.inbound.dlq.v1`.

Messages are taken in batches for throughput but judged one by one: a bad message only dead-letters itself.
Offsets are acknowledged (and committed by faust) only after the batch's events and dead letters were
acknowledged by the broker: at least once. A message read again after a crash is harmless: its source record is
in the idempotency index (`duplicate`, nothing published), or, if the index write was lost, it is published again
with the same event id, which every consumer of the event log deduplicates. A dead letter may then appear twice;
its `original-*` headers identify the message it stands for.

Metrics (`/metrics`): faust's Prometheus sensor (messages in and out per topic, commits, rebalances, web requests,
prefix `kans_inbound_`), the ingest's counters (submissions by outcome, records published per topic), the dead
letters by reason and the lag of the inbound topic (`core.metrics`), all in one registry made here.

The agent, the pages, the start task and the stop handler are module-level functions: faust hands each of them
the app (through the stream, the view or the sender), and they find the ingest's collaborators attached to it,
as FastAPI routes find theirs in `app.state`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, AppT, ChannelT, EventT, StreamT
from faust.web import Request, Response, View
from kafka.errors import KafkaError
from mode import CrashingSupervisor
from prometheus_client import CollectorRegistry

from core.consumer_lag import PartitionLag, lag_report
from core.faust_apps import new_faust_app, run_worker
from core.metrics import CONTENT_TYPE_LATEST, ConsumerMetrics, exposition, new_registry
from core.settings import Settings, get_settings
from core.topics import dead_letter_topic, inbound_topic
from schemas.envelope import SubmissionBase
from services.ingest.bootstrap import Ingest, bootstrap
from services.ingest.credentials import ApiKey
from services.ingest.inbound.checks import (
    API_KEY_HEADER,
    Rejection,
    check_message,
    conflict_rejection,
    dead_letter_headers,
    dead_letter_value,
    forbidden_rejection,
    header,
    message_caller,
    refusal_rejection,
)
from services.ingest.publisher import BrokerUnavailable
from services.ingest.service import IngestService, NotReady

log = logging.getLogger(__name__)
RETRY_S = 2.0
_WIRING = "kans_inbound"
CONSUMER_NAME = "inbound"  # the consumer named in its metrics
LAG_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Inbound:
    """What the agent and the pages work with: the ingest's collaborators, where dead letters go (the dead-letter
    topic; an in-memory channel in a test), how many messages a batch takes within how long, and the metrics:
    `registry` (served on /metrics), `consumer` (dead letters, lag), and per partition of the inbound topic the
    offset after the last message acknowledged and that message's timestamp (ms), for the lag."""

    ingest: Ingest
    dead_letters: ChannelT[Any]
    batch_max: int
    batch_wait_s: float
    topic: str = ""
    registry: CollectorRegistry = field(default_factory=new_registry)
    consumer: ConsumerMetrics | None = None
    positions: dict[TP, tuple[int, int | None]] = field(default_factory=dict)


def attach(app: AppT, inbound: Inbound) -> None:
    setattr(app, _WIRING, inbound)


def inbound_of(app: AppT) -> Inbound:
    return cast(Inbound, getattr(app, _WIRING))


async def _publish(service: IngestService, submissions: list[SubmissionBase],
                   callers: list[ApiKey]) -> dict[int, Rejection]:  # fmt: skip
    """Publish what is new; the rejections by position: conflicts, submissions their caller may not make (ownership),
    and submissions refused as they are (a date outside the plausible window, or one that cannot be sealed). Kafka
    trouble is waited out, not dead-lettered."""
    while True:
        try:
            result = await service.submit_each(submissions, callers)
            break
        except (BrokerUnavailable, NotReady) as err:
            log.warning("inbound batch waits for Kafka (%s); retrying in %.0f s", err, RETRY_S)
            await asyncio.sleep(RETRY_S)
    rejections = {c.index: conflict_rejection(submissions[c.index]) for c in result.conflicts}
    rejections.update((r.index, refusal_rejection(r.problems)) for r in result.refusals)
    rejections.update((f.index, forbidden_rejection(callers[f.index].name, f)) for f in result.forbidden)
    return rejections


async def forward_batch(inbound: Inbound, events: Sequence[EventT[Any]]) -> None:
    """Publish a batch's good submissions, then dead-letter the others; return once the broker acknowledged all."""
    ingest = inbound.ingest
    checked = [check_message(e.message.value, header(e.message.headers, API_KEY_HEADER), ingest.keys) for e in events]
    rejected = [(e, c) for e, c in zip(events, checked, strict=True) if isinstance(c, Rejection)]
    accepted = [(e, c) for e, c in zip(events, checked, strict=True) if not isinstance(c, Rejection)]
    if accepted:
        callers = [message_caller(header(e.message.headers, API_KEY_HEADER), ingest.keys) for e, _ in accepted]
        refused = await _publish(ingest.service, [submission for _, submission in accepted], callers)
        rejected += [(accepted[i][0], rejection) for i, rejection in sorted(refused.items())]
    pending = []
    for event, rejection in rejected:
        m = event.message
        log.info("dead-lettered %s[%d]@%d: %s", m.topic, m.partition, m.offset, rejection.reason)
        value = dead_letter_value(m.value, rejection)
        timestamp_ms = None if m.timestamp is None else int(m.timestamp * 1000)
        size = None if m.value is None else len(m.value)
        headers = [*dead_letter_headers(rejection, m.topic, m.partition, m.offset, timestamp_ms, size),
                   ("error-redacted", b"true" if value is None else b"false")]  # fmt: skip
        pending.append(await inbound.dead_letters.send(key=m.key, value=value, headers=headers, force=True))
    await asyncio.gather(*pending)  # acknowledged by the broker before the offsets are
    if inbound.consumer is not None:
        for _, rejection in rejected:
            inbound.consumer.dead_lettered(CONSUMER_NAME, rejection.reason)


async def forward_submissions(stream: StreamT[Any]) -> None:
    """Agent: the inbound topic in batches, each forwarded before its messages are acknowledged."""
    inbound = inbound_of(stream.app)
    batches = cast(faust.Stream[Any], stream).noack_take  # a Stream's, missing from faust's StreamT
    async for events in batches(inbound.batch_max, within=inbound.batch_wait_s):
        await forward_batch(inbound, events)
        for event in events:
            await stream.ack(event)
            m = event.message
            inbound.positions[m.tp] = (m.offset + 1, None if m.timestamp is None else int(m.timestamp * 1000))


async def ready_page(view: View, request: Request) -> Response:
    """Readiness: the broker answers, the idempotency and ownership indexes are loaded and partitions are assigned
    (no rebalance under way); `problems` says what is missing."""
    app, ingest = view.app, inbound_of(view.app).ingest
    kafka = await ingest.broker_problem()
    problems = [f"kafka: {kafka}"] if kafka else []
    if not ingest.index.ready.is_set():
        problems.append("source index: not loaded from Kafka yet")
    if not ingest.owners.ready.is_set():
        problems.append("ownership index: not loaded from the event log yet")
    if app.rebalancing or not app.consumer.assignment():
        problems.append("inbound topic: no partitions assigned (rebalance under way)")
    body = {"ready": not problems, "kafka": kafka is None, "source_records_known": len(ingest.index.entries),
            "owners_known": len(ingest.owners), "problems": problems}  # fmt: skip
    return view.json(body, status=503 if problems else 200)


async def inbound_lag(app: AppT, inbound: Inbound) -> dict[str, Any] | None:
    """The inbound topic's lag (`core.consumer_lag`): the end offsets are the consumer's high-water marks as of its
    last fetch; the position, the offset after the last message acknowledged here, else the committed offset, else
    (nothing read there yet) the partition's first offset. None while unknown (no partition assigned or fetched)."""
    assigned = sorted(tp for tp in app.consumer.assignment() if tp.topic == inbound.topic)
    committed: dict[TP, int | None] = getattr(app.consumer, "_committed_offset", {})  # no public accessor
    known = {tp: inbound.positions.get(tp) or (committed.get(tp), None) for tp in assigned}
    if unread := [tp for tp, (position, _) in known.items() if position is None]:
        try:
            firsts = await asyncio.wait_for(app.consumer.earliest_offsets(*unread), LAG_TIMEOUT_S)
        except (TimeoutError, KafkaError) as err:
            log.warning("first offsets not known now (%s): lag unknown", err or "timeout")
            return None
        known.update((tp, (firsts.get(tp), None)) for tp in unread)
    partitions = []
    for tp, (position, since) in known.items():
        end = app.consumer.highwater(tp)
        if end is None or position is None:
            return None
        partitions.append(PartitionLag(tp.topic, tp.partition, max(end, position), position, since))
    return lag_report(partitions, int(time.time() * 1000)) if partitions else None


async def metrics_page(view: View, request: Request) -> Response:
    """Prometheus: the lag measured now, then every metric of the process's registry."""
    inbound = inbound_of(view.app)
    if inbound.consumer is not None:
        lag = await inbound_lag(view.app, inbound)
        events, seconds = (None, None) if lag is None else (lag["lag_events"], lag["lag_seconds"])
        inbound.consumer.lag(CONSUMER_NAME, inbound.topic, events, seconds)
    return view.bytes(exposition(inbound.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def start_ingest(app: AppT) -> None:
    inbound_of(app).ingest.start()


async def stop_ingest(app: AppT, /, *args: Any, **kwargs: Any) -> None:
    inbound_of(app).ingest.stop()


def create_app(settings: Settings, ingest: Ingest | None = None) -> faust.App:
    """The inbound worker on the ingest `bootstrap` wires from `settings` (or on `ingest`, as built by a test)."""
    app = new_faust_app(settings, settings.inbound_app_id, "faust-inbound", settings.inbound_host,
                        settings.inbound_port, producer_acks=-1)  # fmt: skip
    inbound = app.topic(inbound_topic(settings), key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(dead_letter_topic(settings), key_serializer="raw", value_serializer="raw")
    batch_wait_s = settings.inbound_batch_wait_ms / 1000
    registry = new_registry()
    app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, "kans_inbound"))  # faust's sensor
    attach(app, Inbound(ingest or bootstrap(settings, registry), dead_letters, settings.inbound_batch_max,
                        batch_wait_s, inbound_topic(settings), registry, ConsumerMetrics(registry)))  # fmt: skip
    app.task(start_ingest)
    app.on_before_shutdown.connect(stop_ingest)
    # A bug (anything but a bad message or Kafka being away) stops the worker instead of skipping messages.
    app.agent(inbound, supervisor_strategy=CrashingSupervisor)(forward_submissions)
    app.page("/ready")(ready_page)
    app.page("/metrics")(metrics_page)
    return app


def main() -> None:
    """`kans serve inbound`."""
    settings = get_settings()
    run_worker(create_app(settings), "inbound", settings, settings.inbound_host, settings.inbound_port)
