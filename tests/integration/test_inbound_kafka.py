"""The Kafka way in: the faust inbound worker as its own process (`kans serve inbound`) on the real broker.

Messages are produced with a real producer and the event log and the dead-letter topic are read with a real
consumer. Every message of a test carries the same Kafka key, so it lands on one partition in the order produced;
each test ends with a sentinel: once the sentinel's event is in the log, everything produced before it was judged.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import dead_letter_topic, ensure_topics, events_topic, inbound_topic, source_index_topic
from kans.processes import ServiceProcesses, isolated_settings
from schemas.envelope import event_id_for
from services.ingest.main import create_app
from tests.conftest import wait_for
from tests.factories import dispatch, referral
from tests.kafka_helpers import read_topic

LARS, DESK, CLB_1, ALL = "kans-dev-lars", "kans-dev-desk", "kans-dev-clb-brussel-1", "kans-dev-all"
NO_KEY = None


@pytest.fixture(scope="module")
def inbound(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[ServiceProcesses]:
    settings = isolated_settings(tmp_path_factory.mktemp("inbound"), kafka_bootstrap, log_level="INFO")
    ensure_topics(settings)
    with ServiceProcesses(settings, tmp_path_factory.mktemp("inbound-logs")) as services:
        services.start("inbound")
        yield services


def body(submission: dict[str, Any]) -> bytes:
    return json.dumps(submission).encode()


def produce(settings: Settings, key: bytes, messages: list[tuple[bytes, str | None]]) -> list[tuple[int, int]]:
    """Send (value, api key) pairs in order; the (partition, offset) the broker acknowledged each at."""
    producer = KafkaProducer(**client_config(settings), acks="all")
    try:
        futures = [
            producer.send(inbound_topic(settings), key=key, value=value,
                          headers=[] if api_key is None else [("api-key", api_key.encode())])
            for value, api_key in messages
        ]  # fmt: skip
        return [(meta.partition, meta.offset) for meta in (future.get(timeout=30) for future in futures)]
    finally:
        producer.close()


def events_by_id(settings: Settings) -> Counter[str]:
    return Counter(
        json.loads(r.value)["event_id"] for r in read_topic(settings.kafka_bootstrap, events_topic(settings))
    )


def produce_and_drain(
    settings: Settings, key: bytes, messages: list[tuple[bytes, str | None]]
) -> tuple[Counter[str], list[tuple[int, int]]]:
    """Produce `messages` then a sentinel on the same partition; wait for the sentinel's event in the log.
    Returns the event ids in the log (with their counts) and the (partition, offset) of each of `messages`."""
    sentinel = referral(f"R-SENTINEL-{uuid.uuid4().hex[:8]}")
    offsets = produce(settings, key, [*messages, (body(sentinel), LARS)])
    sentinel_id = str(event_id_for("lars", sentinel["source_ref"]))
    seen = wait_for(
        lambda: (events := events_by_id(settings))[sentinel_id] and events, timeout_s=60, what="the sentinel's event"
    )
    return seen, offsets[:-1]


def origin(record: Any) -> tuple[int, int]:
    headers = dict(record.headers)
    return int(headers["original-partition"]), int(headers["original-offset"])


def dead_letters(settings: Settings, key: bytes) -> dict[tuple[int, int], Any]:
    """The dead letters of the messages produced with `key`, by their original (partition, offset)."""
    records = read_topic(settings.kafka_bootstrap, dead_letter_topic(settings))
    return {origin(r): r for r in records if r.key == key}


def test_good_messages_are_published_once_and_bad_ones_dead_lettered_without_blocking(
    inbound: ServiceProcesses,
) -> None:
    settings, key = inbound.settings, uuid.uuid4().hex.encode()
    good_referral, good_dispatch = referral("R-IN-1"), dispatch("R-IN-1", "T-IN-1", "tigo")
    missing = referral("R-IN-2")
    del missing["payload"]["referral_id"]
    messages: list[tuple[bytes, str | None]] = [
        (body(good_referral), LARS),  # 0
        (b'{"event_type": "ReferralSubmitted", ', LARS),  # 1 not JSON
        (body(missing), LARS),  # 2 a required field missing
        (body(referral("R-IN-3", gender="x")), LARS),  # 3 a code not in the code list
        (body({**referral("R-IN-4"), "event_type": "ReferralLost"}), LARS),  # 4 an unknown event type
        (body(referral("R-IN-5")), NO_KEY),  # 5 no credential
        (body(referral("R-IN-6")), "kans-dev-stolen"),  # 6 an unknown credential
        (body(dispatch("R-IN-7", "T-IN-7", "tigo")), LARS),  # 7 LARS may not speak for the desk
        (body(referral("R-IN-8", referrer_id="clb-brussel-2")), CLB_1),  # 8 nor this key for another CLB
        (body(good_dispatch), DESK),  # 9 a good message after eight bad ones
        (body(referral("R-IN-1", gender="girl")), LARS),  # 10 conflict: same source_ref, other content
        (body(good_referral), LARS),  # 11 the same good message again
        (body(referral("R-IN-12", other_specification="begeleid door Jan Janssens")), LARS),  # 12 a name
    ]
    events, offsets = produce_and_drain(settings, key, messages)
    position = {offset: i for i, offset in enumerate(offsets)}

    referral_id = str(event_id_for("lars", "ref:R-IN-1"))
    dispatch_id = str(event_id_for("desk", "dispatch:T-IN-1"))
    assert (events[referral_id], events[dispatch_id]) == (1, 1)
    for bad in ("ref:R-IN-2", "ref:R-IN-3", "ref:R-IN-4", "ref:R-IN-5", "ref:R-IN-6", "ref:R-IN-8"):
        assert events[str(event_id_for("lars", bad))] == 0, bad
    assert events[str(event_id_for("desk", "dispatch:T-IN-7"))] == 0

    expected = {
        1: ("invalid_json", "$"),
        2: ("invalid_submission", "payload.referral_id"),
        3: ("invalid_submission", "payload.gender"),
        4: ("invalid_submission", "event_type"),
        5: ("unauthenticated", ""),
        6: ("unauthenticated", ""),
        7: ("forbidden", "source_system"),
        8: ("forbidden", "payload.referrer_id"),
        10: ("source_conflict", "source_ref"),
        12: ("invalid_submission", "payload.other_specification"),
    }
    # Dead letters are sent after their batch's events: the sentinel's batch may still be sending them.
    letters = wait_for(lambda: len(d := dead_letters(settings, key)) >= len(expected) and d, what="dead letters")
    got = {
        position[offset]: (dict(r.headers)["error-type"].decode(), dict(r.headers)["error-fields"].decode())
        for offset, r in letters.items()
    }
    assert got == expected
    for offset, record in letters.items():
        headers = dict(record.headers)
        if position[offset] in (1, 12):  # not JSON, or refused for personal data: nothing of it is kept
            assert record.value is None and headers["error-redacted"] == b"true"
            assert b"Janssens" not in headers["error-message"]
            continue
        assert headers["error-redacted"] == b"false"
        original, kept = json.loads(messages[position[offset]][0]), json.loads(record.value)
        if "pupil_id" in original.get("payload", {}):  # the source's pupil id is pseudonymised, never kept
            del original["payload"]["pupil_id"]
            original["payload"]["pupil_id_removed"] = True
        assert kept == original
        assert headers["original-topic"] == inbound_topic(settings).encode()
        assert headers["error-message"], position[offset]
        assert "api-key" not in headers, "a credential is never copied to the dead letters"
    message = {position[offset]: dict(r.headers)["error-message"].decode() for offset, r in letters.items()}
    assert "allowed values: boy, girl, other, unknown" in message[3]
    assert "allowed: lars" in message[7] and "allowed: clb-brussel-1" in message[8]
    assert "no API key" in message[5] and "unknown API key" in message[6]


def test_the_same_message_produced_twice_is_one_event(inbound: ServiceProcesses) -> None:
    settings, key = inbound.settings, uuid.uuid4().hex.encode()
    message = (body(referral("R-IN-TWICE")), LARS)
    produce_and_drain(settings, key, [message])
    events, _ = produce_and_drain(settings, key, [message, message])  # later, and twice in one batch
    assert events[str(event_id_for("lars", "ref:R-IN-TWICE"))] == 1
    assert dead_letters(settings, key) == {}


def test_rest_and_kafka_share_the_idempotency_index(inbound: ServiceProcesses) -> None:
    settings, key = inbound.settings, uuid.uuid4().hex.encode()
    via_rest, via_kafka = referral("R-IN-REST"), referral("R-IN-KAFKA")
    with TestClient(create_app(settings), headers={"X-API-Key": ALL}) as rest:
        wait_for(lambda: rest.get("/ready").status_code == 200, what="ingest ready")
        # REST first, then Kafka: wait until the inbound worker's index has caught up with the index topic.
        first = rest.post("/v1/events", json=via_rest).json()
        assert first["status"] == "created"
        indexed = len({r.key for r in read_topic(settings.kafka_bootstrap, source_index_topic(settings))})
        assert indexed
        wait_for(
            lambda: httpx.get(f"{settings.inbound_base_url}/ready").json()["source_records_known"] >= indexed,
            what="the inbound worker's index up to date",
        )
        events, _ = produce_and_drain(settings, key, [(body(via_rest), LARS)])
        assert events[first["event_id"]] == 1

        # Kafka first, then REST: the REST ingest learns the record from the index topic.
        events, _ = produce_and_drain(settings, key, [(body(via_kafka), LARS)])
        kafka_id = str(event_id_for("lars", "ref:R-IN-KAFKA"))
        assert events[kafka_id] == 1
        index = rest.app.state.ingest.index  # type: ignore[attr-defined]
        wait_for(lambda: ("lars", "ref:R-IN-KAFKA") in index.entries, what="the REST ingest's index")
        again = rest.post("/v1/events", json=via_kafka).json()
        assert again == {"index": 0, "event_id": kafka_id, "status": "duplicate"}
        # A changed record under the same source_ref is a conflict whichever way it comes in.
        assert rest.post("/v1/events", json=referral("R-IN-KAFKA", gender="girl")).status_code == 409
    assert events_by_id(settings)[kafka_id] == 1
    assert dead_letters(settings, key) == {}


def test_offsets_are_committed_past_bad_messages(inbound: ServiceProcesses) -> None:
    settings, key = inbound.settings, uuid.uuid4().hex.encode()
    produce_and_drain(settings, key, [(b"not json", LARS), (body(referral("R-IN-COMMIT")), NO_KEY)])
    topic = inbound_topic(settings)
    consumer = KafkaConsumer(
        **client_config(settings), group_id=f"{settings.topic_prefix}{settings.inbound_app_id}",
        enable_auto_commit=False,
    )  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        end = consumer.end_offsets(partitions)
        wait_for(
            lambda: all((consumer.committed(tp) or 0) == end[tp] for tp in partitions),
            timeout_s=30, what="committed offsets at the end of every partition",
        )  # fmt: skip
    finally:
        consumer.close()
    wait_for(lambda: len(dead_letters(settings, key)) == 2, what="two dead letters")
