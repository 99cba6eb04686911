"""Where generated submissions go, the same events each way: a JSON-lines file, the public ingest API (batches,
X-API-Key), or the Kafka inbound topic in bulk (record header `api-key`). Spreadsheet exports: `spreadsheets`.

Every sink streams: it holds one batch at a time, whatever the number of events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from kans.synthetic.events import stream_id

DEMO_API_KEY = "kans-dev-demo"  # development key of source system `demo` (core/dev-api-keys.yaml): any referrer
BATCH = 1000


def to_json(submission: dict[str, Any]) -> str:
    """One submission as compact JSON: the same submission always gives the same bytes."""
    return json.dumps(submission, ensure_ascii=False, separators=(",", ":"))


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def write_jsonl(submissions: Iterable[dict[str, Any]], path: Path) -> int:
    """Write one submission per line (UTF-8); returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for batch in batched(submissions, BATCH):
            out.write("".join(to_json(s) + "\n" for s in batch))
            count += len(batch)
    return count


class IngestRefused(RuntimeError):
    """The ingest refused a batch (not a temporary 503): the status and what it said."""


def post_to_ingest(submissions: Iterable[dict[str, Any]], ingest_url: str, api_key: str = DEMO_API_KEY,
                   batch: int = BATCH, retries: int = 20, transport: httpx.BaseTransport | None = None,
                   on_batch: Callable[[int], None] | None = None) -> dict[str, int]:  # fmt: skip
    """POST /v1/events/batch in batches of `batch`; a 503 is retried after its Retry-After (the same batch is safe
    to resend). Returns how many events were sent, created and already there (duplicates). `on_batch(n)` after each
    accepted batch of n events (a progress bar)."""
    totals = {"events": 0, "created": 0, "duplicates": 0, "batches": 0}
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    with httpx.Client(base_url=ingest_url, timeout=120, headers=headers, transport=transport) as client:
        for chunk in batched(submissions, batch):
            body = ("[" + ",".join(to_json(s) for s in chunk) + "]").encode()
            for attempt in range(retries + 1):
                response = client.post("/v1/events/batch", content=body)
                if response.status_code != 503 or attempt == retries:
                    break
                time.sleep(float(response.headers.get("Retry-After", "2")))
            if response.status_code != 202:
                raise IngestRefused(f"ingest answered {response.status_code}: {response.text[:2000]}")
            result = response.json()
            totals["events"] += len(chunk)
            totals["created"] += result["created"]
            totals["duplicates"] += result["duplicates"]
            totals["batches"] += 1
            if on_batch is not None:
                on_batch(len(chunk))
    return totals


def produce_to_inbound(submissions: Iterable[dict[str, Any]], settings: Settings,
                       api_key: str = DEMO_API_KEY) -> int:  # fmt: skip
    """Produce every submission to the inbound topic (kafka-python, bulk: lz4, linger), keyed by its stream so a
    stream's submissions stay in order, with the credential in the header `api-key`. Returns how many."""
    from kafka import KafkaProducer

    from core.kafka_security import client_config
    from core.topics import ensure_topics, inbound_topic, topic_specs

    ensure_topics(settings, [spec for spec in topic_specs(settings) if spec.name == inbound_topic(settings)])
    producer = KafkaProducer(**client_config(settings), acks="all", enable_idempotence=True,
                             compression_type="lz4", linger_ms=20, batch_size=512 * 1024)  # fmt: skip
    topic, headers, count = inbound_topic(settings), [("api-key", api_key.encode())], 0
    failures: list[BaseException] = []
    try:
        for submission in submissions:
            future = producer.send(topic, key=stream_id(submission).encode(), value=to_json(submission).encode(),
                                   headers=headers)  # fmt: skip
            future.add_errback(failures.append)
            count += 1
        producer.flush()
    finally:
        producer.close()
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} submissions were not acknowledged: {failures[0]!r}")
    return count
