"""The faust workers' agents process each partition in order although faust may skip messages around a rebalance
(core/faust_order.py: Ordering.in_order), and the offsets committed are the agents' own positions, never past a
message faust skipped and acknowledged. faust's real consumer object (both workers') is used for the commit rule and
the crash handling; no broker is needed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from core import faust_order
from core.faust_order import Ordering, commit_offset
from core.settings import Settings
from core.topics import events_topic
from services.dispatch.bootstrap import bootstrap as dispatch_bootstrap
from services.dispatch.bootstrap import feed_topic
from services.dispatch.topology import topology_of as dispatch_topology_of
from services.projections.bootstrap import bootstrap, load_changes_topic
from services.projections.topology import topology_of

TOPIC = "kans.events.v1"
TP0 = TP(TOPIC, 0)


class FakeConsumer:
    def __init__(self, committed: int | None) -> None:
        self._committed_offset: dict[TP, int | None] = {TP0: committed}
        self.seeks: list[tuple[TP, int]] = []

    async def seek_wait(self, partitions: dict[TP, int]) -> None:  # faust's thread-safe seek
        self.seeks.extend(partitions.items())


class FakeOffsets:
    def __init__(self, first: int = 0) -> None:
        self.first = first

    async def beginnings(self, tps: list[TP]) -> dict[TP, int]:
        return {tp: self.first for tp in tps}


def world(committed: int | None = None, first: int = 0) -> tuple[Any, Ordering]:
    app = SimpleNamespace(consumer=FakeConsumer(committed))
    return app, Ordering(FakeOffsets(first).beginnings)


def msg(offset: int) -> Any:
    return SimpleNamespace(topic=TOPIC, partition=0, tp=TP0, offset=offset)


def run(app: Any, ordering: Ordering, offset: int) -> bool:
    verdict = asyncio.run(ordering.in_order(app, msg(offset)))
    if verdict:
        ordering.processed(msg(offset))  # what the agent records once done with it
    return verdict


def test_the_next_offset_is_processed_and_one_processed_already_is_not_again() -> None:
    app, topology = world(committed=10)
    assert [run(app, topology, o) for o in (10, 11, 12)] == [True, True, True]
    assert run(app, topology, 11) is False  # handed over again after a seek: done already
    assert topology.positions[TP0] == 13
    assert app.consumer.seeks == []


def test_a_skip_after_a_rebalance_sends_the_consumer_back_once_and_the_skipped_messages_are_then_processed() -> None:
    app, topology = world(committed=81)
    # faust handed over 83 and 84 without 81 and 82 (fetched for an older generation, dropped and acknowledged).
    assert run(app, topology, 83) is False
    assert run(app, topology, 84) is False  # still in faust's buffer: waits, no second seek
    assert app.consumer.seeks == [(TP0, 81)]
    assert topology.rewound == {TOPIC: 1}
    assert [run(app, topology, o) for o in (81, 82, 83, 84)] == [True, True, True, True]
    assert topology.rewinds == {}  # the rewind is over once the expected offset came
    assert run(app, topology, 83) is False  # the copy fetched before the seek, if it comes after all
    assert topology.positions[TP0] == 85


def test_a_skip_in_the_middle_of_a_partition_rewinds_to_the_offset_after_the_last_processed() -> None:
    app, topology = world(committed=0)
    assert [run(app, topology, o) for o in (0, 1, 2)] == [True, True, True]
    assert run(app, topology, 5) is False
    assert app.consumer.seeks == [(TP0, 3)]


def test_records_removed_by_retention_are_not_waited_for() -> None:
    app, topology = world(committed=40, first=60)
    assert run(app, topology, 60) is True
    assert app.consumer.seeks == []


def test_a_rewind_that_brings_nothing_back_is_sent_again_then_the_worker_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, gave_up = [1000.0], []
    monkeypatch.setattr(faust_order.time, "monotonic", lambda: clock[0])
    app, topology = world(committed=81)
    monkeypatch.setattr(topology, "give_up", lambda who, exc: gave_up.append((who, str(exc))))
    app.consumer.assignment = lambda: {TP0}
    assert run(app, topology, 83) is False
    asyncio.run(topology.retry_rewinds(app))  # too soon: the first seek may still bring them
    assert app.consumer.seeks == [(TP0, 81)]
    for _ in range(faust_order.MAX_REWINDS - 1):
        clock[0] += faust_order.REWIND_RETRY_S
        asyncio.run(topology.retry_rewinds(app))
        assert run(app, topology, 83) is False  # a message past the rewind never sends a seek of its own again
    assert app.consumer.seeks == [(TP0, 81)] * faust_order.MAX_REWINDS
    assert topology.rewound == {TOPIC: faust_order.MAX_REWINDS} and gave_up == []
    clock[0] += faust_order.REWIND_RETRY_S
    asyncio.run(topology.retry_rewinds(app))
    assert gave_up == [("rewinds", f"{TOPIC}[0] from 81: nothing handed over after {faust_order.MAX_REWINDS} rewinds")]


def test_a_rewind_ends_when_its_offset_came_or_its_partition_went(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(faust_order.time, "monotonic", lambda: clock[0])
    app, topology = world(committed=81)
    app.consumer.assignment = lambda: {TP0}
    run(app, topology, 83)
    assert [run(app, topology, o) for o in (81, 82)] == [True, True]
    clock[0] += faust_order.REWIND_RETRY_S
    asyncio.run(topology.retry_rewinds(app))
    assert topology.rewinds == {} and app.consumer.seeks == [(TP0, 81)]
    run(app, topology, 90)  # a new skip, then the partition is revoked
    app.consumer.assignment = lambda: set()
    clock[0] += faust_order.REWIND_RETRY_S
    asyncio.run(topology.retry_rewinds(app))
    assert topology.rewinds == {} and app.consumer.seeks == [(TP0, 81), (TP0, 83)]


def test_nothing_is_committed_past_the_agents_position() -> None:
    assert commit_offset(position=None, committed=81) is None  # nothing processed since assigned
    assert commit_offset(position=81, committed=81) is None
    assert commit_offset(position=90, committed=81) == 90
    assert commit_offset(position=5, committed=None) == 5


def test_faust_s_consumer_commits_the_agents_positions_not_what_it_acknowledged(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    app = bootstrap(settings)
    consumer, progress = app.consumer, topology_of(app).progress  # its positions are the ordering's
    events, changes = TP(events_topic(settings), 4), TP(load_changes_topic(settings), 0)
    other = TP("some-table-changelog", 0)
    consumer._committed_offset.update({events: 81, changes: 10, other: None})
    # faust acknowledged 81..85 of the events (81, 82 skipped unseen by the agent) and recorded a gap 86..89.
    consumer._acked[events].extend([81, 82, 83, 84, 85])
    consumer._acked_index[events].update([81, 82, 83, 84, 85])
    asyncio.run(consumer._add_gap(events, 86, 89))
    consumer._acked[changes].extend([10, 11])
    consumer._acked[other].extend([0, 1, 2])
    progress.positions[changes] = 12
    assert consumer._filter_committable_offsets([events, changes, other]) == {changes: 12, other: 3}
    progress.positions[events] = 84  # the agent has done 81..83
    assert consumer._filter_committable_offsets([events]) == {events: 84}
    assert consumer._acked[events] == [] and not consumer._gap[events]  # its bookkeeping cannot grow or stall


@pytest.mark.parametrize("worker", ["projections", "dispatch"])
def test_an_agent_that_crashed_makes_the_worker_unready_and_the_process_exits_if_faust_hangs(
    worker: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.dispatch.views import is_ready as dispatch_ready
    from services.projections.views import is_ready as projections_ready

    exits: list[int] = []
    monkeypatch.setattr(faust_order.os, "_exit", exits.append)
    monkeypatch.setattr(faust_order, "CRASH_EXIT_AFTER_S", 0.05)
    build, is_ready, topology_of_app = {
        "projections": (bootstrap, projections_ready, topology_of),
        "dispatch": (dispatch_bootstrap, dispatch_ready, dispatch_topology_of),
    }[worker]
    settings = Settings(data_dir=tmp_path)
    app = build(settings)
    app.tables.recovery.completed.set()
    held = {TP0, TP(load_changes_topic(settings), 0)} if worker == "projections" else {TP0}
    if worker == "projections":  # event partitions without their load-changes partitions: nobody aggregates them
        monkeypatch.setattr(app.consumer, "assignment", lambda: {TP0})
        assert is_ready(app) is False
    monkeypatch.setattr(app.consumer, "assignment", lambda: held)
    assert is_ready(app) is True
    agent = next(iter(app.agents.values()))
    assert agent._on_error.__qualname__.startswith("watch_crashes")  # bootstrap wired it to every agent
    faust_called: list[BaseException] = []

    async def faust_handler(crashed: Any, exc: BaseException) -> None:
        faust_called.append(exc)

    async def crash() -> None:
        agent._on_error = faust_handler
        faust_order.watch_crashes(agent, topology_of_app(app).ordering)
        await agent._on_error(agent, RuntimeError("bug"))
        assert is_ready(app) is False and exits == []
        await asyncio.sleep(0.2)

    asyncio.run(crash())
    assert exits == [faust_order.CRASH_EXIT_CODE]
    assert topology_of_app(app).ordering.crashed == [agent.name] and len(faust_called) == 1


def test_the_dispatch_worker_commits_its_agents_positions(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    app = dispatch_bootstrap(settings)
    consumer, ordering = app.consumer, dispatch_topology_of(app).ordering
    events, feed = TP(events_topic(settings), 2), TP(feed_topic(settings), 0)
    consumer._committed_offset.update({events: 5, feed: 0})
    consumer._acked[events].extend([5, 6, 7])
    consumer._acked[feed].extend([0, 1])
    assert consumer._filter_committable_offsets([events, feed]) == {}  # acknowledged, never processed
    ordering.processed(SimpleNamespace(tp=events, offset=6))
    assert consumer._filter_committable_offsets([events, feed]) == {events: 7}
