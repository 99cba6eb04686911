"""A faust stream taken a batch at a time, with the gathering time following the traffic (`take_events`).

faust's own `Stream.take_events(max_, within)` waits a fixed `within` before each batch. A short wait keeps an
isolated change fast (it waits at most that long at each agent); under steady traffic it makes many small batches,
and every batch has fixed costs (its changelog records, its hand-over to the producer, faust's bookkeeping). Here
the wait is chosen before each batch by `Window.after(what the last wait gathered, how long it was)`: the short one
while messages come one at a time, the long one once they come at `busy_per_s` or more, the short one again as soon
as a wait gathers fewer. The rule is a rate, not a count, so that a load that starts while the window is short is
seen as such (a count, 8 messages, kept a worker that saw 5 per 20 ms on the short window for a whole run).

Measured with `kans bench-live` (defaults, alternating runs, 2026-12-07 21:14-21:22 UTC): a fixed 100 ms instead of
20 ms took the two workers' CPU per event from 0.67-0.86 ms to 0.53-0.57 ms, and the ingest beside them accepted
1,063-1,091 events/s instead of 766-970. `Window` keeps the 20 ms for a lone change.

The body is faust 0.15's `Stream.take_events` (faust/streams.py), the same but for the timeout taken from `window`
before each wait and the size of the batch it gathered; it uses the stream internals faust's own method uses, and is
registered like it (`_active_agens`) so that the stream's stop closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from faust import Stream
from faust.types import EventT
from mode.utils.aiter import aiter
from mode.utils.futures import notify

SHORT_S, LONG_S = 0.02, 0.1
BUSY_PER_S = 150  # messages a second that make the long wait worth it: 3 in the short wait, 15 in the long one


@dataclass(frozen=True)
class Window:
    """How long to gather the next batch, from what the last wait gathered (0: nothing) in how long it waited."""

    short_s: float = SHORT_S
    long_s: float = LONG_S
    busy_per_s: float = BUSY_PER_S

    def after(self, gathered: int, waited_s: float) -> float:
        return self.long_s if gathered >= self.busy_per_s * waited_s else self.short_s


def take_events(stream: Stream[Any], max_: int, window: Window = Window()) -> AsyncGenerator[Sequence[EventT], None]:
    """The stream's events, up to `max_` at a time or what came within the window; each batch is acknowledged once
    the caller asks for the next one (as with faust's `take_events`)."""
    agen = _take_events(stream, max_, window)
    stream._active_agens.add(agen)  # closed by the stream's stop, like faust's own buffering generators
    return agen


async def _take_events(self: Any, max_: int, window: Window) -> AsyncGenerator[Sequence[EventT], None]:
    buffer: list[Any] = []
    events: list[EventT] = []
    buffer_add = buffer.append
    event_add = events.append
    buffer_size = buffer.__len__
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    stream_enable_acks: bool = self.enable_acks
    buffer_consuming: asyncio.Future[Any] | None = None
    channel_it = aiter(self.channel)

    # faust: "We add this processor to populate the buffer, and the stream is passively consumed in the background"
    async def add_to_buffer(value: Any) -> Any:
        try:
            nonlocal buffer_consuming
            if buffer_consuming is not None:  # set while the caller consumes the buffer
                try:
                    await buffer_consuming
                finally:
                    buffer_consuming = None
            buffer_add(value)
            event = self.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            event_add(event)
            if buffer_size() >= max_:
                buffer_full.set()  # the buffer is full: emptied at once, never more than max_ values
                buffer_consumed.clear()
                await self.wait(buffer_consumed)
        except asyncio.CancelledError:  # pragma: no cover
            raise
        except Exception as exc:
            self.log.exception("Error adding to take buffer: %r", exc)
            await self.crash(exc)
        return value

    self.enable_acks = False  # acked here, once the caller is done with them
    self.add_processor(add_to_buffer)
    self._enable_passive(cast(Any, channel_it))
    gathered, waited = 0, window.short_s
    try:
        while not self.should_stop:
            waited = window.after(gathered, waited)
            await self.wait_for_stopped(buffer_full, timeout=waited)
            gathered = len(buffer)
            if buffer:
                buffer_consuming = self.loop.create_future()  # no new values while the caller reads
                try:
                    yield list(events)
                finally:
                    buffer.clear()
                    for event in events:
                        await self.ack(event)
                    events.clear()
                    notify(buffer_consuming)  # values may be added again
                    buffer_full.clear()
                    buffer_consumed.set()
    finally:
        self.enable_acks = stream_enable_acks
        self._processors.remove(add_to_buffer)
