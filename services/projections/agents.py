"""The worker's two agents, in two steps because the event log is keyed by referral while load is counted per
provider and module:

1. `track_trajectories` folds each trajectory's events into table `trajectories` and sends what changed for a
   provider's module to the internal topic `load-changes`, keyed by provider|module (`load_changes.translate`): one
   record per row and batch (`RowChanges` when a batch changed the row more than once);
2. `aggregate_provider_load` applies those changes to table `provider-load` (one row per provider|module).

Both read at the boundary with one function each (`read_event`, `read_load_change`), which raises `BadRecord` for a
record that is not what the topic carries: that record is dead-lettered (`kans.events.dlq.v1`, acknowledged by the
broker before the agent takes the next one, so before its offset can be committed) and the agent moves on. Anything
else raised is a bug: it stops the worker (CrashingSupervisor) rather than skipping the event.
Each agent takes its stream a batch at a time (`take_events`: up to BATCH_MAX messages, or what came within
BATCH_WITHIN_S), folds the batch in memory and writes each table row it changed once, at the end of the batch:
a trajectory or a provider-load row that several of the batch's messages touch costs one changelog record, not
one per message. faust acknowledges a batch's messages once the agent asks for the next batch, after it handed
its table writes to the Kafka producer (`changelog_handed_over`): only then do they count as processed, and may
their offsets be committed. The event log has no gaps (every offset is a record), so a message that arrives while
earlier ones of its partition never did means faust skipped them (it can, around a rebalance): `Ordering.in_order`
(core/faust_order.py) sends the consumer back to them, and the offsets committed are the agents' own positions,
never past a message not processed. Each yields one result per message it read (what it sent, the row it stored;
`()`/None for a dead letter or a message skipped), so a test driving it with `agent.test_context()` can wait for
each message and see what came of it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from faust import Stream
from faust.exceptions import ConsumerNotStarted
from faust.streams import _current_event  # the event a table write is for; no public setter
from faust.types import TP, AppT, EventT, StreamT
from faust.types.tuples import Message

from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from schemas.projections import OneChange, as_messages, changes_in, dump_load_change
from services.projections import provider_load as rows
from services.projections.load_changes import KeyedChange, read_load_change, trajectory_id_of, translate
from services.projections.topology import Topology, topology_of
from services.projections.trajectory_state import TrajectoryState

log = logging.getLogger(__name__)
TRACK, AGGREGATE = "projections.track_trajectories", "projections.aggregate_provider_load"
# A batch: up to BATCH_MAX messages, or what came within BATCH_WITHIN_S (the most a change waits at each agent).
BATCH_MAX, BATCH_WITHIN_S = 2000, 0.02


async def changelog_handed_over(app: AppT) -> None:
    """Wait until the table writes so far are with the Kafka producer. faust buffers a table's changelog writes, and
    the flush its commit runs gives up after 0.1 s without progress (under load the buffer drains slower), so it
    could commit a message's offset before the state that message changed was sent: a crash then lost that state
    for good. The Kafka producer's own flush, which the commit also runs, does wait for what it holds."""
    buffer = app.producer.buffer
    while buffer.size and buffer.state == "running":  # not running: a test without a broker, nothing to wait for
        await buffer.flush()


async def send_dead_letter(topology: Topology, bad: BadRecord, message: Message, consumer: str) -> None:
    """Dead-letter `message` and wait until the broker acknowledged it."""
    origin = Origin(message.topic, message.partition, message.offset, int(message.timestamp * 1000), consumer)
    letter = dead_letter(bad, message.key, message.value, origin)
    delivered = await topology.dead_letters.send(key=letter.key, value=letter.value, headers=letter.headers,
                                                 force=True)  # fmt: skip
    await delivered
    topology.progress.dead_lettered(consumer, bad.reason)
    log.warning("dead-lettered %s[%d]@%d (%s): %s", message.topic, message.partition, message.offset, consumer, bad)


@dataclass
class Batch:
    """What one batch of messages did, applied at its end: the table rows it changed (each written once, however
    many of its messages changed it), the messages done, and one result per message read (in order)."""

    ahead: dict[TP, int] = field(default_factory=dict)  # per partition the offset after the last message done
    done: list[Message] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)

    def finished(self, message: Message, result: Any) -> None:
        self.ahead[message.tp] = message.offset + 1
        self.done.append(message)
        self.results.append(result)


def batches(stream: StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's messages a batch at a time (acknowledged once the batch is done: `take_events`)."""
    return cast(Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN_S)


@contextmanager
def writing_for(event: EventT[bytes]) -> Iterator[None]:
    """A table write on behalf of `event`, after its batch was read: faust sends a table's changelog record to the
    partition of the event being processed (its context variable), which outside per-message iteration it must be
    told. Only this task's context is set: the stream's own record of its current event (which `take_events` fills
    its buffer with, in another task) is left alone."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


async def hand_over(app: AppT, topology: Topology, batch: Batch) -> None:
    """The batch's writes are with the producer: only now do its messages count as processed (and committable).
    A partition taken away meanwhile is left alone: where this worker got says nothing about where it resumes."""
    await changelog_handed_over(app)
    try:
        assigned: set[TP] | None = app.consumer.assignment()
    except ConsumerNotStarted:  # an agent driven by a test, without a broker: it holds what it is given
        assigned = None
    for message in batch.done:
        if assigned is None or message.tp in assigned:
            topology.progress.processed(message)


async def track_trajectories(stream: StreamT[bytes]) -> AsyncIterator[tuple[KeyedChange, ...]]:
    """Agent: the event log -> the trajectories' states and the load changes they cause (none for a duplicate)."""
    app, topology = stream.app, topology_of(stream.app)
    async for events in batches(stream):
        batch, states, changes = Batch(), dict[bytes, TrajectoryState | None](), list[KeyedChange]()
        written: dict[bytes, tuple[TrajectoryState, EventT[bytes]]] = {}
        for record in events:
            message = record.message
            if not await topology.ordering.in_order(app, message, batch.ahead):
                batch.results.append(())
                continue
            try:
                event = read_event(message.value)
            except BadRecord as bad:
                await send_dead_letter(topology, bad, message, TRACK)
                batch.finished(message, ())
                continue
            tid = trajectory_id_of(event)
            key = None if tid is None else tid.encode()
            if key is not None and key not in states:
                stored = topology.trajectories.get(key)
                states[key] = None if stored is None else TrajectoryState.from_dict(stored)
            outcome = translate(event, None if key is None else states[key])
            if key is not None and outcome.state is not None:
                states[key] = outcome.state
                written[key] = (outcome.state, record)
            changes.extend(outcome.changes)
            batch.finished(message, outcome.changes)
        for key, (state, record) in written.items():  # `partition`: which worker holds it (views.py)
            with writing_for(record):
                topology.trajectories[key] = {**state.to_dict(), "partition": record.message.partition}
        by_row: dict[str, list[OneChange]] = {}
        for row, change in changes:
            by_row.setdefault(row, []).append(change)
        for row, row_changes in by_row.items():  # one record per row (a few more for a huge batch), in order
            for out in as_messages(row_changes):
                await topology.load_changes.send(key=row.encode(), value=dump_load_change(out))
        await hand_over(app, topology, batch)
        for result in batch.results:
            yield result


async def aggregate_provider_load(stream: StreamT[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    """Agent: load changes -> the provider-load rows (None for a record dead-lettered)."""
    app, topology = stream.app, topology_of(stream.app)
    async for events in batches(stream):
        batch, rows_now, written = Batch(), dict[bytes, dict[str, Any]](), dict[bytes, EventT[bytes]]()
        for record in events:
            message = record.message
            if not await topology.ordering.in_order(app, message, batch.ahead):
                batch.results.append(None)
                continue
            key, value = message.key, message.value
            try:
                change = read_load_change(key, value)
            except BadRecord as bad:
                await send_dead_letter(topology, bad, message, AGGREGATE)
                batch.finished(message, None)
                continue
            assert key is not None  # read_load_change refuses a record without one
            row = rows_now.get(key) or topology.provider_load.get(key) or rows.empty_row(key.decode())
            for one in changes_in(change):
                row = rows.apply_change(row, one)
            rows_now[key] = row = {**row, "partition": message.partition}  # which worker holds it (views.py)
            written[key] = record
            batch.finished(message, row)
        for key, record in written.items():
            with writing_for(record):
                topology.provider_load[key] = rows_now[key]
        await hand_over(app, topology, batch)
        for result in batch.results:
            yield result
