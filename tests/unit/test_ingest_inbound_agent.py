"""The inbound agent alone, driven with faust's `agent.test_context()`: messages put on an in-memory channel, the
ingest on in-memory adapters, dead letters into an in-memory channel (no broker). The worker as a process on the
real broker is tests/integration/test_inbound_kafka.py."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faust.types import AgentT, ChannelT, EventT

from core.settings import Settings
from schemas.envelope import event_id_for
from schemas.pseudonym import pupil_key
from services.ingest.inbound import worker
from tests.factories import TEST_PUPIL_SECRET, dispatch, pupil, referral
from tests.unit.ingest_fakes import FakePublisher, FakeSourceIndex, fake_ingest

LARS, DESK = b"kans-dev-lars", b"kans-dev-desk"


@dataclasses.dataclass
class Harness:
    agent: AgentT[Any]
    publisher: FakePublisher
    index: FakeSourceIndex
    dead_letters: ChannelT[Any]  # subscribed: what the agent sends is queued here

    async def put(self, test_agent: Any, value: bytes, api_key: bytes | None) -> EventT[Any]:
        return await test_agent.put(value, key=b"k", headers=[] if api_key is None else [("api-key", api_key)])

    async def letters(self, n: int) -> list[EventT[Any]]:
        return [await self.dead_letters.get(timeout=5) for _ in range(n)]


def harness(tmp_path: Path, publisher: FakePublisher | None = None) -> Harness:
    settings = Settings(data_dir=tmp_path, topic_prefix=f"unit-{uuid.uuid4().hex[:8]}-")
    index, publisher = FakeSourceIndex(), publisher or FakePublisher()
    app = worker.create_app(settings, fake_ingest(settings, index, publisher))
    dead_letters = app.channel()
    worker.attach(app, dataclasses.replace(worker.inbound_of(app), dead_letters=dead_letters, batch_wait_s=0.05))
    (agent,) = app.agents.values()
    return Harness(agent, publisher, index, dead_letters.clone(is_iterator=True))


async def until(probe: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if probe():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def body(submission: dict[str, Any]) -> bytes:
    return json.dumps(submission).encode()


def headers(letter: EventT[Any]) -> dict[str, str]:
    return {k: v.decode() for k, v in letter.message.headers}


def test_good_messages_are_published_bad_ones_dead_lettered_and_every_offset_acknowledged(tmp_path: Path) -> None:
    h = harness(tmp_path)

    async def scenario() -> list[EventT[Any]]:
        async with h.agent.test_context() as agent:
            sent = [
                await h.put(agent, body(referral("R-1")), LARS),
                await h.put(agent, b'{"event_type": ', LARS),
                await h.put(agent, body(referral("R-2")), None),
                await h.put(agent, body(dispatch("R-1", "T-1", "tigo")), LARS),  # LARS may not speak for the desk
                await h.put(agent, body(dispatch("R-1", "T-1", "tigo")), DESK),
            ]
            await until(lambda: all(e.message.acked for e in sent), "every message acknowledged")
            return await h.letters(3)

    letters = asyncio.run(scenario())
    assert [str(e.event_id) for e in h.publisher.events] == [
        str(event_id_for("lars", "ref:R-1")), str(event_id_for("desk", "dispatch:T-1"))]  # fmt: skip
    assert [(headers(d)["error-type"], headers(d)["original-offset"]) for d in letters] == [
        ("invalid_json", "1"), ("unauthenticated", "2"), ("forbidden", "3")]  # fmt: skip
    assert letters[0].value is None and "api-key" not in headers(letters[2])
    assert json.loads(letters[2].value) == dispatch("R-1", "T-1", "tigo")  # no pupil id: kept as it came
    assert set(h.index.entries) == {("lars", "ref:R-1"), ("desk", "dispatch:T-1")}


def test_a_conflict_is_dead_lettered_with_the_pupil_pseudonymised_and_a_duplicate_publishes_nothing(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)

    async def scenario() -> list[EventT[Any]]:
        async with h.agent.test_context() as agent:
            for message in (referral("R-3"), referral("R-3"), referral("R-3", gender="girl")):
                last = await h.put(agent, body(message), LARS)
            await until(lambda: last.message.acked, "the conflict acknowledged")
            return await h.letters(1)

    (letter,) = asyncio.run(scenario())
    assert len(h.publisher.events) == 1
    assert (headers(letter)["error-type"], headers(letter)["error-fields"]) == ("source_conflict", "source_ref")
    kept = json.loads(letter.value)["payload"]
    assert "pupil_id" not in kept and kept["pupil_id_removed"] is True
    assert pupil_key(TEST_PUPIL_SECRET, pupil("R-3")) not in json.dumps(kept)


def test_kafka_away_is_waited_out_and_the_message_acknowledged_only_once_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "RETRY_S", 0.05)
    h = harness(tmp_path, FakePublisher(unavailable=2))

    async def scenario() -> None:
        async with h.agent.test_context() as agent:
            sent = await h.put(agent, body(referral("R-4")), LARS)
            await until(lambda: h.publisher.unavailable == 1, "the first refused publish")
            assert not sent.message.acked and h.publisher.events == []
            await until(lambda: sent.message.acked, "the message acknowledged")
            assert h.dead_letters.empty()

    asyncio.run(scenario())
    assert [str(e.event_id) for e in h.publisher.events] == [str(event_id_for("lars", "ref:R-4"))]


def test_a_message_its_caller_may_not_send_is_dead_lettered_and_a_batch_is_judged_in_order(tmp_path: Path) -> None:
    h = harness(tmp_path)
    clb_1, clb_2 = b"kans-dev-clb-brussel-1", b"kans-dev-clb-brussel-2"
    withdraw = {**referral("R-5"), "event_type": "ReferralWithdrawn", "schema_version": 1, "source_ref": "withdraw:R-5",
                "payload": {"referral_id": "R-5", "reason": "no_longer_needed"}}  # fmt: skip

    async def scenario() -> list[EventT[Any]]:
        async with h.agent.test_context() as agent:
            sent = [
                await h.put(agent, body(referral("R-5")), clb_1),  # clb-brussel-1's referral ...
                await h.put(agent, body(withdraw), clb_2),  # ... that clb-brussel-2 may not withdraw
                await h.put(agent, body(withdraw), clb_1),  # its referrer may, in the same batch
            ]
            await until(lambda: all(e.message.acked for e in sent), "every message acknowledged")
            return await h.letters(1)

    (letter,) = asyncio.run(scenario())
    assert [e.event_type for e in h.publisher.events] == ["ReferralSubmitted", "ReferralWithdrawn"]
    assert [e.source_ref for e in h.publisher.events] == ["dev-clb-brussel-1/ref:R-5", "dev-clb-brussel-1/withdraw:R-5"]
    found = headers(letter)
    assert (found["error-type"], found["error-fields"], found["original-offset"]) == (
        "forbidden", "payload.referral_id", "1")  # fmt: skip
    assert found["error-message"].startswith("API key 'dev-clb-brussel-2': ReferralWithdrawn: referral 'R-5' is not")
