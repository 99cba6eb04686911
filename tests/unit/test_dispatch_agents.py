"""The dispatch worker's agents alone, driven with faust's `agent.test_context()`: in-memory channels instead of the
feed, the event log and the dead-letter topic, tables in memory (no broker). The worker as a process on the real
broker: tests/integration/test_dispatch_worker.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import faust
import pytest
import yaml
from faust.types import AgentT, ChannelT
from pydantic import SecretStr

from core.dead_letters import header_values
from core.settings import Settings
from kans.paths import REPO_ROOT
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.dispatch import agents
from services.dispatch.bootstrap import bootstrap, feed_topic
from services.dispatch.topology import attach, topology_of
from services.dispatch.views import open_proposals, waiting_lists
from tests.dispatch_catalogue import day, module, referral, round_table, sealed

NAFT = module("abrusco", "individual", "individual", ["secondary"], 1)


@dataclasses.dataclass
class Harness:
    app: faust.App
    feed: ChannelT[Any]
    inbound: ChannelT[Any]
    dead_letters: ChannelT[Any]

    def agent(self, name: str) -> AgentT[Any]:
        return self.app.agents[f"{agents.__name__}.{name}"]


def harness(tmp_path: Path) -> Harness:
    app = bootstrap(Settings(data_dir=tmp_path, topic_prefix=f"unit-{uuid.uuid4().hex[:8]}-"))
    feed, inbound, dead_letters = app.channel(), app.channel(), app.channel()
    attach(app, dataclasses.replace(topology_of(app), feed=feed, inbound=inbound, dead_letters=dead_letters))
    return Harness(app, feed.clone(is_iterator=True), inbound.clone(is_iterator=True),
                   dead_letters.clone(is_iterator=True))  # fmt: skip


def records(*submissions: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(e.stream_id.encode(), e.model_dump_json().encode()) for e in sealed(list(submissions))]


def test_route_forwards_what_the_rules_read_as_it_is_and_dead_letters_the_rest(tmp_path: Path) -> None:
    h = harness(tmp_path)
    started = {"event_type": "TrajectoryStarted", "occurred_at": "2019-10-20T10:00:00+02:00",
               "source_system": "provider_portal", "source_ref": "start:T-1", "actor": "provider:abrusco",
               "payload": {"referral_id": "R-1", "trajectory_id": "T-1"}}  # fmt: skip
    given = [*records(*NAFT, referral("R-1", "2019-10-01"), started), (b"R-1", b"not json")]

    async def scenario() -> tuple[dict[int, Any], list[Any], list[Any]]:
        async with h.agent("route_events").test_context() as agent:
            for key, value in given:
                await agent.put(value, key=key)
            forwarded = [await h.feed.get(timeout=5) for _ in range(3)]
            letter = await h.dead_letters.get(timeout=5)
            return dict(agent.results), forwarded, [letter]

    results, forwarded, (letter,) = asyncio.run(scenario())
    assert results == {0: "ModuleOffered", 1: "ProviderCapacitySet", 2: "ReferralSubmitted", 3: None, 4: None}
    assert [(m.key, m.value) for m in forwarded] == given[:3]  # the log's own bytes, in order
    assert h.feed.empty()
    headers = header_values(list(dict(letter.headers).items()))  # a channel keeps the headers as a mapping
    assert (headers["error-type"], headers["consumer"]) == ("not_json", agents.ROUTE)
    assert topology_of(h.app).seen.dead_letters == {agents.ROUTE: {"not_json": 1}}


def test_decide_sends_proposals_and_waiting_lists_to_the_ingest_and_a_copy_changes_nothing(tmp_path: Path) -> None:
    h = harness(tmp_path)
    history = records(*NAFT, referral("R-1", "2019-10-01"), round_table("R-1", "2019-10-08"),
                      referral("R-2", "2019-10-02"), round_table("R-2", "2019-10-08"))  # fmt: skip

    async def scenario() -> tuple[dict[int, Any], list[Any]]:
        async with h.agent("decide").test_context() as agent:
            for key, value in [*history, history[-1]]:
                await agent.put(value, key=key)
            return dict(agent.results), [await h.inbound.get(timeout=5) for _ in range(2)]

    results, sent = asyncio.run(scenario())
    assert [len(results[i]) for i in range(len(history) + 1)] == [0, 0, 0, 1, 0, 1, 0]
    proposal, joined = results[3][0], results[5][0]
    assert (proposal.event_type, joined.event_type) == ("DispatchProposed", "WaitingListJoined")
    # What goes to the ingest's way in: the submissions of those events, with the service's key, keyed by referral.
    submissions = [json.loads(m.value) for m in sent]
    assert [seal(SUBMISSION_ADAPTER.validate_python(s), proposal.recorded_at).event_id for s in submissions] == [
        proposal.event_id, joined.event_id]  # fmt: skip
    assert {s["source_system"] for s in submissions} == {"dispatch"} and "recorded_at" not in submissions[0]
    assert [m.key for m in sent] == [b"R-1", b"R-2"]
    assert [dict(m.headers)["api-key"] for m in sent] == [b"kans-dev-dispatch"] * 2
    assert h.inbound.empty()
    tables = topology_of(h.app).tables
    (shown,) = open_proposals(tables["placements"])
    assert (shown["referral_id"], shown["provider_id"], shown["proposal_id"]) == (
        "R-1", "abrusco", proposal.payload.proposal_id)  # type: ignore[attr-defined]  # fmt: skip
    assert any(v["explanation"].startswith("abrusco/individual: capacity 1, occupied 0") for v in shown["trace"])
    (waiting,) = waiting_lists(tables["places"], tables["placements"], day("2019-10-12"))
    tid = joined.payload.trajectory_id  # type: ignore[attr-defined]
    assert waiting["waiting"] == [{"position": 1, "trajectory_id": tid, "referral_id": "R-2",
                                   "waiting_since": "2019-10-02", "days_waiting": 10}]  # fmt: skip


def test_bootstrap_names_the_feed_as_the_asyncapi_document_does_and_keeps_every_table_in_one_partition(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, topic_prefix="")
    doc = yaml.safe_load((REPO_ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert feed_topic(settings) == doc["channels"]["dispatchFeed"]["address"] == "kans-dispatch-feed"
    described = {ref["$ref"].rsplit("/", 1)[1] for ref in doc["channels"]["dispatchFeed"]["messages"].values()}
    assert described == agents.READ_BY_THE_RULES
    app = bootstrap(settings)
    topology = topology_of(app)
    assert {name.rsplit(".", 1)[1] for name in app.agents} == {"route_events", "decide"}
    assert topology.feed.partitions == 1  # type: ignore[attr-defined]
    assert {name: table.partitions for name, table in topology.tables.items()} == dict.fromkeys(topology.tables, 1)
    assert topology.rules.version == "dispatch-rules-v1"


def test_the_worker_refuses_the_public_development_key_in_production(tmp_path: Path) -> None:
    development = Settings(data_dir=tmp_path, topic_prefix="p-")
    production = development.model_copy(update={"environment": "production"})
    with pytest.raises(ValueError, match="KANS_DISPATCH_API_KEY must be the dispatch service's own key"):
        bootstrap(production)
    own = production.model_copy(update={"dispatch_api_key": SecretStr("a-key-of-its-own")})
    assert topology_of(bootstrap(own)).api_key == "a-key-of-its-own"
