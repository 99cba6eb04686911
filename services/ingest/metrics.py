"""The ingest's own metrics (both ways in: the REST app and the inbound worker count in their process's registry).

`kans_ingest_events_total{source_system, event_type, outcome, reason}`: every submission the ingest judged, once per
submission and answer. `outcome` is `created` (a new event, acknowledged by the broker), `duplicate` (the source record
was accepted before: nothing published) or `refused` (nothing accepted; `reason`: `invalid` — a date outside the
plausible window or not sealable —, `conflict` — the same source_ref with other content —, `forbidden` — outside the
key's scope —, `unavailable` — the broker did not acknowledge in time, or the ingest is starting). A batch is all or
nothing over REST: every submission of a refused batch counts as refused, with the batch's reason. A body that does
not even parse as submissions is a 422 counted by the HTTP metrics only (no trustworthy labels to give it).

`kans_events_published_total{topic}`: records the broker acknowledged, per topic (the event log, the idempotency
index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter

from schemas.envelope import SubmissionBase
from services.ingest.rules import Outcome

REFUSAL_REASONS = ("invalid", "conflict", "forbidden", "unavailable")


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "kans_ingest_events", "Submissions judged by the ingest, by source system, event type and outcome.",
            ["source_system", "event_type", "outcome", "reason"], registry=registry,
        )  # fmt: skip
        self.published = Counter(
            "kans_events_published", "Records the broker acknowledged, per topic.", ["topic"], registry=registry
        )

    def _count(self, submission: SubmissionBase, outcome: str, reason: str = "") -> None:
        event_type = submission.model_dump(include={"event_type"})["event_type"]  # each submission model's tag
        self.events.labels(source_system=submission.source_system, event_type=event_type, outcome=outcome,
                           reason=reason).inc()  # fmt: skip

    def outcomes(self, submissions: Sequence[SubmissionBase], outcomes: Iterable[Outcome]) -> None:
        """`created` or `duplicate` for each outcome (its `index` is the position in `submissions`)."""
        for outcome in outcomes:
            self._count(submissions[outcome.index], outcome.status)

    def refused(self, submissions: Iterable[SubmissionBase], reason: str) -> None:
        assert reason in REFUSAL_REASONS, reason
        for submission in submissions:
            self._count(submission, "refused", reason)

    def published_to(self, topic: str, records: int) -> None:
        self.published.labels(topic=topic).inc(records)
