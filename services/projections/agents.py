"""The worker's two agents, in two steps because the event log is keyed by referral while load is counted per
provider and module:

1. `track_trajectories` folds each trajectory's events into table `trajectories` and sends what changed for a
   provider's module to the internal topic `load-changes`, keyed by provider|module (`load_changes.translate`);
2. `aggregate_provider_load` applies those changes to table `provider-load` (one row per provider|module).

Both read at the boundary with one function each (`read_event`, `read_load_change`), which raises `BadRecord` for a
record that is not what the topic carries: that record is dead-lettered (`kans.events.dlq.v1`, acknowledged by the
broker before the agent takes the next one, so before its offset can be committed) and the agent moves on. Anything
else raised is a bug: it stops the worker (CrashingSupervisor) rather than skipping the event.
faust acknowledges a message when the agent asks for the next one, after it handed its table writes to the Kafka
producer (`changelog_handed_over`): only then may faust commit its offset. The event log has no gaps (every offset
is a record), so a message that arrives while earlier ones of its partition never did means faust skipped them (it
can, around a rebalance): `Ordering.in_order` (core/faust_order.py) sends the consumer back to them, and the offsets
committed are the agents' own positions, never past a message not processed. Each yields one result
per message it read (what it sent, the row it stored; `()`/None for a dead letter), so a test driving it with
`agent.test_context()` can wait for each message and see what came of it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from faust.types import AppT, StreamT
from faust.types.tuples import Message

from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from schemas.projections import dump_load_change
from services.projections import provider_load as rows
from services.projections.load_changes import KeyedChange, read_load_change, trajectory_id_of, translate
from services.projections.topology import Topology, topology_of
from services.projections.trajectory_state import TrajectoryState

log = logging.getLogger(__name__)
TRACK, AGGREGATE = "projections.track_trajectories", "projections.aggregate_provider_load"


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


async def track_trajectories(stream: StreamT[bytes]) -> AsyncIterator[tuple[KeyedChange, ...]]:
    """Agent: the event log -> the trajectories' states and the load changes they cause (none for a duplicate)."""
    app, topology = stream.app, topology_of(stream.app)
    async for record in stream.events():
        if not await topology.ordering.in_order(app, record.message):
            yield ()
            continue
        try:
            event = read_event(record.message.value)
        except BadRecord as bad:
            await send_dead_letter(topology, bad, record.message, TRACK)
            topology.progress.processed(record.message)
            yield ()
            continue
        tid = trajectory_id_of(event)
        stored = None if tid is None else topology.trajectories.get(tid.encode())
        outcome = translate(event, None if stored is None else TrajectoryState.from_dict(stored))
        if tid is not None and outcome.state is not None:  # `partition`: which worker holds it (views.py)
            topology.trajectories[tid.encode()] = {**outcome.state.to_dict(), "partition": record.message.partition}
        for key, change in outcome.changes:
            await topology.load_changes.send(key=key.encode(), value=dump_load_change(change))
        await changelog_handed_over(app)
        topology.progress.processed(record.message)
        yield outcome.changes


async def aggregate_provider_load(stream: StreamT[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    """Agent: load changes -> the provider-load rows (None for a record dead-lettered)."""
    app, topology = stream.app, topology_of(stream.app)
    async for record in stream.events():
        if not await topology.ordering.in_order(app, record.message):
            yield None
            continue
        key, value = record.message.key, record.message.value
        try:
            change = read_load_change(key, value)
        except BadRecord as bad:
            await send_dead_letter(topology, bad, record.message, AGGREGATE)
            topology.progress.processed(record.message)
            yield None
            continue
        assert key is not None  # read_load_change refuses a record without one
        row = rows.apply_change(topology.provider_load.get(key) or rows.empty_row(key.decode()), change)
        row = {**row, "partition": record.message.partition}  # which worker holds it (views.py)
        topology.provider_load[key] = row
        await changelog_handed_over(app)
        topology.progress.processed(record.message)
        yield row
