"""Sealing a batch's accepted submissions into the stored events, in this process or, for a large batch, in worker
processes: sealing (the pupil's vault reference and sealed key, the stored models validated again) is most of the
ingest's CPU, and a worker takes only bytes in and gives bytes back, so the second core seals half of the batch.

Only sealing moves: what decides (deduplication, ownership, the in-flight streams) stays in the one ingest process.
A worker returns nothing for a submission it could not seal exactly as this process would (its JSON did not read
back the same, or sealing refused it): that one is sealed here, so refusals and events are the same either way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.pupil_vault import PupilVault
from schemas.envelope import Envelope, SubmissionBase
from schemas.pupils import PupilErasedPayload
from schemas.registry import SUBMISSION_VERSIONS, seal
from schemas.stream_owners import Fact, facts_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealedEvent:
    """A stored event as the publisher and the indexes need it: its JSON and what is read from it. `envelope`: the
    model, when it was sealed in this process."""

    stream_id: str
    event_type: str
    schema_version: int
    json: bytes
    facts: tuple[Fact, ...]
    erased_pupil_ref: str | None = None
    envelope: Envelope | None = None


def sealed_event(event: Envelope, keep: bool = True) -> SealedEvent:
    erased = event.payload.pupil_ref if isinstance(event.payload, PupilErasedPayload) else None
    return SealedEvent(event.stream_id, event.event_type, event.schema_version, event.model_dump_json().encode(),
                       tuple(facts_of(event.event_type, event.payload)), erased, event if keep else None)  # fmt: skip


_worker: dict[str, Any] = {}


def _start_worker(vault_path: Path, pupil_secret: bytes) -> None:
    _worker["vault"], _worker["secret"] = PupilVault(vault_path), pupil_secret
    threading.Thread(target=_exit_with_the_ingest, name="exit-with-the-ingest", daemon=True).start()


def _exit_with_the_ingest() -> None:
    """A worker outlives an ingest killed with SIGKILL (the pool's queues never close: each worker holds both ends):
    it waits on its parent's sentinel, which becomes readable when the parent is gone, and exits then."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a worker (called in the ingest itself, as the tests do)
        return
    multiprocessing.connection.wait([parent.sentinel])
    os._exit(0)


def _ready() -> bool:
    return "vault" in _worker


def _seal_chunk(chunk: list[tuple[str, int, bytes]], now: datetime) -> list[SealedEvent | None]:
    """In a worker: each submission (event type, version, its JSON) sealed, or None to seal it in the ingest."""
    out: list[SealedEvent | None] = []
    for event_type, version, data in chunk:
        try:
            submission = SUBMISSION_VERSIONS[(event_type, version)].model_validate_json(data)
            if submission.model_dump_json().encode() != data:
                out.append(None)
                continue
            event = seal(submission, now, _worker["secret"], _worker["vault"])
        except (ValidationError, ValueError, KeyError):
            out.append(None)
            continue
        out.append(sealed_event(event, keep=False))
    return out


class SealingPool:
    """`processes` workers (spawned, each with its own connection to the pupil vault's file) for batches of at least
    `min_batch` submissions; smaller ones are sealed in the ingest (a worker's round trip costs milliseconds)."""

    def __init__(self, vault_path: Path, pupil_secret: bytes, processes: int = 2, min_batch: int = 200) -> None:
        self._args = (vault_path, pupil_secret)
        self.processes, self.min_batch = processes, min_batch
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def start(self) -> None:
        self._pool = concurrent.futures.ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=self._args,
        )  # fmt: skip
        for _ in range(self.processes):  # spawn them now, not on the first batch
            self._pool.submit(_ready)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def seal(self, submissions: Sequence[SubmissionBase], now: datetime) -> list[SealedEvent | None] | None:
        """Each submission sealed by a worker (None: seal it here), or None when the batch is small or the pool is
        not running."""
        pool = self._pool
        if pool is None or len(submissions) < self.min_batch:
            return None
        items = [(getattr(s, "event_type"), s.schema_version, s.model_dump_json().encode()) for s in submissions]  # noqa: B009
        size = -(-len(items) // self.processes)
        try:
            parts = await asyncio.gather(*(asyncio.wrap_future(pool.submit(_seal_chunk, items[i : i + size], now))
                                           for i in range(0, len(items), size)))  # fmt: skip
        except (concurrent.futures.process.BrokenProcessPool, OSError, RuntimeError):
            # A worker killed (out of memory, an operator) breaks the whole pool: this batch is sealed here and
            # a new pool is started for the next ones.
            log.warning("the sealing workers failed: sealing this batch in the ingest, starting new workers",
                        exc_info=True)  # fmt: skip
            if self._pool is pool:
                self.stop()
                self.start()
            return None
        return [event for part in parts for event in part]
