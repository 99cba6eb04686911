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
can, around a rebalance): `in_order` sends the consumer back to them, and the offsets committed are the agents' own
positions (`commits.py`), never past a message not processed. Each yields one result
per message it read (what it sent, the row it stored; `()`/None for a dead letter), so a test driving it with
`agent.test_context()` can wait for each message and see what came of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from faust.types import AppT, StreamT
from faust.types.tuples import Message

from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from schemas.projections import dump_load_change
from services.projections import provider_load as rows
from services.projections.failing import give_up
from services.projections.load_changes import KeyedChange, read_load_change, trajectory_id_of, translate
from services.projections.progress import committed_offset
from services.projections.topology import Rewind, Topology, topology_of
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


class SkippedMessages(RuntimeError):
    """faust keeps handing over messages past offsets this worker never processed, even after it was sent back to
    them: not a bad record, a fault."""


REWIND_RETRY_S = 3.0  # a rewind that brought nothing back after this long is sent again (`retry_rewinds`),
MAX_REWINDS = 10  # at most this many times; then the worker stops (the supervisor restarts it from the commits)


async def in_order(app: AppT, topology: Topology, message: Message) -> bool:
    """Whether `message` is the next one of its partition, to be processed. Expected: the offset after the last one
    processed here, else the committed offset (else nothing known); records removed by retention are not missing,
    so the expectation is never before the log's first offset.

    - Before the expected offset: already processed here (faust handed it over again after a seek): not again.
    - After it: faust skipped messages (it does, around a rebalance that leaves it a partition it already held: it
      drops what it had fetched for the older generation and reads on). The consumer is sent back to the expected
      offset and this message waits for its turn; the offsets committed are the agents' own positions
      (`commits.py`), so nothing skipped is committed meanwhile. Later messages of the partition still in faust's
      buffer wait too, without a new seek; `retry_rewinds` sends a rewind that brought nothing back again.
    """
    progress, tp = topology.progress, message.tp
    expected = progress.positions.get(tp)
    if expected is None:
        committed = committed_offset(app, tp)
        if committed is None or message.offset <= committed:
            return True
        expected = max(committed, (await topology.offsets.beginnings([tp])).get(tp, 0))
        if message.offset <= expected:
            return True
    if message.offset < expected:
        return False
    if message.offset == expected:
        topology.rewinds.pop(tp, None)
        return True
    pending = topology.rewinds.get(tp)
    if pending is not None and pending.offset == expected:
        return False
    log.warning("%s[%d]: offset %d arrived but %d..%d were never processed: reading again from %d",
                message.topic, message.partition, message.offset, expected, message.offset - 1, expected)  # fmt: skip
    topology.rewinds[tp] = Rewind(expected, time.monotonic())
    progress.rewound(message.topic)
    await app.consumer.seek(tp, expected)
    return False


async def retry_rewinds(app: AppT) -> None:
    """Timer: send again each rewind that brought nothing back within REWIND_RETRY_S (a batch faust was still
    handing over when the consumer was sent back can set its read position past the rewind again, and then it
    drops what the rewind fetched); after MAX_REWINDS the worker stops (SkippedMessages, via `give_up`)."""
    topology, now = topology_of(app), time.monotonic()
    assigned = app.consumer.assignment()
    for tp, pending in list(topology.rewinds.items()):
        if tp not in assigned or topology.progress.positions.get(tp, pending.offset) != pending.offset:
            topology.rewinds.pop(tp, None)  # revoked, or the rewind worked and the partition moved on
            continue
        if now - pending.at < REWIND_RETRY_S:
            continue
        if pending.count >= MAX_REWINDS:
            give_up(app, "rewinds", SkippedMessages(f"{tp.topic}[{tp.partition}] from {pending.offset}: nothing "
                                                    f"handed over after {pending.count} rewinds"))  # fmt: skip
            return
        pending.at, pending.count = now, pending.count + 1
        log.warning("%s[%d]: nothing handed over from %d since the rewind: reading again from it (rewind %d)",
                    tp.topic, tp.partition, pending.offset, pending.count)  # fmt: skip
        topology.progress.rewound(tp.topic)
        await app.consumer.seek(tp, pending.offset)


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
        if not await in_order(app, topology, record.message):
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
        if tid is not None and outcome.state is not None:
            topology.trajectories[tid.encode()] = outcome.state.to_dict()
        for key, change in outcome.changes:
            await topology.load_changes.send(key=key.encode(), value=dump_load_change(change))
        await changelog_handed_over(app)
        topology.progress.processed(record.message)
        yield outcome.changes


async def aggregate_provider_load(stream: StreamT[bytes]) -> AsyncIterator[dict[str, Any] | None]:
    """Agent: load changes -> the provider-load rows (None for a record dead-lettered)."""
    app, topology = stream.app, topology_of(stream.app)
    async for record in stream.events():
        if not await in_order(app, topology, record.message):
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
        topology.provider_load[key] = row
        await changelog_handed_over(app)
        topology.progress.processed(record.message)
        yield row
