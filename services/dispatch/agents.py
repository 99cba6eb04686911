"""The dispatch worker's two agents:

1. `route_events` reads the event log (every partition) and forwards what the rules read to the one-partition feed,
   in the order of each partition (records are forwarded as they are: the feed carries the log's own bytes);
2. `decide` reads the feed, runs the engine on each event (`engine.Engine`, through overlays of the tables), hands
   the events it causes to the ingest's Kafka way in (`kans.inbound.v1`, with the service's API key: the ingest stays
   the log's one writer), waits until the broker acknowledged them, and only then commits the engine's writes to
   the tables. A crash in between re-reads the event and sends the same submissions again: duplicates, which the
   ingest's idempotency index answers without publishing them twice.

Both read each record with `core.dead_letters.read_event`: a record that is not an event of the contract is
dead-lettered (acknowledged before the agent takes the next message) and skipped. Anything else raised is a bug: it
stops the worker (CrashingSupervisor, bootstrap.py) rather than skip an event. Each partition is read in order and
only what was processed is committed (`Ordering`, core/faust_order.py): faust can skip messages around a rebalance.
Each yields one result per message (the type forwarded, the events written; None/() for a record dead-lettered, not
read, or not its turn), for `test_context()`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from faust.types import AppT, StreamT
from faust.types.tuples import Message

from core.dead_letters import BadRecord, Origin, dead_letter, read_event
from schemas.envelope import Envelope
from services.dispatch.catalogue import PROVIDER_FACTS
from services.dispatch.engine import ENDINGS, GROUP_ENDINGS, Engine
from services.dispatch.outputs import Output
from services.dispatch.store import commit_all, overlays
from services.dispatch.topology import Topology, topology_of

log = logging.getLogger(__name__)
ROUTE, DECIDE = "dispatch.route_events", "dispatch.decide"
READ_BY_THE_RULES = frozenset({
    *PROVIDER_FACTS, *ENDINGS, *GROUP_ENDINGS, "ReferralSubmitted", "ReferralAmended", "ReferralWithdrawn",
    "AdviceGiven", "RoundTableHeld", "TrajectoryDispatched", "TrajectoryCarriedOver", "GroupReferralSubmitted",
    "GroupTrajectoryDispatched",
})  # fmt: skip


async def changelog_handed_over(app: AppT) -> None:
    """Wait until the writes so far are with the Kafka producer (faust's own flush gives up after 0.1 s; see
    services/projections/agents.py), so an offset is never committed before what its message sent."""
    buffer = app.producer.buffer
    while buffer.size and buffer.state == "running":  # not running: a test without a broker
        await buffer.flush()


async def send_dead_letter(topology: Topology, bad: BadRecord, message: Message, consumer: str) -> None:
    origin = Origin(message.topic, message.partition, message.offset, int(message.timestamp * 1000), consumer)
    letter = dead_letter(bad, message.key, message.value, origin)
    delivered = await topology.dead_letters.send(key=letter.key, value=letter.value, headers=letter.headers,
                                                 force=True)  # fmt: skip
    await delivered
    topology.seen.dead_lettered(consumer, bad.reason)
    log.warning("dead-lettered %s[%d]@%d (%s): %s", message.topic, message.partition, message.offset, consumer, bad)


async def route_events(stream: StreamT[bytes]) -> AsyncIterator[str | None]:
    """Agent: the event log -> the feed (only the events the rules read)."""
    app, topology = stream.app, topology_of(stream.app)
    async for record in stream.events():
        message = record.message
        if not await topology.ordering.in_order(app, message):
            yield None
            continue
        try:
            event = read_event(message.value)
        except BadRecord as bad:
            await send_dead_letter(topology, bad, message, ROUTE)
            topology.ordering.processed(message)
            yield None
            continue
        forwarded = event.event_type if event.event_type in READ_BY_THE_RULES else None
        if forwarded is not None:
            await topology.feed.send(key=message.key, value=message.value)
            await changelog_handed_over(app)
        topology.seen.processed[ROUTE] += 1
        topology.ordering.processed(message)
        yield forwarded


async def publish(topology: Topology, outputs: list[Output]) -> None:
    """Send the outputs' submissions to the ingest's way in, keyed by their stream (one referral's in order), and
    wait for the broker's acknowledgements."""
    headers = [("api-key", topology.api_key.encode())]
    pending = [await topology.inbound.send(key=o.event.stream_id.encode(), value=json.dumps(o.submission).encode(),
                                           headers=headers, force=True) for o in outputs]  # fmt: skip
    for delivered in pending:
        await delivered
    topology.seen.published.update(o.event.event_type for o in outputs)


async def decide(stream: StreamT[bytes]) -> AsyncIterator[tuple[Envelope, ...]]:
    """Agent: the feed -> the dispatch events (sent to the ingest's way in) and the state tables."""
    app, topology = stream.app, topology_of(stream.app)
    async for record in stream.events():
        message = record.message
        if not await topology.ordering.in_order(app, message):
            yield ()
            continue
        try:
            event = read_event(message.value)
        except BadRecord as bad:
            await send_dead_letter(topology, bad, message, DECIDE)
            topology.ordering.processed(message)
            yield ()
            continue
        staged = overlays(topology.tables)
        outputs = Engine(staged, topology.rules, lambda: datetime.now(UTC)).apply(event)
        await publish(topology, outputs)
        commit_all(staged)
        await changelog_handed_over(app)
        topology.seen.processed[DECIDE] += 1
        topology.ordering.processed(message)
        yield tuple(o.event for o in outputs)
