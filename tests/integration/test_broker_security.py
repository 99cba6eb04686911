"""The suite's broker is secured like `make up`'s: every client authenticates (SCRAM) and the ACLs of
core/kafka_acls.py decide what each principal may do. Real broker, real principals, nothing mocked."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from core.kafka_acls import PRINCIPALS, existing_users
from core.kafka_security import client_config
from core.settings import Settings
from core.topics import dead_letter_topic, event_dead_letter_topic, events_topic, inbound_topic, source_index_topic
from kans.kafka_credentials import as_principal, read
from tests.kafka_helpers import read_topic
from tests.suite_broker import SuiteBroker

QUICK = {"request_timeout_ms": 5000, "max_block_ms": 5000, "bootstrap_timeout_ms": 5000}


def acting_as(settings: Settings, principal: str) -> Settings:
    assert settings.kafka_credentials_file is not None, "the session names the broker's credentials file"
    return as_principal(settings, principal, read(settings.kafka_credentials_file))


@pytest.fixture
def producers() -> Iterator[list[KafkaProducer]]:
    made: list[KafkaProducer] = []
    yield made
    for producer in made:
        producer.close(timeout=1)


def produce_one(settings: Settings, topic: str, made: list[KafkaProducer], **extra: Any) -> None:
    """Produce one record (to partition 0) as `settings`' principal and wait for the broker's answer."""
    producer = KafkaProducer(**client_config(settings), acks="all", **QUICK, **extra)
    made.append(producer)
    producer.send(topic, key=b"probe", value=b'{"probe": true}', partition=0).get(timeout=15)


def test_the_broker_is_secured_and_its_credentials_are_the_owners_only(suite_broker_slot: SuiteBroker,
                                                                        kafka_bootstrap: str) -> None:  # fmt: skip
    kafka = suite_broker_slot.kafka()
    properties = kafka.properties.read_text()
    assert "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT" in properties
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in properties
    assert "allow.everyone.if.no.acl.found=false" in properties
    for secret_file in (kafka.credentials_file, kafka.properties):
        assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600, secret_file
    passwords = read(kafka.credentials_file)
    assert set(passwords) == {*PRINCIPALS, "controller"}
    assert len(set(passwords.values())) == len(passwords), "one password each"
    # Every principal exists as a SCRAM user on the broker (created when the storage was formatted).
    assert existing_users(kafka.client_settings()) >= set(PRINCIPALS)


def broker_log(slot: SuiteBroker, marker: str) -> list[str]:
    """The broker's own record (its server.log) of what it refused: the lines holding `marker`."""
    log = slot.kafka().home / "logs" / "server.log"
    return [line for line in log.read_text(errors="replace").splitlines() if marker in line]


UNAUTHENTICATED = "Unexpected Kafka request of type METADATA during SASL handshake"
WRONG_PASSWORD = "invalid credentials with SASL mechanism SCRAM-SHA-256"


def test_a_client_without_credentials_cannot_write_the_event_log(settings: Settings, producers: list[Any],
                                                                 suite_broker_slot: SuiteBroker) -> None:  # fmt: skip
    anonymous = settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT", "kafka_username": ""})
    refused_before = len(broker_log(suite_broker_slot, UNAUTHENTICATED))
    with pytest.raises(KafkaError):
        produce_one(anonymous, events_topic(settings), producers)
    assert read_topic(settings.kafka_bootstrap, events_topic(settings)) == []
    assert len(broker_log(suite_broker_slot, UNAUTHENTICATED)) > refused_before, "the broker closed the connections"


def test_a_wrong_password_is_an_authentication_failure(settings: Settings, producers: list[Any],
                                                       suite_broker_slot: SuiteBroker) -> None:  # fmt: skip
    refused_before = len(broker_log(suite_broker_slot, WRONG_PASSWORD))
    impostor = acting_as(settings, "ingest").model_copy(update={"kafka_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaError):
        produce_one(impostor, events_topic(settings), producers)
    assert read_topic(settings.kafka_bootstrap, events_topic(settings)) == []
    refused = broker_log(suite_broker_slot, WRONG_PASSWORD)[refused_before:]
    assert refused and all("Failed authentication with /127.0.0.1" in line for line in refused), refused[:3]


@pytest.mark.parametrize("principal", ["projections", "writer", "api", "inbound", "dispatch"])
def test_only_the_ingest_may_write_the_event_log(settings: Settings, producers: list[Any], principal: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        produce_one(acting_as(settings, principal), events_topic(settings), producers)
    assert read_topic(settings.kafka_bootstrap, events_topic(settings)) == []


def test_the_ingest_writes_the_event_log_with_its_idempotent_producer(settings: Settings,
                                                                      producers: list[Any]) -> None:  # fmt: skip
    produce_one(acting_as(settings, "ingest"), events_topic(settings), producers, enable_idempotence=True)
    records = read_topic(settings.kafka_bootstrap, events_topic(settings))
    assert [(r.key, r.value) for r in records] == [(b"probe", b'{"probe": true}')]


def read_as(settings: Settings, principal: str, topic: str) -> list[bytes] | str:
    """What `principal` reads of partition 0 of `topic` from the beginning: the values, or how it was refused:
    `hidden` (the broker does not even say the topic exists: no DESCRIBE) or `refused` (a fetch answered
    TOPIC_AUTHORIZATION_FAILED: a writer may describe the topic, never read it)."""
    consumer = KafkaConsumer(**client_config(acting_as(settings, principal)), group_id=None,
                             enable_auto_commit=False, request_timeout_ms=5000)  # fmt: skip
    try:
        if topic not in consumer.topics():
            return "hidden"
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        values: list[bytes] = []
        for _ in range(30):
            values += [r.value for batch in consumer.poll(timeout_ms=100).values() for r in batch]
            if values:
                break
        return values
    except TopicAuthorizationFailedError:
        return "refused"
    finally:
        consumer.close()


# Who reads which topic, as the services' code does (the inbound dead letters: the source systems, to learn why a
# submission was refused; the event-log dead letters: only the admin, who mends what wrote them).
@pytest.mark.parametrize(("topic_of", "readers"), [
    (events_topic, {"ingest", "projections", "writer", "api", "dispatch"}), (source_index_topic, {"ingest"}),
    (inbound_topic, {"ingest"}), (dead_letter_topic, {"inbound"}), (event_dead_letter_topic, set()),
], ids=["events", "source-refs", "inbound", "inbound-dlq", "events-dlq"])  # fmt: skip
def test_each_principal_reads_only_what_it_needs(settings: Settings, topic_of: Any, readers: set[str]) -> None:
    topic = topic_of(settings)
    produce_one(settings, topic, [])  # as admin: there is something to read
    seen = {principal: read_as(settings, principal, topic) for principal in PRINCIPALS}
    assert {p for p, got in seen.items() if got == [b'{"probe": true}']} == readers | {"admin"}, seen
    assert {p for p, got in seen.items() if got in ("hidden", "refused")} == set(PRINCIPALS) - readers - {"admin"}


def test_a_principal_cannot_join_another_ones_consumer_group(settings: Settings) -> None:
    """The writer may not commit offsets as the projections worker (nor skip its records that way)."""
    consumer = KafkaConsumer(events_topic(settings), **client_config(acting_as(settings, "writer")),
                             group_id=f"{settings.topic_prefix}{settings.projections_app_id}",
                             request_timeout_ms=5000)  # fmt: skip
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            for _ in range(50):
                consumer.poll(timeout_ms=100)
    finally:
        consumer.close()


def test_dead_letters_only_from_the_consumers_that_produce_them(settings: Settings, producers: list[Any]) -> None:
    for principal in ("writer", "projections"):
        produce_one(acting_as(settings, principal), event_dead_letter_topic(settings), producers)
    with pytest.raises(TopicAuthorizationFailedError):
        produce_one(acting_as(settings, "inbound"), event_dead_letter_topic(settings), producers)
    assert len(read_topic(settings.kafka_bootstrap, event_dead_letter_topic(settings))) == 2


def test_grants_are_per_topic_prefix(settings: Settings, producers: list[Any]) -> None:
    """A prefix whose topics were created without the project's provisioning (no grants) is closed to the ingest."""
    from core.topics import TopicSpec, ensure_topics

    other = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}."})
    ensure_topics(other, [TopicSpec(events_topic(other), 1)])  # the topic alone, no ACLs
    with pytest.raises(TopicAuthorizationFailedError):
        produce_one(acting_as(other, "ingest"), events_topic(other), producers)
