"""Rebuild every projection from the event log in bulk, for a fresh application id (`kans projections rebuild`).

Workers started with a new application id fold the whole log through faust, one message at a time (its delivery
to the agents, each message's acknowledgement, a changelog record per trajectory and batch): a few thousand events
per second. A rebuild needs none of that: the log up to its end is known, nobody reads the tables meanwhile, and
only the final state matters. So this reads the log with plain consumers, several processes side by side (each its
share of the partitions), folds it with the workers' own pure rules (`read_event`, `translate`), and writes what
the workers would have written by the end:

- the `trajectories` table's changelog: one record per trajectory, in its event partition, valued as the worker
  values it (`TrajectoryState.to_dict()` and its `partition`);
- the load changes, keyed by provider|module, in the partition faust's producer would choose (aiokafka's default
  partitioner), each row's changes in the log's order (`as_messages`);
- dead letters for the records that are not events (origin consumer `projections.rebuild`), as the worker does;
- the application's committed offsets of the event log: where each partition's end was when the rebuild began.

Workers then started with that application id restore the trajectories from the changelog, fold the load changes
into provider-load (a few records per row), and go on from the committed offsets. The result is what workers
folding the log would have made (tests/e2e/test_projection_rebuild.py compares the views).

It refuses an application id in use: one with committed offsets, or whose internal topics hold records.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, NoError
from kafka.structs import OffsetAndMetadata
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import (
    PROJECTION_TABLES,
    ensure_topics,
    event_dead_letter_topic,
    events_topic,
    load_changes_topic,
    projections_changelog_topic,
    projections_group,
)
from schemas.projections import OneChange, as_messages, dump_load_change
from services.projections.load_changes import trajectory_id_of, translate
from services.projections.trajectory_state import TrajectoryState

log = logging.getLogger(__name__)
CONSUMER = "projections.rebuild"
STALL_S = 120.0  # a share that reads nothing for this long (broker gone) fails the rebuild
_PARTITIONER = DefaultPartitioner()


class RebuildRefused(RuntimeError):
    """The application id is in use (or the log is missing): nothing was written."""


class RebuildFailed(RuntimeError):
    """The rebuild stopped part way (the broker went away, say): nothing committed, the id is not to be used."""


def load_change_partition(row: str, partitions: int) -> int:
    """The load-changes partition of a provider|module row: where the workers' faust producer sends its changes."""
    return int(_PARTITIONER(row.encode(), list(range(partitions)), list(range(partitions))))


@dataclass
class Fold:
    """The rules applied to one share of the log: the trajectories' states (with the partition of the last event
    that changed each, where the worker stores it), each row's changes in order, and the records that were not
    events."""

    states: dict[bytes, tuple[TrajectoryState, int]] = field(default_factory=dict)
    changes: dict[str, list[OneChange]] = field(default_factory=dict)
    events: int = 0
    bad: list[tuple[int, int, int | None, bytes | None, bytes | None, BadRecord]] = field(default_factory=list)

    def take(self, partition: int, offset: int, timestamp_ms: int | None, key: bytes | None,
             value: bytes | None) -> None:  # fmt: skip
        """One record of the log, as `track_trajectories` takes it."""
        try:
            event = read_event(value)
        except BadRecord as bad:
            self.bad.append((partition, offset, timestamp_ms, key, value, bad))
            return
        self.events += 1
        tid = trajectory_id_of(event)
        tkey = None if tid is None else tid.encode()
        known = None if tkey is None else self.states.get(tkey)
        outcome = translate(event, None if known is None else known[0])
        if tkey is not None and outcome.state is not None:
            self.states[tkey] = (outcome.state, partition)
        for row, change in outcome.changes:
            self.changes.setdefault(row, []).append(change)


@dataclass
class Stall:
    """Raises TimeoutError once `limit_s` passed without a poll that brought records (the broker went away)."""

    what: str
    limit_s: float = STALL_S
    clock: Callable[[], float] = time.monotonic
    since: float | None = None

    def polled(self, brought_records: bool) -> None:
        now = self.clock()
        if brought_records or self.since is None:
            self.since = now
        elif now - self.since > self.limit_s:
            raise TimeoutError(f"nothing read from {self.what} for {self.limit_s:.0f} s")


def fold_partitions(settings: Settings, partitions: list[int], ends: dict[int, int]) -> dict[str, Any]:
    """Read `partitions` of the log up to `ends` and write what the workers would have (module docstring), except
    the committed offsets. One process's share of a rebuild."""
    topic, began = events_topic(settings), time.perf_counter()
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False,
                             client_id="kans-projections-rebuild", max_partition_fetch_bytes=16 * 1024 * 1024,
                             fetch_max_bytes=64 * 1024 * 1024, max_poll_records=20_000)  # fmt: skip
    fold = Fold()
    try:
        tps = [TopicPartition(topic, p) for p in partitions if ends.get(p, 0) > 0]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        stall = Stall(f"partitions {partitions} of {topic}")
        while any(consumer.position(tp) < ends[tp.partition] for tp in tps):
            polled = consumer.poll(timeout_ms=500)
            stall.polled(bool(polled))
            for tp, records in polled.items():
                end = ends[tp.partition]
                for r in records:
                    if r.offset < end:
                        fold.take(tp.partition, r.offset, r.timestamp, r.key, r.value)
    finally:
        consumer.close()
    folded = time.perf_counter()
    sent = _write(settings, fold)
    return {"partitions": partitions, "records": sum(ends.get(p, 0) for p in partitions), "events": fold.events,
            "dead_letters": len(fold.bad), "trajectories": len(fold.states), "rows": len(fold.changes),
            "load_change_records": sent, "seconds_folding": round(folded - began, 2),
            "seconds_writing": round(time.perf_counter() - folded, 2)}  # fmt: skip


def _write(settings: Settings, fold: Fold) -> int:
    """The fold's changelog records, load changes and dead letters, each acknowledged by the broker; the number of
    load-change records."""
    producer = KafkaProducer(**client_config(settings), acks="all", enable_idempotence=True, linger_ms=20,
                             compression_type="lz4", batch_size=1024 * 1024)  # fmt: skip
    futures = []
    try:
        for partition, offset, timestamp_ms, key, value, bad in fold.bad:
            origin = Origin(events_topic(settings), partition, offset, timestamp_ms, CONSUMER)
            letter = dead_letter(bad, key, value, origin)
            futures.append(producer.send(event_dead_letter_topic(settings), key=letter.key, value=letter.value,
                                         headers=letter.headers))  # fmt: skip
        trajectories = projections_changelog_topic(settings, "trajectories")
        for tkey, (state, partition) in fold.states.items():
            value = json.dumps({**state.to_dict(), "partition": partition}).encode()
            futures.append(producer.send(trajectories, key=tkey, value=value, partition=partition))
        sent, changes_topic = 0, load_changes_topic(settings)
        for row, row_changes in fold.changes.items():
            partition = load_change_partition(row, settings.event_partitions)
            for message in as_messages(row_changes):
                futures.append(producer.send(changes_topic, key=row.encode(), value=dump_load_change(message),
                                             partition=partition))  # fmt: skip
                sent += 1
        producer.flush()
        for future in futures:
            future.get(timeout=60)  # raises what the broker refused
        return sent
    finally:
        producer.close()


# A broker just started has no group coordinator yet (its offsets topic is being made): asked again for a while.
_COORDINATOR = Retrying(retry=retry_if_exception(lambda err: isinstance(err, KafkaError) and err.retriable),
                        wait=wait_exponential(multiplier=0.2, max=2), stop=stop_after_delay(60),
                        reraise=True)  # fmt: skip


def _in_use(settings: Settings) -> str | None:
    """Why the application id cannot be rebuilt into, or None."""
    return _COORDINATOR(_in_use_now, settings)


def _in_use_now(settings: Settings) -> str | None:
    admin = KafkaAdminClient(**client_config(settings))
    try:
        if admin.list_group_offsets(projections_group(settings)).get(projections_group(settings)):
            return f"the consumer group {projections_group(settings)} has committed offsets"
    finally:
        admin.close()
    tables = [projections_changelog_topic(settings, table) for table in PROJECTION_TABLES]
    internal = [*tables, load_changes_topic(settings)]
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        for topic in internal:
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if tps and any(end > 0 for end in consumer.end_offsets(tps).values()):
                return f"its topic {topic} holds records"
    finally:
        consumer.close()
    return None


def _ends(settings: Settings) -> dict[int, int]:
    consumer = KafkaConsumer(**client_config(settings), group_id=None, enable_auto_commit=False)
    try:
        topic = events_topic(settings)
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            raise RebuildRefused(f"the event log {topic} does not exist")
        return {tp.partition: end for tp, end in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def _commit(settings: Settings, ends: dict[int, int]) -> None:
    """The workers' group starts where the rebuild ended: each event-log partition at its end when it began."""
    topic = events_topic(settings)
    offsets = {TopicPartition(topic, p): OffsetAndMetadata(end, "", -1) for p, end in ends.items() if end > 0}
    admin = KafkaAdminClient(**client_config(settings))
    try:
        errors = _COORDINATOR(admin.alter_group_offsets, projections_group(settings), offsets) if offsets else {}
    finally:
        admin.close()
    failed = {f"{tp.topic}[{tp.partition}]": error.__name__ for tp, error in errors.items() if error is not NoError}
    if failed:
        raise RebuildRefused(f"the group {projections_group(settings)}'s offsets were not committed: {failed}")


def shares(partitions: Iterable[int], processes: int) -> list[list[int]]:
    """The partitions split between `processes` (round robin; none empty)."""
    ordered = sorted(partitions)
    return [part for part in (ordered[i::processes] for i in range(max(1, processes))) if part]


def rebuild(settings: Settings, processes: int = 2, echo: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Rebuild every projection of `settings.projections_app_id` from the event log (module docstring)."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    reason = _in_use(settings)
    if reason is not None:
        raise RebuildRefused(f"application id {settings.projections_app_id} is in use ({reason}): rebuild into a "
                             "new one (KANS_PROJECTIONS_APP_ID), then start the workers with it")  # fmt: skip
    began = time.perf_counter()
    ensure_topics(settings)  # the application's internal topics, as the workers expect them
    ends = _ends(settings)
    parts = shares(ends, processes)
    echo(f"rebuilding {settings.projections_app_id}: {sum(ends.values()):,} records of {len(ends)} partitions, "
         f"{len(parts)} processes")  # fmt: skip
    try:
        if len(parts) == 1:
            results = [fold_partitions(settings, parts[0], ends)]
        else:
            with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(fold_partitions, [settings] * len(parts), parts, [ends] * len(parts)))
        _commit(settings, ends)
    except (KafkaError, TimeoutError) as err:
        # Nothing committed: no worker starts from this id's offsets, and its topics (which may hold part of the
        # state) make a second rebuild into it refuse.
        raise RebuildFailed(f"the rebuild into {settings.projections_app_id} failed ({err!r}); nothing was "
                            "committed: rebuild into another new application id") from err  # fmt: skip
    took = time.perf_counter() - began
    records = sum(ends.values())
    return {"app_id": settings.projections_app_id, "records": records, "processes": len(parts),
            "events": sum(r["events"] for r in results), "dead_letters": sum(r["dead_letters"] for r in results),
            "trajectories": sum(r["trajectories"] for r in results), "seconds": round(took, 2),
            "records_per_s": round(records / max(took, 1e-3)), "shares": results}  # fmt: skip
