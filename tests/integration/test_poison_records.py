"""Poison records on the event log, produced straight to the topic with a raw producer between valid events: the
ClickHouse writer (a thread here, on the real chDB) and the projections worker (its own process) store or apply
every valid event, dead-letter each bad record exactly once with its reason, and keep going. Then a storm of 1,000.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import ensure_topics, event_dead_letter_topic, events_topic, projections_group
from kans.processes import ServiceProcesses, isolated_settings
from schemas.registry import parse_event
from services.projections.agents import AGGREGATE, TRACK
from services.projections.bootstrap import load_changes_topic
from services.warehouse import writer as writer_module
from services.warehouse.clickhouse import ClickHouseClient, migrate
from services.warehouse.writer import CONSUMER_NAME, ClickHouseWriter
from tests.conftest import wait_for
from tests.event_log import (
    KINDS,
    Produced,
    dead_letters,
    labelled,
    poison,
    produce_raw,
    recompute_provider_load,
    valid_events,
    without_partitions,
)
from tests.factories import referral, sealed_json

STORM = 1000
DAY = date(2025, 11, 1)
# A record that breaks the contract with a person's name in it: dead-lettered without its value.
NAMED = (b"R-NAMED", json.dumps({**json.loads(sealed_json(referral("R-NAMED"))[1]), "note": "Jan Janssens"}).encode())


def storm_kind(i: int) -> str:
    return "oversized" if i % 100 == 0 else KINDS[i % (len(KINDS) - 1)]  # 10 oversized, the rest in turn


@dataclass
class Run:
    settings: Settings
    clickhouse: ClickHouseClient
    writer: ClickHouseWriter
    processes: ServiceProcesses
    valid: list[Produced]
    kinds: dict[tuple[int, int], str]  # (partition, offset) -> reason, the first section's bad records
    storm: dict[tuple[int, int], str]
    load_change_poison: dict[tuple[int, int], str]
    storm_seconds: float

    @property
    def bad(self) -> dict[tuple[int, int], str]:
        return {**self.kinds, **self.storm}

    def worker(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.settings.projections_base_url}{path}", params=params, timeout=10)


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(**client_config(settings))
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def committed(settings: Settings) -> int:
    group = f"{settings.topic_prefix}{settings.writer_group}"
    admin = KafkaAdminClient(**client_config(settings))
    try:
        offsets = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == events_topic(settings))


def stored_ids(client: ClickHouseClient, db: str) -> list[str]:
    return [r[0] for r in client.query(f"SELECT toString(event_id) FROM {db}.events FINAL").result_rows]


def by_origin(letters: list[dict[str, Any]]) -> dict[tuple[int, int], str]:
    return {(int(d["original-partition"]), int(d["original-offset"])): d["error-type"] for d in letters}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, clickhouse: ClickHouseClient) -> Iterator[Run]:
    settings = isolated_settings(tmp_path_factory.mktemp("poison"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    migrate(clickhouse, settings.clickhouse_database)
    topic = events_topic(settings)
    processes = ServiceProcesses(settings, tmp_path_factory.mktemp("logs"))
    writer = ClickHouseWriter(settings, clickhouse)
    try:
        processes.start("projections")
        writer.start()
        # First every kind once (and the named one) between 90-odd valid events, then the storm.
        first = labelled(valid_events("K", 30),
                         [*((poison(kind, i), kind) for i, kind in enumerate(KINDS)), (NAMED, "contract_violation")])
        storm = labelled(valid_events("S", 400),
                         [(poison(storm_kind(i), 100 + i), storm_kind(i)) for i in range(STORM)])
        began = time.monotonic()
        produced = produce_raw(kafka_bootstrap, topic, [record for record, _ in first + storm])
        labels = [label for _, label in first + storm]
        origins = [(p.partition, p.offset) for p in produced]
        # The internal topic exists once the worker runs: a producer outside the worker writes it.
        load_bad = [((None, b'{"kind": "membership"}'), "bad_key"), ((b"tigo|individual", None), "no_value"),
                    ((b"tigo|individual", b"\x00\xff"), "not_utf8"),
                    ((b"tigo|individual", b'{"kind": "teleported", "schema_version": 1}'), "contract_violation")]
        load_produced = produce_raw(kafka_bootstrap, load_changes_topic(settings), [r for r, _ in load_bad])
        ends = end_offsets(settings, topic)
        wait_for(lambda: committed(settings) == sum(ends.values()), timeout_s=90, what="the writer's commits")
        wait_for(lambda: _caught_up(settings), timeout_s=90, what="the projections worker caught up")
        # The load changes' agent reads its poison from the worker's own internal topic: wait for its dead letters too
        # (the lag report can read 0 for that topic before the agent's fetch reached the records written from outside).
        wait_for(lambda: _aggregated_dead_letters(settings) == len(load_bad), timeout_s=90,
                 what="the load changes' agent dead-lettered the records written to its topic")  # fmt: skip
        yield Run(
            settings, clickhouse, writer, processes,
            valid=[p for p, label in zip(produced, labels, strict=True) if label is None],
            kinds={o: label for o, label in zip(origins[: len(first)], labels[: len(first)], strict=True) if label},
            storm={o: label for o, label in zip(origins[len(first):], labels[len(first):], strict=True) if label},
            load_change_poison={(p.partition, p.offset): label
                                for p, (_, label) in zip(load_produced, load_bad, strict=True)},
            storm_seconds=time.monotonic() - began,
        )  # fmt: skip
    finally:
        writer.stop()
        processes.stop_all()


def _aggregated_dead_letters(settings: Settings) -> int:
    body = httpx.get(f"{settings.projections_base_url}/ready", timeout=10).json()
    return sum(body["dead_letters"].get(AGGREGATE, {}).values())


def _caught_up(settings: Settings) -> bool:
    body = httpx.get(f"{settings.projections_base_url}/ready", timeout=10).json()
    return all(lag is not None and lag["lag_events"] == 0 for lag in body["lag"].values())


def test_the_projections_worker_commits_its_position_at_the_end_of_both_topics_it_reads(run: Run) -> None:
    """Its agents take the topics a batch at a time (faust's `take_events`) and the consumer commits their positions
    (core/faust_order.py): once caught up, the group's committed offsets are each partition's end, the bad records
    included, on the event log and on the internal load-changes topic. A batch never acknowledged holds them below
    (checked by removing the acknowledgement from a copy of `take_events`): a restarted worker would fold it again."""
    group = projections_group(run.settings)
    topics = (events_topic(run.settings), load_changes_topic(run.settings))
    ends = {(topic, p): offset for topic in topics for p, offset in end_offsets(run.settings, topic).items()}

    def committed_by_the_group() -> dict[tuple[str, int], int]:
        admin = KafkaAdminClient(**client_config(run.settings))
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
        finally:
            admin.close()
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if tp.topic in topics}

    written = {tp: end for tp, end in ends.items() if end}  # a partition nothing was written to has no commit

    def at_the_ends() -> bool:
        committed = committed_by_the_group()
        return {tp: committed.get(tp) for tp in written} == written

    wait_for(at_the_ends, timeout_s=60, what="the projections group's commits at both topics' ends")
    assert sum(ends.values()) > len(run.valid)  # the bad records and the load changes are in it


def test_the_writer_stores_every_valid_event_and_dead_letters_each_bad_record_once(run: Run) -> None:
    db = run.settings.clickhouse_database
    expected = {str(parse_event(p.record[1]).event_id) for p in run.valid}  # type: ignore[arg-type]
    stored = stored_ids(run.clickhouse, db)
    assert len(stored) == len(set(stored)) and set(stored) == expected  # (the second capacities repeat the first)
    letters = dead_letters(run.settings.kafka_bootstrap, event_dead_letter_topic(run.settings), CONSUMER_NAME)
    assert len(letters) == len(run.bad)  # once each
    assert by_origin(letters) == run.bad
    assert {d["original-topic"] for d in letters} == {events_topic(run.settings)}
    status = run.writer.status
    assert status.dead_letters == dict(Counter(run.bad.values())) and status.rejected == len(run.bad)
    assert (status.running, status.crashed, status.lag_events, status.lag_seconds) == (True, None, 0, 0.0)
    assert status.rows_written >= len(run.valid)


def test_a_dead_letter_keeps_the_value_only_when_it_is_free_of_personal_data(run: Run) -> None:
    letters = dead_letters(run.settings.kafka_bootstrap, event_dead_letter_topic(run.settings))
    kept = [d for d in letters if d["error-redacted"] == "false"]
    # Kept: JSON objects only (the sealed events whose school year is wrong, the load change without a key).
    assert {d["error-type"] for d in kept} == {"contract_violation", "bad_key"}
    assert all(isinstance(json.loads(d["value"]), dict) for d in kept)
    assert all(d["value"] is None for d in letters if d["error-redacted"] == "true")
    violations = [d for d in letters if d["error-type"] == "contract_violation" and d["original-topic"] == events_topic(
        run.settings)]  # fmt: skip
    named = [d for d in violations if d["error-redacted"] == "true"]
    assert [d["key"] for d in named] == [b"R-NAMED", b"R-NAMED"]  # the writer's and the projections' dead letter
    assert all(json.loads(d["value"])["school_year"] == "1999-2000" for d in violations if d not in named)
    assert not [d for d in letters if "Janssens" in repr(d)]


def test_the_projections_apply_every_valid_event_and_dead_letter_each_bad_record_once(run: Run) -> None:
    bootstrap, dlq = run.settings.kafka_bootstrap, event_dead_letter_topic(run.settings)
    tracked = dead_letters(bootstrap, dlq, TRACK)
    assert len(tracked) == len(run.bad) and by_origin(tracked) == run.bad
    aggregated = dead_letters(bootstrap, dlq, AGGREGATE)
    assert len(aggregated) == len(run.load_change_poison) and by_origin(aggregated) == run.load_change_poison
    assert {d["original-topic"] for d in aggregated} == {load_changes_topic(run.settings)}

    ready = run.worker("/ready").json()
    assert ready["dead_letters"] == {AGGREGATE: dict(Counter(run.load_change_poison.values())),
                                     TRACK: dict(Counter(run.bad.values()))}  # fmt: skip
    view = run.worker("/provider-load", date=DAY.isoformat())
    expected = recompute_provider_load([p.record[1] for p in run.valid], DAY)  # type: ignore[misc]
    assert view.status_code == 200 and without_partitions(view.json()["rows"]) == expected
    assert sum(row["active"] + row["waiting"] for row in expected) > 100  # the view has something to get wrong


def test_a_view_says_it_is_current_and_as_of_which_offsets(run: Run) -> None:
    view = run.worker("/provider-load", date=DAY.isoformat())
    body = view.json()
    assert (body["lag_events"], body["lag_seconds"], view.headers["X-Consumer-Lag"]) == (0, 0.0, "0")
    events = events_topic(run.settings)
    assert {int(p): o for p, o in body["as_of_offsets"][events].items()} == end_offsets(run.settings, events)
    assert set(body) >= {"as_of", "rows"}  # the existing keys stay
    waits = run.worker("/waiting-times", school_year="2025-2026")
    assert waits.headers["X-Consumer-Lag"] == "0" and waits.json()["rows"]


def test_the_storm_is_dead_lettered_to_the_last_record(run: Run) -> None:
    """1,000 bad records among 1,200 valid events: 1,000 dead letters from each consumer, nothing else lost."""
    bootstrap, dlq = run.settings.kafka_bootstrap, event_dead_letter_topic(run.settings)
    for consumer in (CONSUMER_NAME, TRACK):
        storm = [d for d in dead_letters(bootstrap, dlq, consumer) if by_origin([d]).keys() <= run.storm.keys()]
        assert len(storm) == STORM == len(run.storm)
        assert Counter(d["error-type"] for d in storm) == Counter(run.storm.values())
    print(f"storm: {STORM} bad records among {len(run.valid)} valid, both consumers caught up in "
          f"{run.storm_seconds:.1f} s")  # fmt: skip


def test_a_restarted_writer_does_not_stumble_on_the_same_records_again(run: Run) -> None:
    """The bad records' offsets were committed with their batches: a new writer finds nothing left to do."""
    run.writer.stop()
    again = ClickHouseWriter(run.settings, run.clickhouse)
    again.start()
    try:
        wait_for(lambda: again.status.lag_events == 0, what="the restarted writer's lag measured")
        time.sleep(0.5)
        assert (again.status.running, again.status.rejected, again.status.rows_written) == (True, 0, 0)
    finally:
        again.stop()
    letters = dead_letters(run.settings.kafka_bootstrap, event_dead_letter_topic(run.settings), CONSUMER_NAME)
    assert len(letters) == len(run.bad)


def test_a_view_answer_accounts_for_every_record_it_does_not_reflect_yet(run: Run) -> None:
    """Events produced just before the question: either the view reflects them or its lag counts them."""
    events = events_topic(run.settings)
    before = sum(end_offsets(run.settings, events).values())
    burst = valid_events("F", 100)
    produce_raw(run.settings.kafka_bootstrap, events, burst)
    answer = run.worker("/trajectories/T-F-99")
    body = answer.json()
    as_of = sum(body["as_of_offsets"][events].values())
    assert as_of + body["lag_events"] == before + len(burst)
    assert answer.headers["X-Consumer-Lag"] == str(body["lag_events"])
    assert (body["lag_events"] == 0) == (body["lag_seconds"] == 0.0)
    # Not known yet (404) only while the lag says there is more to come.
    assert answer.status_code == 200 if body["lag_events"] == 0 else answer.status_code in (200, 404)


def test_a_bug_in_the_writer_stops_it_and_its_status_says_so(
    settings: Settings, clickhouse: ClickHouseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a bad record: the thread ends, `running` is false with the error, nothing is committed or
    dead-lettered, so a fixed writer starts again from the first event."""
    migrate(clickhouse, settings.clickhouse_database)
    produce_raw(settings.kafka_bootstrap, events_topic(settings),
                [sealed_json(referral(f"R-BUG-{i}")) for i in range(5)])  # fmt: skip

    def buggy_store(*args: Any) -> None:
        raise TypeError("a bug in the writer")

    monkeypatch.setattr(writer_module.state, "store", buggy_store)
    writer = ClickHouseWriter(settings, clickhouse)
    writer.start()
    wait_for(lambda: not writer.status.running, what="the writer thread to stop")
    assert writer.status.crashed == "TypeError: a bug in the writer"
    assert (committed(settings), writer.status.rejected, writer.status.rows_written) == (0, 0, 0)
    assert dead_letters(settings.kafka_bootstrap, event_dead_letter_topic(settings)) == []


def test_the_writer_reports_its_lag_in_events_and_seconds(settings: Settings, clickhouse: ClickHouseClient) -> None:
    """ClickHouse refuses every batch (no tables yet): the writer lags by every record, then catches up."""
    produce_raw(settings.kafka_bootstrap, events_topic(settings),
                [sealed_json(referral(f"R-LAG-{i}")) for i in range(40)])  # fmt: skip
    time.sleep(1.1)  # the records are at least a second old when the writer looks
    writer = ClickHouseWriter(settings, clickhouse)
    writer.start()
    try:
        wait_for(lambda: (writer.status.last_error or "").startswith("clickhouse"), what="a refused batch")
        assert writer.status.lag_events == 40 and (writer.status.lag_seconds or 0) >= 1.0
        assert sum(p["lag_events"] for p in writer.status.lag_partitions) == 40
        migrate(clickhouse, settings.clickhouse_database)
        wait_for(lambda: writer.status.lag_events == 0, what="the writer caught up")
        assert writer.status.lag_seconds == 0.0 and writer.status.rows_written == 40
    finally:
        writer.stop()
