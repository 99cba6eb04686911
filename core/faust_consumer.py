"""faust's aiokafka consumer, delivering each fetched message to the agents without a task per message.

faust 0.15's fetch loop (`Consumer._drain_messages`) hands every message to the conductor through
`Service.wait_first(callback(message), suspend_flow.wait())`: four tasks created (the delivery, the flow's suspension,
the service's stop and crash), an `asyncio.wait`, three cancellations. The delivery itself (decode the message, put
it on the agent's stream) almost always completes without waiting; the tasks are there for the rare delivery that
must wait (flow control during a rebalance, a full stream buffer, the producer's buffer) and must be interrupted
when the flow is suspended. In a projections worker folding the log that machinery was most of faust's
per-message cost.

`EagerDeliveryConsumer` starts each delivery in place (`start_in_place`): a delivery that completes without waiting
is done, with no task; one that waits goes on as a task under `wait_first`, exactly as faust runs every delivery,
so that a suspended flow, a stop or a crash still interrupt it. Everything else of the loop (read offsets, gaps,
commits every N acks, yielding to the event loop every 100 messages, the stop conditions) is faust's, unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Coroutine, Generator
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import Consumer
from faust.types import AppT
from mode import Service, ServiceT

from core.faust_order import exit_later


class _Yield:
    """Awaiting this yields `what` (what a started coroutine yielded: a future, or None) to the task running the
    awaiting coroutine, as if that coroutine had yielded it itself."""

    __slots__ = ("what",)

    def __init__(self, what: Any) -> None:
        self.what = what

    def __await__(self) -> Generator[Any, None, None]:
        yield self.what


async def finish(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """The rest of a coroutine started in place, which yielded `yielded`: run as a task, this waits for what it
    waited for, resumes it, and so on until it returns (its value) or raises. A cancellation is thrown into it."""
    while True:
        try:
            await _Yield(yielded)
        except BaseException as exc:  # noqa: BLE001 - thrown into the task (cancellation): the coroutine's to handle
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


def start_in_place(coro: Awaitable[Any]) -> Awaitable[Any] | None:
    """Run `coro` until it first waits: None when it completed without waiting (an exception it raised goes
    through), else a coroutine that finishes it (`finish`), to be awaited or run as a task. An awaitable that is
    not a coroutine (a future) is returned as it is."""
    if not isinstance(coro, Coroutine):
        return coro
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return finish(coro, yielded)


class EagerDeliveryConsumer(Consumer):
    """faust's aiokafka consumer whose fetch loop starts each delivery in place (module docstring)."""

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - the worker's fetch loop
        # faust 0.15.3's loop, with the delivery started in place: only a delivery that waits costs the tasks.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every, num_since_yield = 100, 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator[Any], getmany(timeout=1.0))
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if self.suspend_flow.is_set():
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            else:
                                rest = start_in_place(callback(message))
                                if rest is not None:
                                    await self.wait_first(rest, self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            # faust stops the worker, and its stop waits for streams this loop no longer feeds (seen: 3 minutes,
            # until SIGTERM): the process exits if it has not stopped in time, for its supervisor to start it again.
            exit_later("the consumer's fetch loop", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


def use_eager_delivery(app: AppT) -> None:
    """`app`'s consumer (created when first used) is an `EagerDeliveryConsumer`."""
    app.transport.Consumer = EagerDeliveryConsumer  # type: ignore[misc]  # the instance's own, not the class's
