"""The projections' agents alone, driven with faust's `agent.test_context()`: events put on an in-memory channel,
tables in memory, load changes sent into an in-memory channel (no broker). The worker as a process on the real
broker is covered by tests/e2e/test_pipeline.py."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import faust
from faust.types import AgentT, ChannelT

from core.settings import Settings
from schemas.projections import (
    MembershipChanged,
    ModuleCapacityChanged,
    WaitingTimeMeasured,
    changes_in,
    dump_load_change,
    parse_load_change,
)
from services.projections import agents
from services.projections.bootstrap import bootstrap, load_changes_topic
from services.projections.topology import attach, topology_of
from tests.factories import capacity, dispatch, sealed_json, start

DISPATCH = sealed_json(dispatch("R-A1", "T-A1", "tigo", occurred="2025-10-01T09:00:00+02:00"))[1]
START = sealed_json(start("R-A1", "T-A1", occurred="2025-10-11T09:00:00+02:00"))[1]


@dataclasses.dataclass
class Harness:
    app: faust.App
    sent: ChannelT[Any]  # subscribed: what track_trajectories sends is queued here
    dead_letters: ChannelT[Any]  # subscribed: the dead letters the agents send

    def agent(self, name: str) -> AgentT[Any]:
        return self.app.agents[f"{agents.__name__}.{name}"]

    async def sent_messages(self, n: int) -> list[tuple[bytes, Any]]:
        """The changes in the next `n` records sent, in order (a record may carry several changes of its row)."""
        events = [await self.sent.get(timeout=5) for _ in range(n)]
        return [(e.key, change) for e in events for change in changes_in(parse_load_change(e.value))]


def harness(tmp_path: Path) -> Harness:
    app = bootstrap(Settings(data_dir=tmp_path, topic_prefix=f"unit-{uuid.uuid4().hex[:8]}-"))
    sent, dead_letters = app.channel(), app.channel()
    attach(app, dataclasses.replace(topology_of(app), load_changes=sent, dead_letters=dead_letters))
    return Harness(app, sent.clone(is_iterator=True), dead_letters.clone(is_iterator=True))


def test_an_event_yields_its_typed_load_changes_and_a_duplicate_yields_them_again(tmp_path: Path) -> None:
    h = harness(tmp_path)

    async def scenario() -> tuple[dict[int, Any], list[tuple[bytes, Any]]]:
        async with h.agent("track_trajectories").test_context() as agent:
            for value in (DISPATCH, START, START, b'{"event_type": "nonsense"}'):
                await agent.put(value, key=b"R-A1")
            return dict(agent.results), await h.sent_messages(3)  # the start's two changes in one record

    results, sent = asyncio.run(scenario())
    waiting = ("tigo|individual", MembershipChanged(trajectory_id="T-A1", membership="waiting"))
    active = ("tigo|individual", MembershipChanged(trajectory_id="T-A1", membership="active", half_days_per_week=2))
    wait = ("tigo|individual", WaitingTimeMeasured(trajectory_id="T-A1", school_year="2025-2026", days=10.0))
    # The duplicate start sends again what the state stands for (harmless: rows are sets); the broken event nothing.
    assert results == {0: (waiting,), 1: (active, wait), 2: (active, wait), 3: ()}
    assert sent == [(key.encode(), message) for key, message in (waiting, active, wait, active, wait)]
    assert h.sent.empty()
    assert topology_of(h.app).progress.dead_letter_counts() == {agents.TRACK: {"contract_violation": 1}}
    stored = topology_of(h.app).trajectories[b"T-A1"]
    assert (stored["provider_id"], stored["started_at"], len(stored["applied"])) == (
        "tigo", "2025-10-11T09:00:00+02:00", 2)  # fmt: skip


def test_a_provider_fact_becomes_a_change_of_its_row_without_touching_trajectories(tmp_path: Path) -> None:
    h = harness(tmp_path)

    async def scenario() -> list[tuple[bytes, Any]]:
        async with h.agent("track_trajectories").test_context() as agent:
            await agent.put(sealed_json(capacity("tigo", "day", 12, "2025-09-01"))[1], key=b"tigo")
            return await h.sent_messages(1)

    assert asyncio.run(scenario()) == [
        (b"tigo|day", ModuleCapacityChanged(valid_from=date(2025, 9, 1), capacity=12))]  # fmt: skip
    assert list(topology_of(h.app).trajectories.items()) == []


def test_load_changes_fold_into_the_row_and_a_replayed_change_leaves_it_as_it_was(tmp_path: Path) -> None:
    h = harness(tmp_path)
    changes = [
        ModuleCapacityChanged(valid_from=date(2025, 9, 1), capacity=12),
        MembershipChanged(trajectory_id="T-1", membership="waiting"),
        MembershipChanged(trajectory_id="T-1", membership="active"),
        WaitingTimeMeasured(trajectory_id="T-1", school_year="2025-2026", days=10.0),
    ]

    async def scenario() -> dict[int, Any]:
        async with h.agent("aggregate_provider_load").test_context() as agent:
            for change in [*changes, changes[2]]:
                await agent.put(dump_load_change(change), key=b"tigo|day")
            return dict(agent.results)

    results = asyncio.run(scenario())
    row = topology_of(h.app).provider_load[b"tigo|day"]
    assert results[4] == results[3] == row
    assert (row["active"], row["waiting"], row["capacities"], row["waits"]) == (
        ["T-1"], [], {"2025-09-01": 12}, {"2025-2026": {"T-1": 10.0}})  # fmt: skip
    assert results[1]["waiting"] == ["T-1"] and results[1]["active"] == []


def test_bootstrap_names_the_internal_topic_as_the_asyncapi_document_does_and_registers_both_agents(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, topic_prefix="")
    assert load_changes_topic(settings) == "kans-projections-load-changes"
    app = bootstrap(settings)
    channels = {name.rsplit(".", 1)[1]: agent.channel for name, agent in app.agents.items()}
    assert sorted(channels) == ["aggregate_provider_load", "track_trajectories"]
    assert channels["aggregate_provider_load"].get_topic_name() == "kans-projections-load-changes"
    assert channels["track_trajectories"].get_topic_name() == "kans.events.v1"
