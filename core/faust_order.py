"""Each partition in order, and nothing committed that was not processed: what the faust workers' agents rely on.

faust can skip messages around a rebalance that hands a worker partitions it already held (after a kill -9 the new
worker's first rebalance still counts the dead member; the second one, once the broker gave up on it, hands the same
partitions back): it drops what it had fetched for the older generation, acknowledges it, and reads on
(faust-streaming #216, #221, #606). faust commits up to the first gap in what it acknowledged, so a crash after that
loses those events for good, and a worker that goes on serves views without them. The event log and the workers'
internal topics have no gaps (no transactions, no compaction: every offset is a record), so:

- `Ordering.in_order` tells an agent whether a message is the next one of its partition. One already processed
  (handed over again after a seek) is not applied again; one past an offset never processed sends the consumer back
  to that offset (`seek`) and waits for its turn, as do later ones still in faust's buffer;
- `Ordering.retry_rewinds` (a timer) sends a rewind that brought nothing back within REWIND_RETRY_S again (a batch
  faust was still handing over when the consumer was sent back can set its read position past the rewind again),
  and gives up after MAX_REWINDS;
- `commit_processed_only` makes faust's consumer commit the agents' own positions for their topics, never what faust
  acknowledged;
- `Ordering.give_up` (also on an agent's crash, `watch_crashes`): the worker is not ready from then on, and the
  process exits (CRASH_EXIT_CODE) if faust has not stopped it within CRASH_EXIT_AFTER_S (its CrashingSupervisor can
  hang: seen when the crash came during the start-up rebalance, the page saying ready for minutes). The process
  supervisor (supervisord, compose's restart policy) starts it again, from the committed offsets.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP, AgentT, AppT
from faust.types.tuples import Message

from core.metrics import ConsumerMetrics

log = logging.getLogger(__name__)
REWIND_RETRY_S = 3.0
MAX_REWINDS = 10
CRASH_EXIT_AFTER_S = 15.0
CRASH_EXIT_CODE = 70


class SkippedMessages(RuntimeError):
    """faust keeps not handing over messages of a partition even after the consumer was sent back to them."""


@dataclass
class Rewind:
    """A partition's consumer sent back to `offset`, when (monotonic), and how many times in a row."""

    offset: int
    at: float
    count: int = 1


async def seek(app: AppT, tp: TP, offset: int) -> None:
    """Send the consumer back to `offset`, on the consumer's own thread (faust's `seek_wait`). faust's `seek` calls
    aiokafka's from the event loop's thread while the consumer thread may be draining what it fetched: seen in a
    fresh-clone run (2026-12-08), aiokafka's `fetched_records` raised KeyError for the partition being sought, the
    fetcher crashed and the dispatch worker hung stopping instead of exiting."""
    await app.consumer.seek_wait({tp: offset})


def committed_offset(app: AppT, tp: TP) -> int | None:
    """faust's committed offset of `tp` (its consumer keeps it; there is no public accessor)."""
    committed: dict[TP, int | None] = getattr(app.consumer, "_committed_offset", {})
    return committed.get(tp)


@dataclass
class Ordering:
    """`positions`: per partition the offset after the last message the agents are done with (may be shared with a
    worker's lag bookkeeping); `beginnings`: asks the broker for partitions' first offsets (retention); `rewound`:
    rewinds sent per topic; `crashed`: who gave up (agents, the rewind timer)."""

    beginnings: Callable[[list[TP]], Awaitable[Mapping[TP, int]]]
    positions: dict[TP, int] = field(default_factory=dict)
    rewinds: dict[TP, Rewind] = field(default_factory=dict)
    rewound: Counter[str] = field(default_factory=Counter)
    crashed: list[str] = field(default_factory=list)
    metrics: ConsumerMetrics | None = None

    def processed(self, message: Message) -> None:
        self.positions[message.tp] = message.offset + 1

    def forget(self, partitions: Collection[TP]) -> None:
        """Partitions revoked: where they were says nothing about where they resume."""
        for tp in partitions:
            self.positions.pop(tp, None)
            self.rewinds.pop(tp, None)

    def _count_rewind(self, topic: str) -> None:
        self.rewound[topic] += 1
        if self.metrics is not None:
            self.metrics.rewound(topic)

    async def in_order(self, app: AppT, message: Message, ahead: Mapping[TP, int] | None = None) -> bool:
        """Whether `message` is the next one of its partition, to be processed. Expected: the offset after the last
        one processed here, else the committed offset (else nothing known), never before the log's first offset.
        `ahead`: positions of a batch being processed, not yet done (they count before `positions`)."""
        tp = message.tp
        expected = ahead.get(tp) if ahead and tp in ahead else self.positions.get(tp)
        if expected is None:
            committed = committed_offset(app, tp)
            if committed is None or message.offset <= committed:
                return True
            expected = max(committed, (await self.beginnings([tp])).get(tp, 0))
            if message.offset <= expected:
                return True
        if message.offset < expected:
            return False
        if message.offset == expected:
            self.rewinds.pop(tp, None)
            return True
        pending = self.rewinds.get(tp)
        if pending is not None and pending.offset == expected:
            return False
        log.warning("%s[%d]: offset %d arrived but %d..%d were never processed: reading again from %d", message.topic,
                    message.partition, message.offset, expected, message.offset - 1, expected)  # fmt: skip
        self.rewinds[tp] = Rewind(expected, time.monotonic())
        self._count_rewind(message.topic)
        await seek(app, tp, expected)
        return False

    async def retry_rewinds(self, app: AppT) -> None:
        """Timer: send each rewind that brought nothing back within REWIND_RETRY_S again; give up after
        MAX_REWINDS."""
        now, assigned = time.monotonic(), app.consumer.assignment()
        for tp, pending in list(self.rewinds.items()):
            if tp not in assigned or self.positions.get(tp, pending.offset) != pending.offset:
                self.rewinds.pop(tp, None)  # revoked, or the rewind worked and the partition moved on
                continue
            if now - pending.at < REWIND_RETRY_S:
                continue
            if pending.count >= MAX_REWINDS:
                self.give_up("rewinds", SkippedMessages(f"{tp.topic}[{tp.partition}] from {pending.offset}: nothing "
                                                        f"handed over after {pending.count} rewinds"))  # fmt: skip
                return
            pending.at, pending.count = now, pending.count + 1
            log.warning("%s[%d]: nothing handed over from %d since the rewind: reading again from it (rewind %d)",
                        tp.topic, tp.partition, pending.offset, pending.count)  # fmt: skip
            self._count_rewind(tp.topic)
            await seek(app, tp, pending.offset)

    def give_up(self, who: str, exc: BaseException) -> None:
        """`who` met `exc`: the worker is not ready from now on, and the process ends."""
        self.crashed.append(who)
        exit_later(who, exc)


def exit_later(who: str, exc: BaseException) -> None:
    """`who` stopped the worker with `exc`: the process exits (CRASH_EXIT_CODE) in CRASH_EXIT_AFTER_S unless faust
    has stopped it by then (its stop can hang waiting for streams nobody will empty any more)."""
    log.critical("%s stopped the worker (%r): exiting in %.0f s unless it has stopped by then", who, exc,
                 CRASH_EXIT_AFTER_S)  # fmt: skip
    asyncio.get_running_loop().call_later(CRASH_EXIT_AFTER_S, _exit_now, who)


def _exit_now(who: str) -> None:
    log.critical("the worker did not stop after %s gave up: exiting (%d)", who, CRASH_EXIT_CODE)
    logging.shutdown()
    os._exit(CRASH_EXIT_CODE)


def watch_crashes(agent: AgentT, ordering: Ordering) -> None:
    """When `agent` crashes: `ordering.give_up`, then faust's own handler (which commits: positions only)."""
    faust_handler = agent._on_error  # type: ignore[attr-defined]  # faust sets it to the app's; no public hook

    async def on_error(crashed: AgentT, exc: BaseException) -> None:
        ordering.give_up(crashed.name, exc)
        if faust_handler is not None:
            await faust_handler(crashed, exc)

    agent._on_error = on_error  # type: ignore[attr-defined]


def commit_offset(position: int | None, committed: int | None) -> int | None:
    """The offset to commit for a partition whose agent reached `position` (None: nothing processed since it was
    assigned), `committed` being the group's committed offset: only forward, only what was processed."""
    if position is None or (committed is not None and position <= committed):
        return None
    return position


def commit_processed_only(consumer: Any, ordering: Ordering, topics: Collection[str]) -> None:
    """Make faust's `consumer` commit `ordering.positions` for `topics` (its own rule for any other topic, such as
    the tables' changelogs). Its acknowledgement bookkeeping for these topics is dropped at each commit, so it cannot
    grow or stall."""
    own: Callable[[TP], int | None] = consumer._new_offset
    ours = frozenset(topics)

    def new_offset(tp: TP) -> int | None:
        if tp.topic not in ours:
            return own(tp)
        consumer._acked[tp].clear()
        consumer._acked_index[tp].clear()
        consumer._gap[tp].clear()
        return commit_offset(ordering.positions.get(tp), consumer._committed_offset.get(tp))

    consumer._new_offset = new_offset
