"""Sealing in worker processes (services/ingest/sealing.py) gives the events sealing in the ingest gives, byte for
byte, with the same pupil references from the shared vault file; what a worker cannot seal exactly is left to the
ingest; small batches are not sent to the workers."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.pupil_vault import PupilVault
from schemas.pseudonym import pupil_key
from schemas.registry import SUBMISSION_ADAPTER, example_submission, seal
from services.ingest.sealing import SealingPool, _seal_chunk, _start_worker, sealed_event
from tests.factories import TEST_PUPIL_SECRET, close, dispatch, referral

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault" / "pupils.sqlite"


@pytest.fixture
def pool(vault_path: Path) -> Iterator[SealingPool]:
    pool = SealingPool(vault_path, TEST_PUPIL_SECRET, processes=2, min_batch=10)
    pool.start()
    yield pool
    pool.stop()


def submissions(n: int) -> list:  # type: ignore[type-arg]
    batch = []
    for i in range(n):
        batch += [referral(f"R-{i}"), dispatch(f"R-{i}", f"T-{i}", "tigo"), close(f"R-{i}", f"T-{i}")]
    batch += [example_submission("ReferralAmended"), example_submission("ProviderCapacitySet")]
    return [SUBMISSION_ADAPTER.validate_python(s) for s in batch]


def test_workers_seal_what_the_ingest_would_byte_for_byte(pool: SealingPool, vault_path: Path) -> None:
    batch = submissions(40)
    vault = PupilVault(vault_path)  # the ingest's own connection: it issues the batch's pupils first
    vault.issue(pupil_key(TEST_PUPIL_SECRET, s.payload.pupil_id) for s in batch if hasattr(s.payload, "pupil_id"))
    by_workers = asyncio.run(pool.seal(batch, NOW))
    assert by_workers is not None and len(by_workers) == len(batch)
    here = [sealed_event(seal(s, NOW, TEST_PUPIL_SECRET, vault)) for s in batch]
    assert all(event is not None for event in by_workers)
    assert [e.json for e in by_workers] == [e.json for e in here]  # type: ignore[union-attr]
    assert [(e.stream_id, e.event_type, e.schema_version, e.facts) for e in by_workers] == [  # type: ignore[union-attr]
        (e.stream_id, e.event_type, e.schema_version, e.facts) for e in here]
    assert b"pupil_id" not in b"".join(e.json for e in by_workers)  # type: ignore[union-attr]


def test_a_small_batch_is_sealed_in_the_ingest(pool: SealingPool) -> None:
    assert asyncio.run(pool.seal(submissions(1)[:3], NOW)) is None


def test_what_a_worker_cannot_seal_exactly_is_left_to_the_ingest(vault_path: Path) -> None:
    _start_worker(vault_path, TEST_PUPIL_SECRET)
    good = SUBMISSION_ADAPTER.validate_python(dispatch("R-1", "T-1", "tigo"))
    data = good.model_dump_json().encode()
    reordered = data.replace(b'{"schema_version"', b'{ "schema_version"')  # reads back, but not to the same bytes
    too_long = good.model_copy(update={"source_ref": "x" * 300}).model_dump_json().encode()  # sealing refuses it
    result = _seal_chunk([("TrajectoryDispatched", good.schema_version, data),
                          ("TrajectoryDispatched", good.schema_version, reordered),
                          ("TrajectoryDispatched", good.schema_version, too_long),
                          ("NoSuchEvent", 1, data)], NOW)  # fmt: skip
    assert result[0] is not None and result[0].json == sealed_event(seal(good, NOW)).json
    assert result[1:] == [None, None, None]


def test_a_killed_worker_costs_one_batch_sealed_in_the_ingest_and_new_workers_seal_the_next(
    pool: SealingPool, vault_path: Path
) -> None:
    batch = submissions(10)
    PupilVault(vault_path).issue(pupil_key(TEST_PUPIL_SECRET, s.payload.pupil_id) for s in batch
                                 if hasattr(s.payload, "pupil_id"))  # fmt: skip
    assert asyncio.run(pool.seal(batch, NOW)) is not None
    running = pool._pool
    assert running is not None
    victim = next(iter(running._processes))  # type: ignore[attr-defined]
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.0)  # the pool notices its lost worker and calls itself broken
    assert asyncio.run(pool.seal(batch, NOW)) is None  # this batch: sealed in the ingest
    assert pool._pool is not None and pool._pool is not running
    again = asyncio.run(pool.seal(batch, NOW))
    assert again is not None and all(event is not None for event in again)
