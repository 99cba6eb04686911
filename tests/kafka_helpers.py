"""Test helpers that read a topic with a real, independent kafka-python consumer."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from core.kafka_security import client_config
from core.settings import Settings


def connection(broker: str | Settings) -> dict[str, Any]:
    """How the tests reach a broker: given its bootstrap, the suite's, as admin (the session's KANS_KAFKA_* settings,
    tests/suite_broker.py); given settings (a broker of a test's own), as those say."""
    return client_config(broker if isinstance(broker, Settings) else Settings(kafka_bootstrap=broker))


def read_topic(bootstrap: str | Settings, topic: str, timeout_s: float = 5.0) -> list[Any]:
    """Every record currently in `topic` (all partitions, from the beginning up to the end offsets)."""
    return read_topics(bootstrap, [topic], timeout_s)


def read_topics(bootstrap: str | Settings, topics: list[str], timeout_s: float = 5.0) -> list[Any]:
    """Every record currently in `topics`, with one consumer (from the beginning up to the end offsets)."""
    consumer = KafkaConsumer(**connection(bootstrap), group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=8 * 1024 * 1024, max_poll_records=5000)  # fmt: skip
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        assert partitions, f"topics {topics} do not exist"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        polls = 0
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            polls += 1
            assert polls < timeout_s * 10, "could not read the topic up to its end offsets"
            for batch in consumer.poll(timeout_ms=100).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def produce(bootstrap: str | Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(**connection(bootstrap), acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()
