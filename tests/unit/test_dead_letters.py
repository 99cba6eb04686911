"""Bad records and bugs told apart (core/dead_letters.py), what a dead letter keeps, the lag arithmetic, and the
projections' agents dead-lettering bad records while a bug still stops them (faust's `test_context`, no broker)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.consumer_lag import PartitionLag, as_of_offsets, lag_report
from core.dead_letters import (
    MAX_RECORD_BYTES,
    REASONS,
    BadRecord,
    Origin,
    dead_letter,
    header_values,
    read_event,
    read_record,
)
from core.settings import Settings
from core.topics import event_dead_letter_topic, topic_specs
from kans.paths import REPO_ROOT
from schemas.projections import MembershipChanged, dump_load_change
from services.dispatch import agents as dispatch_agents
from services.projections import agents
from services.projections.bootstrap import bootstrap
from services.projections.load_changes import read_load_change
from services.projections.topology import attach, topology_of
from services.warehouse.writer import CONSUMER_NAME
from tests.factories import dispatch, referral, sealed_json

KEY, EVENT = sealed_json(referral("R-DL-1"))
ORIGIN = Origin("kans.events.v1", 3, 41, 1_700_000_000_000, "clickhouse-writer")
# A sealed event with one field too many, whose value is a person's name.
WITH_NAME = json.dumps({**json.loads(EVENT), "note": "Jan Janssens"}).encode()
POISON = {
    "no_value": None,
    "not_utf8": b"\xff\xfe\x00\x81garbage",
    "not_json": b"hello, kafka",
    "not_an_object": b"[1, 2, 3]",
    "contract_violation": json.dumps({**json.loads(EVENT), "school_year": "1999-2000"}).encode(),
    "oversized": b'{"pad": "' + b"x" * MAX_RECORD_BYTES + b'"}',
}


def reason_of(value: bytes | None) -> str:
    with pytest.raises(BadRecord) as caught:
        read_event(value)
    return caught.value.reason


def test_each_kind_of_bad_record_is_a_bad_record_with_its_reason() -> None:
    assert {reason: reason_of(value) for reason, value in POISON.items()} == {r: r for r in POISON}
    assert reason_of(b"[" * 50_000) == "not_json"  # nested too deep for any decoder: not a crash
    assert reason_of(b'{"a":' * 3000 + b"1" + b"}" * 3000) == "not_json"
    assert reason_of(b"42") == "not_an_object"
    assert reason_of(b"") == "not_json"
    assert read_event(EVENT).event_type == "ReferralSubmitted"


def test_a_contract_violation_names_the_fields_but_never_the_values() -> None:
    with pytest.raises(BadRecord) as caught:
        read_event(json.dumps({**json.loads(EVENT), "school_year": "1999-2000"}).encode())
    assert caught.value.reason == "contract_violation" and "1999-2000" not in caught.value.message
    with pytest.raises(BadRecord) as named:
        read_event(WITH_NAME)
    assert named.value.reason == "contract_violation"
    assert "Janssens" not in str(named.value) and named.value.fields == ("ReferralSubmitted.note",)


def test_a_bug_in_the_parser_is_not_a_bad_record() -> None:
    """Only what the parser refuses (ValidationError) becomes a BadRecord; its own failures go through."""

    def buggy(raw: bytes) -> Any:
        return {}["missing"]

    with pytest.raises(KeyError):
        read_record(EVENT, buggy)

    def broken(raw: bytes) -> Any:
        raise TypeError("a bug")

    with pytest.raises(TypeError):
        read_record(EVENT, broken)


def test_a_dead_letter_keeps_reason_and_origin_and_the_value_only_when_free_of_personal_data() -> None:
    bad = BadRecord("contract_violation", "school_year: wrong [value_error]", ("school_year",))
    kept = dead_letter(bad, KEY, POISON["contract_violation"], ORIGIN)
    assert kept.value == POISON["contract_violation"] and kept.key == KEY
    assert header_values(kept.headers) == {
        "error-type": "contract_violation", "error-fields": "school_year",
        "error-message": "school_year: wrong [value_error]", "error-redacted": "false",
        "original-topic": "kans.events.v1", "original-partition": "3", "original-offset": "41",
        "original-timestamp": "1700000000000", "original-size": str(len(POISON["contract_violation"])),
        "consumer": "clickhouse-writer",
    }  # fmt: skip

    with pytest.raises(BadRecord) as named:
        read_event(WITH_NAME)
    redacted = dead_letter(named.value, b"Jan Janssens", WITH_NAME, ORIGIN)
    assert (redacted.value, redacted.key, header_values(redacted.headers)["error-redacted"]) == (None, None, "true")
    assert not [v for _, v in redacted.headers if b"Janssens" in v]

    pupil = json.dumps({"payload": {"pupil_id": "LARS-PUPIL-1"}}).encode()  # a source's own pupil id
    for value in (pupil, POISON["not_utf8"], POISON["not_json"], POISON["oversized"], None):
        assert dead_letter(BadRecord("x", "y"), KEY, value, ORIGIN).value is None


def test_a_load_change_record_needs_a_row_key_and_a_load_change() -> None:
    change = dump_load_change(MembershipChanged(trajectory_id="T-1", membership="waiting"))
    assert read_load_change(b"tigo|day", change) == MembershipChanged(trajectory_id="T-1", membership="waiting")
    reasons = {}
    for key, value in [(None, change), (b"tigo", change), (b"\xff|x", change), (b"tigo|day", b'{"kind": "?"}'),
                       (b"tigo|day", None)]:  # fmt: skip
        with pytest.raises(BadRecord) as caught:
            read_load_change(key, value)
        reasons[(key, value)] = caught.value.reason
    assert list(reasons.values()) == ["bad_key", "bad_key", "bad_key", "contract_violation", "no_value"]


def test_lag_in_events_and_seconds() -> None:
    now = 1_000_000
    parts = [
        PartitionLag("e", 0, end=10, position=10, pending_since_ms=now - 50_000),  # caught up: 0 s, whatever known
        PartitionLag("e", 1, end=12, position=7, pending_since_ms=now - 2_500),
        PartitionLag("l", 0, end=3, position=1, pending_since_ms=now - 1_000),
    ]
    report = lag_report(parts, now)
    assert (report["lag_events"], report["lag_seconds"]) == (7, 2.5)
    assert [p["lag_events"] for p in report["partitions"]] == [0, 5, 2]
    assert [p["lag_seconds"] for p in report["partitions"]] == [0.0, 2.5, 1.0]
    assert as_of_offsets(parts) == {"e": {"0": 10, "1": 7}, "l": {"0": 1}}
    unknown = lag_report([PartitionLag("e", 0, end=5, position=0)], now)
    assert (unknown["lag_events"], unknown["lag_seconds"]) == (5, None)  # behind, age not known: not "0"
    assert lag_report([], now)["lag_events"] == 0


@dataclasses.dataclass
class Worker:
    app: Any
    dead_letters: Any  # subscribed in-memory channel

    async def letters(self, n: int) -> list[dict[str, str]]:
        return [header_values((await self.dead_letters.get(timeout=5)).message.headers) for _ in range(n)]


def worker(tmp_path: Path) -> Worker:
    app = bootstrap(Settings(data_dir=tmp_path, topic_prefix=f"unit-{uuid.uuid4().hex[:8]}-"))
    dead_letters = app.channel()
    attach(app, dataclasses.replace(topology_of(app), load_changes=app.channel(), dead_letters=dead_letters))
    return Worker(app, dead_letters.clone(is_iterator=True))


def test_the_agents_dead_letter_bad_records_and_go_on(tmp_path: Path) -> None:
    w = worker(tmp_path)
    good = sealed_json(dispatch("R-1", "T-1", "tigo"))[1]
    change = dump_load_change(MembershipChanged(trajectory_id="T-1", membership="waiting"))

    async def scenario() -> tuple[dict[int, Any], dict[int, Any], list[dict[str, str]]]:
        async with w.app.agents[f"{agents.__name__}.track_trajectories"].test_context() as track:
            for value in [*POISON.values(), good]:
                await track.put(value, key=b"R-1")
            tracked, letters = dict(track.results), await w.letters(len(POISON))
        async with w.app.agents[f"{agents.__name__}.aggregate_provider_load"].test_context() as aggregate:
            for key, value in [(b"tigo|individual", None), (b"nokey", change), (b"tigo|individual", change)]:
                await aggregate.put(value, key=key)
            aggregated = dict(aggregate.results)
            letters += await w.letters(2)
        return tracked, aggregated, letters

    tracked, aggregated, letters = asyncio.run(scenario())
    assert [len(tracked[i]) for i in range(len(POISON) + 1)] == [0] * len(POISON) + [1]  # the good one's change
    assert aggregated[0] is None and aggregated[1] is None and aggregated[2]["waiting"] == ["T-1"]
    assert [(d["consumer"], d["error-type"]) for d in letters] == [
        *((agents.TRACK, reason) for reason in POISON),
        (agents.AGGREGATE, "no_value"), (agents.AGGREGATE, "bad_key")]  # fmt: skip
    assert [int(d["original-offset"]) for d in letters[: len(POISON)]] == list(range(len(POISON)))
    assert topology_of(w.app).progress.dead_letter_counts() == {
        agents.AGGREGATE: {"bad_key": 1, "no_value": 1}, agents.TRACK: {reason: 1 for reason in POISON}}  # fmt: skip
    assert w.dead_letters.empty()


def test_a_bug_in_an_agent_is_not_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that is not a BadRecord (here: from the translation rule) stops the agent: no dead letter, the
    message is not recorded as processed, so the worker restarts from its committed offset instead of skipping."""
    w = worker(tmp_path)

    def buggy_translate(*args: Any) -> Any:
        raise KeyError("a bug in the translation")

    monkeypatch.setattr(agents, "translate", buggy_translate)

    async def scenario() -> None:
        async with w.app.agents[f"{agents.__name__}.track_trajectories"].test_context() as track:
            await track.put(sealed_json(dispatch("R-1", "T-1", "tigo"))[1], key=b"R-1")

    with pytest.raises(KeyError, match="a bug in the translation"):
        asyncio.run(scenario())
    assert w.dead_letters.empty()
    progress = topology_of(w.app).progress
    assert (progress.positions, progress.dead_letter_counts()) == ({}, {})


def test_the_dead_letter_topic_is_declared_and_described_as_the_code_writes_it() -> None:
    settings = Settings(topic_prefix="")
    (spec,) = [s for s in topic_specs(settings) if s.name == event_dead_letter_topic(settings)]
    assert spec.name == "kans.events.dlq.v1" and int(spec.config["retention.ms"]) >= 365 * 24 * 3600 * 1000
    doc = yaml.safe_load((REPO_ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    assert doc["channels"]["eventDeadLetters"]["address"] == spec.name
    headers = doc["components"]["schemas"]["EventDeadLetterHeaders"]["properties"]
    assert headers["error-type"]["enum"] == list(REASONS)
    assert headers["consumer"]["enum"] == [CONSUMER_NAME, agents.TRACK, agents.AGGREGATE, dispatch_agents.ROUTE,
                                             dispatch_agents.DECIDE]
    assert set(headers) == {name for name, _ in dead_letter(BadRecord("x", "y"), None, None, ORIGIN).headers}
