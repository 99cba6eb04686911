"""The projections agents process each partition in order although faust may skip messages around a rebalance
(agents.in_order), and the offsets committed are the agents' own positions, never past a message faust skipped and
acknowledged (commits.py). faust's real consumer object is used for the commit rule; no broker is needed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from core.settings import Settings
from core.topics import events_topic
from services.projections import agents
from services.projections.agents import in_order
from services.projections.bootstrap import bootstrap, load_changes_topic
from services.projections.commits import commit_offset
from services.projections.progress import Progress
from services.projections.topology import topology_of

TOPIC = "kans.events.v1"
TP0 = TP(TOPIC, 0)


class FakeConsumer:
    def __init__(self, committed: int | None) -> None:
        self._committed_offset: dict[TP, int | None] = {TP0: committed}
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


class FakeOffsets:
    def __init__(self, first: int = 0) -> None:
        self.first = first

    async def beginnings(self, tps: list[TP]) -> dict[TP, int]:
        return {tp: self.first for tp in tps}


def world(committed: int | None = None, first: int = 0) -> tuple[Any, Any]:
    app = SimpleNamespace(consumer=FakeConsumer(committed))
    topology = SimpleNamespace(progress=Progress(), offsets=FakeOffsets(first), rewinds={})
    return app, topology


def msg(offset: int) -> Any:
    return SimpleNamespace(topic=TOPIC, partition=0, tp=TP0, offset=offset)


def run(app: Any, topology: Any, offset: int) -> bool:
    verdict = asyncio.run(in_order(app, topology, msg(offset)))
    if verdict:
        topology.progress.positions[TP0] = offset + 1  # what the agent records once done with it
    return verdict


def test_the_next_offset_is_processed_and_one_processed_already_is_not_again() -> None:
    app, topology = world(committed=10)
    assert [run(app, topology, o) for o in (10, 11, 12)] == [True, True, True]
    assert run(app, topology, 11) is False  # handed over again after a seek: done already
    assert topology.progress.positions[TP0] == 13
    assert app.consumer.seeks == []


def test_a_skip_after_a_rebalance_sends_the_consumer_back_once_and_the_skipped_messages_are_then_processed() -> None:
    app, topology = world(committed=81)
    # faust handed over 83 and 84 without 81 and 82 (fetched for an older generation, dropped and acknowledged).
    assert run(app, topology, 83) is False
    assert run(app, topology, 84) is False  # still in faust's buffer: waits, no second seek
    assert app.consumer.seeks == [(TP0, 81)]
    assert topology.progress.rewinds == {TOPIC: 1}
    assert [run(app, topology, o) for o in (81, 82, 83, 84)] == [True, True, True, True]
    assert topology.rewinds == {}  # the rewind is over once the expected offset came
    assert run(app, topology, 83) is False  # the copy fetched before the seek, if it comes after all
    assert topology.progress.positions[TP0] == 85


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
    monkeypatch.setattr(agents.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(agents, "give_up", lambda app, who, exc: gave_up.append((who, str(exc))))
    app, topology = world(committed=81)
    app.consumer.assignment = lambda: {TP0}
    app.kans_projections = topology  # where topology_of finds it
    assert run(app, topology, 83) is False
    asyncio.run(agents.retry_rewinds(app))  # too soon: the first seek may still bring them
    assert app.consumer.seeks == [(TP0, 81)]
    for _ in range(agents.MAX_REWINDS - 1):
        clock[0] += agents.REWIND_RETRY_S
        asyncio.run(agents.retry_rewinds(app))
        assert run(app, topology, 83) is False  # a message past the rewind never sends a seek of its own again
    assert app.consumer.seeks == [(TP0, 81)] * agents.MAX_REWINDS
    assert topology.progress.rewinds == {TOPIC: agents.MAX_REWINDS} and gave_up == []
    clock[0] += agents.REWIND_RETRY_S
    asyncio.run(agents.retry_rewinds(app))
    assert gave_up == [("rewinds", f"{TOPIC}[0] from 81: nothing handed over after {agents.MAX_REWINDS} rewinds")]


def test_a_rewind_ends_when_its_offset_came_or_its_partition_went(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(agents.time, "monotonic", lambda: clock[0])
    app, topology = world(committed=81)
    app.kans_projections = topology
    app.consumer.assignment = lambda: {TP0}
    run(app, topology, 83)
    assert [run(app, topology, o) for o in (81, 82)] == [True, True]
    clock[0] += agents.REWIND_RETRY_S
    asyncio.run(agents.retry_rewinds(app))
    assert topology.rewinds == {} and app.consumer.seeks == [(TP0, 81)]
    run(app, topology, 90)  # a new skip, then the partition is revoked
    app.consumer.assignment = lambda: set()
    clock[0] += agents.REWIND_RETRY_S
    asyncio.run(agents.retry_rewinds(app))
    assert topology.rewinds == {} and app.consumer.seeks == [(TP0, 81), (TP0, 83)]


def test_nothing_is_committed_past_the_agents_position() -> None:
    assert commit_offset(position=None, committed=81) is None  # nothing processed since assigned
    assert commit_offset(position=81, committed=81) is None
    assert commit_offset(position=90, committed=81) == 90
    assert commit_offset(position=5, committed=None) == 5


def test_faust_s_consumer_commits_the_agents_positions_not_what_it_acknowledged(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    app = bootstrap(settings)
    consumer, progress = app.consumer, topology_of(app).progress
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


def test_an_agent_that_crashed_makes_the_worker_unready_and_the_process_exits_if_faust_hangs(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.projections import bootstrap as wiring
    from services.projections import failing
    from services.projections.views import is_ready

    exits: list[int] = []
    monkeypatch.setattr(failing.os, "_exit", exits.append)
    monkeypatch.setattr(failing, "CRASH_EXIT_AFTER_S", 0.05)
    app = bootstrap(Settings(data_dir=tmp_path))
    app.tables.recovery.completed.set()
    monkeypatch.setattr(app.consumer, "assignment", lambda: {TP0})
    assert is_ready(app) is True
    agent = next(a for a in app.agents.values() if a.name.endswith("track_trajectories"))
    faust_called: list[BaseException] = []

    async def faust_handler(crashed: Any, exc: BaseException) -> None:
        faust_called.append(exc)

    async def crash() -> None:
        agent._on_error = faust_handler
        wiring.watch_crashes(agent)
        await agent._on_error(agent, RuntimeError("bug"))
        assert is_ready(app) is False and exits == []
        await asyncio.sleep(0.2)

    asyncio.run(crash())
    assert exits == [failing.CRASH_EXIT_CODE]
    assert topology_of(app).crashed == [agent.name] and len(faust_called) == 1
