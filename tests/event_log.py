"""Test helpers for the event log's consumers: a realistic mix of valid events, poison records of every kind,
a raw producer that says where each record landed, the dead letters as read back, and the provider-load view
recomputed from the events with the projections' pure rules (the reference the worker's view must equal)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from kafka import KafkaProducer

from core.dead_letters import MAX_RECORD_BYTES, BadRecord, header_values, read_event
from services.projections import provider_load as rows
from services.projections.load_changes import trajectory_id_of, translate
from services.projections.trajectory_state import TrajectoryState
from tests.factories import capacity, close, dispatch, referral, sealed_json, start
from tests.kafka_helpers import connection, read_topic

Record = tuple[bytes | None, bytes | None]  # (key, value)
T = TypeVar("T")
PROVIDERS = ("tigo", "abrusco", "cgg")


def poison(kind: str, n: int) -> Record:
    """A record of `kind` (the reason its dead letter must give); `n` makes each one different."""
    key = f"R-POISON-{n}".encode()
    valid = json.loads(sealed_json(referral(f"R-POISON-{n}"))[1])
    # An event id and a pupil_ref of its own, not random ones: about one random id in 3,000 holds eleven digits that
    # pass as a national number, and the dead letter of that record would (rightly) be redacted, which no test expects.
    valid["event_id"] = f"{n:08x}-ffff-5fff-afff-ffffffffffff"
    valid["payload"]["pupil_ref"] = f"{n:x}".rjust(32, "f")
    values: dict[str, bytes | None] = {
        "no_value": None,
        "not_utf8": b"\xff\xfe\x81" + n.to_bytes(4, "big") + b"garbage",
        "not_json": f"<event {n}>".encode(),
        "not_an_object": json.dumps([n, "ReferralSubmitted"]).encode(),
        "contract_violation": json.dumps({**valid, "school_year": "1999-2000"}).encode(),
        "oversized": json.dumps({**valid, "pad": "x" * MAX_RECORD_BYTES}).encode(),
    }
    return key, values[kind]


KINDS = ("no_value", "not_utf8", "not_json", "not_an_object", "contract_violation", "oversized")


def valid_events(prefix: str, trajectories: int) -> list[Record]:
    """Capacities, then per trajectory a referral, a dispatch, a start for two in three and a close for one in
    four: what moves the provider-load view both ways."""
    records: list[Record] = [sealed_json(capacity(p, "individual", 10 + i)) for i, p in enumerate(PROVIDERS)]
    for n in range(trajectories):
        rid, tid, provider = f"R-{prefix}-{n}", f"T-{prefix}-{n}", PROVIDERS[n % len(PROVIDERS)]
        records += [sealed_json(referral(rid)), sealed_json(dispatch(rid, tid, provider))]
        if n % 4 != 1:  # not in step with the provider (n % 3): every row gets active and waiting trajectories
            records.append(sealed_json(start(rid, tid)))
        if n % 4 == 0:
            records.append(sealed_json(close(rid, tid)))
    return records


def interleave(valid: list[T], bad: list[T]) -> list[T]:
    """The bad records spread evenly between the valid ones."""
    out: list[T] = []
    every = max(1, len(valid) // max(1, len(bad)))
    waiting = deque(bad)
    for i, record in enumerate(valid):
        out.append(record)
        if waiting and i % every == every - 1:
            out.append(waiting.popleft())
    return out + list(waiting)


def labelled(valid: list[Record], bad: list[tuple[Record, str]]) -> list[tuple[Record, str | None]]:
    """Valid records (label None) with the bad ones (labelled with the reason expected) spread between them."""
    return interleave([(record, None) for record in valid], list(bad))  # type: ignore[list-item]


@dataclass(frozen=True)
class Produced:
    record: Record
    partition: int
    offset: int


# Marks what a test wrote straight to a topic: the attacker's input, which the privacy scan of what the platform
# wrote leaves out (tests/e2e/test_no_personal_data.py). The platform never copies a record's headers.
RAW_HEADER = ("kans-test-raw", b"1")


def produce_raw(bootstrap: str, topic: str, records: Iterable[Record]) -> list[Produced]:
    """Produce straight to `topic` as the admin (on the secured broker only a super user, or the ingest with a bug,
    could); where each record landed."""
    producer = KafkaProducer(**connection(bootstrap), acks="all", linger_ms=5, max_request_size=2 * 1024 * 1024)
    try:
        sent = [
            (record, producer.send(topic, key=record[0], value=record[1], headers=[RAW_HEADER])) for record in records
        ]
        producer.flush(timeout=60)
        return [Produced(record, (m := future.get(timeout=30)).partition, m.offset) for record, future in sent]
    finally:
        producer.close()


def dead_letters(bootstrap: str, topic: str, consumer: str | None = None) -> list[dict[str, Any]]:
    """The dead letters in `topic` (of `consumer`, if given): headers as text, plus `value` and `key`."""
    letters = []
    for record in read_topic(bootstrap, topic, timeout_s=30):
        headers = header_values(record.headers)
        if consumer is None or headers["consumer"] == consumer:
            letters.append({**headers, "value": record.value, "key": record.key})
    return letters


def replay_log(values: Iterable[bytes | None]) -> tuple[dict[str, TrajectoryState], dict[str, dict[str, Any]]]:
    """Every trajectory's state and every provider-load row from the events alone, folded in log order with the
    worker's own rules (a record that is not an event is skipped, as the worker dead-letters it)."""
    trajectories: dict[str, TrajectoryState] = {}
    table: dict[str, dict[str, Any]] = {}
    for value in values:
        try:
            event = read_event(value)
        except BadRecord:
            continue
        tid = trajectory_id_of(event)
        outcome = translate(event, trajectories.get(tid) if tid else None)
        if tid is not None and outcome.state is not None:
            trajectories[tid] = outcome.state
        for key, change in outcome.changes:
            table[key] = rows.apply_change(table.get(key) or rows.empty_row(key), change)
    return trajectories, table


def recompute_provider_load(values: Iterable[bytes | None], day: date) -> list[dict[str, Any]]:
    """The provider-load view on `day` from the events alone (`replay_log`)."""
    _, table = replay_log(values)
    views = [rows.load_view(table[key], day) for key in sorted(table)]
    return [v for v in views if v["offered"] or v["active"] or v["waiting"]]


def recompute_trajectories(values: Iterable[bytes | None]) -> dict[str, TrajectoryState]:
    """Every trajectory's state from the events alone (`replay_log`)."""
    return replay_log(values)[0]


def without_partitions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A worker's rows without the partition each is tagged with (which worker holds it, for the API's merge)."""
    return [{k: v for k, v in row.items() if k != "partition"} for row in rows]
