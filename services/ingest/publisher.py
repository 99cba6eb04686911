"""Publishes sealed events to Kafka (idempotent producer, acks=all) and waits for the broker's acknowledgement.

The producer is aiokafka's, on an event loop in the publisher's own thread: it builds record batches in compiled code,
where kafka-python spends ~100 µs of Python per record (send, accumulator, sender thread) — with the idempotency index
record, two records per event, more than validating and sealing the event. Callers stay synchronous (`publish`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import events_topic, source_index_topic
from services.ingest.metrics import IngestMetrics
from services.ingest.rules import IndexEntry, SourceKey
from services.ingest.sealing import SealedEvent

log = logging.getLogger(__name__)
# How the ingest batches its records (kafka-python's names), and the raw reference of `kans bench` with it. Up to
# 512 KiB per partition per request (the clients' default is 16 KiB): a request of 1,000 referrals (~1.3 kB each)
# fills a few batches instead of ~80 (kafka-python wakes its sender thread for every new one). Below the broker's 1 MiB.
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 2,
    "batch_size": 512 * 1024,
    "compression_type": "lz4",
}


class BrokerUnavailable(RuntimeError):
    """Kafka did not acknowledge in time: nothing is reported as accepted, yet what was sent may still reach the log
    (the producer keeps retrying its buffer). A retry is safe: the same submissions are the same event ids."""


def index_record_key(key: SourceKey) -> bytes:
    return f"{key[0]}\x1f{key[1]}".encode()


def index_record_value(entry: IndexEntry) -> bytes:
    return json.dumps({"event_id": str(entry.event_id), "fingerprint": entry.fingerprint}).encode()


class EventPublisher:
    """One producer per process, created lazily so the service starts (and answers 503) while Kafka is down."""

    def __init__(self, settings: Settings, metrics: IngestMetrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics  # counts the records the broker acknowledged, per topic
        self._events_topic = events_topic(settings)
        self._index_topic = source_index_topic(settings)
        self._producer: AIOKafkaProducer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # starts the loop once
        self._starting: asyncio.Lock | None = None  # on the loop: starts the producer once

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="event-publisher", daemon=True)
                self._thread.start()
            return self._loop

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._producer is None:
                timeout_ms = int(self._settings.publish_timeout_s * 1000)
                producer = AIOKafkaProducer(
                    **client_config(self._settings),
                    **{k: v for k, v in PRODUCER_SETTINGS.items() if k != "batch_size"},
                    max_batch_size=PRODUCER_SETTINGS["batch_size"],
                    client_id="kans-ingest",
                    # aiokafka reconnects when a request needs the broker (100 ms apart): a restarted broker is
                    # written to as soon as it answers again.
                    request_timeout_ms=timeout_ms,
                )
                try:
                    await asyncio.wait_for(producer.start(), self._settings.publish_timeout_s)
                except (KafkaError, OSError, TimeoutError) as err:
                    await producer.stop()
                    raise BrokerUnavailable(
                        f"Kafka at {self._settings.kafka_bootstrap} is unreachable ({err or type(err).__name__})"
                    ) from err
                self._producer = producer
            return self._producer

    def publish(self, events: Sequence[SealedEvent], index: dict[SourceKey, IndexEntry]) -> list[int]:
        """Send every event keyed by its stream id; return only once the broker acknowledged all of them, with the
        offset each event has in its partition (its stream's). All are sent first, then waited for at once."""
        records = [
            (event.stream_id.encode(), event.json,
             [("event_type", event.event_type.encode()), ("schema_version", str(event.schema_version).encode())])
            for event in events
        ]  # fmt: skip
        entries = [(index_record_key(key), index_record_value(entry)) for key, entry in index.items()]
        timeout = self._settings.publish_timeout_s
        done = asyncio.run_coroutine_threadsafe(self._publish(records, entries, timeout), self._running_loop())
        try:
            return done.result(timeout=2 * timeout + 1)  # the producer's start, then the acknowledgements
        except concurrent.futures.TimeoutError as err:
            done.cancel()
            raise BrokerUnavailable(f"Kafka did not acknowledge the events within {timeout:.0f}s") from err

    async def _publish(self, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]],
                       entries: list[tuple[bytes, bytes]], timeout: float) -> list[int]:  # fmt: skip
        producer = await self._get_producer()
        deadline = time.monotonic() + timeout
        try:
            sent = [await producer.send(self._events_topic, value, key=key, headers=headers)
                    for key, value, headers in records]  # fmt: skip
            acknowledged = await asyncio.wait_for(asyncio.gather(*sent), max(0.1, deadline - time.monotonic()))
        except (KafkaError, TimeoutError) as err:
            raise BrokerUnavailable(
                f"Kafka did not acknowledge the events within {timeout:.0f}s ({err or type(err).__name__})"
            ) from err
        if self._metrics is not None:
            self._metrics.published_to(self._events_topic, len(records))
        # The index is a cache of what is already in the log (written only once the events are acknowledged): losing
        # a write here only means a later resubmission republishes the same event id, which every consumer
        # deduplicates. Not waited for: its acknowledgements are counted as they come.
        try:
            for key, value in entries:
                future = await producer.send(self._index_topic, value, key=key)
                future.add_done_callback(self._index_record_done)
        except KafkaError:
            log.warning("could not record %d source refs in the index", len(entries), exc_info=True)
        return [metadata.offset for metadata in acknowledged]

    def _index_record_done(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            log.warning("a source ref was not recorded in the index: %s", "cancelled" if future.cancelled()
                        else future.exception())  # fmt: skip
        elif self._metrics is not None:
            self._metrics.published_to(self._index_topic, 1)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:  # sends what is still buffered (index records), waits up to 5 s
                asyncio.run_coroutine_threadsafe(asyncio.wait_for(producer.stop(), 5), loop).result(timeout=6)
            except Exception:  # closing: the index records left are a cache (see publish)
                log.warning("the producer did not stop cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
