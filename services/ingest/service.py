"""The ingest use case: deduplicate, seal and publish a batch of submissions, all or nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from schemas.envelope import SubmissionBase
from schemas.registry import seal
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.rules import Conflict, IndexEntry, Outcome, SourceKey, fingerprint, plan_batch, source_key
from services.ingest.source_index import SourceIndex


class NotReady(RuntimeError):
    """The idempotency index is not loaded yet (Kafka unreachable at start)."""


class SourceConflict(ValueError):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} submission(s) reuse a source_ref with different content")
        self.conflicts = conflicts


class IngestService:
    def __init__(self, publisher: EventPublisher, index: SourceIndex) -> None:
        self.publisher = publisher
        self.index = index
        # Source records being published right now: a concurrent request for the same record waits for
        # the first one instead of publishing a second copy.
        self._inflight: dict[SourceKey, asyncio.Future[None]] = {}

    async def submit(self, submissions: list[SubmissionBase]) -> list[Outcome]:
        if not self.index.ready.is_set():
            raise NotReady("the ingest is starting: its idempotency index is not loaded (is Kafka reachable?)")
        keys = {source_key(sub) for sub in submissions}
        while pending := [self._inflight[k] for k in keys if k in self._inflight]:
            await asyncio.gather(*pending, return_exceptions=True)
        plan = plan_batch(submissions, self.index.entries)
        if plan.conflicts:
            raise SourceConflict(plan.conflicts)
        if not plan.to_publish:
            return plan.outcomes
        new_entries = {
            source_key(sub): IndexEntry(outcome.event_id, fingerprint(sub))
            for (_, sub), outcome in zip(
                plan.to_publish, [o for o in plan.outcomes if o.status == "created"], strict=True
            )
        }
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in new_entries:
            self._inflight[key] = done
        try:
            now = datetime.now(UTC)
            events = [seal(sub, now) for _, sub in plan.to_publish]
            await run_in_threadpool(self.publisher.publish, events, new_entries)
            self.index.remember(new_entries)
        finally:
            for key in new_entries:
                self._inflight.pop(key, None)
            done.set_result(None)
        return plan.outcomes


__all__ = ["BrokerUnavailable", "IngestService", "NotReady", "SourceConflict"]
