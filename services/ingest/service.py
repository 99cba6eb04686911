"""The ingest use case: deduplicate, seal and publish a batch of submissions, all or nothing (REST) or item by
item (the Kafka way in, where one conflicting message must not hold back the others)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from schemas.envelope import SubmissionBase
from schemas.registry import seal
from services.ingest.publisher import BrokerUnavailable, EventPublisher
from services.ingest.rules import Conflict, Outcome, SourceKey, plan_batch, source_key
from services.ingest.source_index import SourceIndex


class NotReady(RuntimeError):
    """The idempotency index is not loaded yet (Kafka unreachable at start)."""


class SourceConflict(ValueError):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} submission(s) reuse a source_ref with different content")
        self.conflicts = conflicts


class IngestService:
    def __init__(self, publisher: EventPublisher, index: SourceIndex, pupil_secret: bytes) -> None:
        self.publisher = publisher
        self.index = index
        self._pupil_secret = pupil_secret
        # Source records being published right now: a concurrent request for the same record waits for
        # the first one instead of publishing a second copy.
        self._inflight: dict[SourceKey, asyncio.Future[None]] = {}

    async def submit(self, submissions: list[SubmissionBase]) -> list[Outcome]:
        """All or nothing: one conflict refuses the batch (SourceConflict) and nothing is published."""
        outcomes, _ = await self._publish(submissions, refuse_conflicts=True)
        return outcomes

    async def submit_each(self, submissions: list[SubmissionBase]) -> tuple[list[Outcome], list[Conflict]]:
        """Item by item: publish every new record, answer duplicates, and return the conflicts (not published)
        instead of refusing the batch. `Conflict.index` is the position in `submissions`."""
        return await self._publish(submissions, refuse_conflicts=False)

    async def _publish(
        self, submissions: list[SubmissionBase], refuse_conflicts: bool
    ) -> tuple[list[Outcome], list[Conflict]]:
        if not self.index.ready.is_set():
            raise NotReady("the ingest is starting: its idempotency index is not loaded (is Kafka reachable?)")
        keys = {source_key(sub) for sub in submissions}
        while pending := [self._inflight[k] for k in keys if k in self._inflight]:
            await asyncio.gather(*pending, return_exceptions=True)
        plan = plan_batch(submissions, self.index.entries, self._pupil_secret)
        if plan.conflicts and refuse_conflicts:
            raise SourceConflict(plan.conflicts)
        if not plan.to_publish:
            return plan.outcomes, plan.conflicts
        new_entries = plan.new_entries
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in new_entries:
            self._inflight[key] = done
        try:
            now = datetime.now(UTC)
            events = [seal(sub, now, self._pupil_secret) for _, sub in plan.to_publish]
            await run_in_threadpool(self.publisher.publish, events, new_entries)
            self.index.remember(new_entries)
        finally:
            for key in new_entries:
                self._inflight.pop(key, None)
            done.set_result(None)
        return plan.outcomes, plan.conflicts


__all__ = ["BrokerUnavailable", "IngestService", "NotReady", "SourceConflict"]
