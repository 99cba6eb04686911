"""Test helpers that read a topic with a real, independent kafka-python consumer (aiokafka for the scan of every
topic)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as AIOTopicPartition
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


def scan_topics(bootstrap: str | Settings, topics: list[str], timeout_s: float = 600.0) -> list[Any]:
    """Every record currently in `topics`, read with aiokafka (record batches parsed in compiled code: the whole
    session's topics in seconds, where kafka-python's pure-Python parsing took minutes)."""
    metadata = KafkaConsumer(**connection(bootstrap), group_id=None, enable_auto_commit=False)
    try:  # the partitions, from kafka-python's metadata (aiokafka's consumer knows only the topics it was given)
        partitions = [(t, p) for t in topics for p in sorted(metadata.partitions_for_topic(t) or [])]
    finally:
        metadata.close()
    assert partitions, f"topics {topics} do not exist"
    return asyncio.run(_scan(connection(bootstrap), partitions, timeout_s))


async def _scan(config: dict[str, Any], wanted: list[tuple[str, int]], timeout_s: float) -> list[Any]:
    consumer = AIOKafkaConsumer(**config, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)  # fmt: skip
    await consumer.start()
    try:
        partitions = [AIOTopicPartition(topic, p) for topic, p in wanted]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        left = {tp for tp in partitions if end[tp] > 0}
        await consumer.seek_to_beginning(*left)
        records: list[Any] = []
        async with asyncio.timeout(timeout_s):
            while left:
                for batch in (await consumer.getmany(*left, timeout_ms=200, max_records=20000)).values():
                    records.extend(batch)
                for tp in list(left):
                    if await consumer.position(tp) >= end[tp]:
                        left.discard(tp)
        return records
    finally:
        await consumer.stop()
