"""The faust workers' fetch loop starts each delivery in place (core/faust_consumer.py): a delivery that completes
without waiting costs no task; one that waits is finished as a task, with its waits, its value, its errors and its
cancellation exactly as if the task had run it from the start."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from core.faust_apps import new_faust_app
from core.faust_consumer import EagerDeliveryConsumer, start_in_place
from core.settings import Settings


def in_a_loop(scenario: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """The test runs `scenario` in an event loop of its own."""

    @functools.wraps(scenario)
    def test() -> None:
        asyncio.run(scenario())

    return test


@in_a_loop
async def test_a_delivery_that_does_not_wait_is_done_in_place() -> None:
    done: list[str] = []

    async def deliver() -> None:
        done.append("delivered")

    assert start_in_place(deliver()) is None
    assert done == ["delivered"]  # before anything was awaited: no task ran it


@in_a_loop
async def test_an_error_of_a_delivery_that_does_not_wait_goes_through() -> None:
    async def deliver() -> None:
        raise ValueError("cannot decode")

    with pytest.raises(ValueError, match="cannot decode"):
        start_in_place(deliver())


@in_a_loop
async def test_a_delivery_that_waits_is_finished_as_a_task_with_its_value() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def deliver() -> int:
        steps.append("before")
        got = await gate
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield to the loop, too
        return got + 1

    rest = start_in_place(deliver())
    assert rest is not None and steps == ["before"]
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0.01)
    assert not task.done()  # still waiting for the gate
    gate.set_result(41)
    assert await asyncio.wait_for(task, 1) == 42
    assert steps == ["before", "after"]


@in_a_loop
async def test_an_error_after_a_wait_goes_through() -> None:
    async def deliver() -> None:
        await asyncio.sleep(0.001)
        raise KeyError("later")

    rest = start_in_place(deliver())
    assert rest is not None
    with pytest.raises(KeyError, match="later"):
        await asyncio.wait_for(rest, 1)


@in_a_loop
async def test_cancelling_a_delivery_that_waits_cancels_it_where_it_waits() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def deliver() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise
        finally:
            seen.append("cleaned up")

    rest = start_in_place(deliver())
    assert rest is not None
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside", "cleaned up"]


@in_a_loop
async def test_a_delivery_may_handle_its_cancellation_and_return() -> None:
    async def deliver() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "stopped cleanly"
        return "slept"

    rest = start_in_place(deliver())
    assert rest is not None
    task: asyncio.Task[Any] = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    task.cancel()
    assert await task == "stopped cleanly"


def test_every_worker_app_uses_the_eager_consumer(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    app = new_faust_app(settings, "unit-eager", "faust-unit", "127.0.0.1", 6999)
    assert app.transport.Consumer is EagerDeliveryConsumer


@in_a_loop
async def test_an_awaitable_that_is_not_a_coroutine_is_left_to_be_awaited() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    assert start_in_place(future) is future


def test_the_fetch_loop_copied_is_the_one_faust_runs() -> None:
    """EagerDeliveryConsumer re-states faust 0.15.3's `Consumer._drain_messages` with one change. An upgrade that
    changes faust's loop must be looked at (and this digest renewed) before the copy is trusted again."""
    import faust
    from faust.transport.consumer import Consumer as FaustConsumer

    source = inspect.getsource(FaustConsumer._drain_messages)
    assert faust.__version__ == "0.15.3"
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    ), "faust's fetch loop changed: compare it with core/faust_consumer.py's copy"
    assert EagerDeliveryConsumer._drain_messages is not FaustConsumer._drain_messages


def test_a_fetch_loop_that_crashes_has_the_process_exit_unless_faust_stopped_it_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fetch that raises (seen: aiokafka's KeyError while a partition was sought from another thread) stops the
    worker through faust, whose stop then waits for streams nobody feeds: the process is set to exit regardless."""
    from types import SimpleNamespace

    from core import faust_order

    later: list[tuple[float, Any, tuple[Any, ...]]] = []

    class Stopped:
        def is_set(self) -> bool:
            return False

    async def getmany(timeout: float) -> Any:
        raise KeyError("partition 5")
        yield  # an async generator, as faust's

    async def sleep(_: float) -> None:
        return None

    fake = SimpleNamespace(
        callback=None, getmany=getmany, _stopped=Stopped(), _read_offset={}, _commit_every=None,
        diag=SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None),
        app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True)), sleep=sleep,
        should_stop=False, consumer_stopped_errors=(), log=SimpleNamespace(exception=lambda *args: None),
    )  # fmt: skip

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "call_later", lambda delay, fn, *args: later.append((delay, fn, args)))
        with pytest.raises(KeyError):
            await EagerDeliveryConsumer._drain_messages(fake, SimpleNamespace(_stopped=Stopped()))  # type: ignore[arg-type]

    asyncio.run(scenario())
    assert later == [(faust_order.CRASH_EXIT_AFTER_S, faust_order._exit_now, ("the consumer's fetch loop",))]
