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

from collections import Counter
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as Metric

from schemas.envelope import SubmissionBase
from services.ingest.rules import Outcome

REFUSAL_REASONS = ("invalid", "conflict", "forbidden", "unavailable")


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Metric(
            "kans_ingest_events", "Submissions judged by the ingest, by source system, event type and outcome.",
            ["source_system", "event_type", "outcome", "reason"], registry=registry,
        )  # fmt: skip
        self.published = Metric(
            "kans_events_published", "Records the broker acknowledged, per topic.", ["topic"], registry=registry
        )

    def _count(self, judged: Iterable[tuple[SubmissionBase, str]], reason: str = "") -> None:
        """Each (submission, outcome) counted; one increment per set of labels, not per submission."""
        # Each submission model's tag (`event_type` is declared on the models, not on their base).
        counts = Counter((sub.source_system, getattr(sub, "event_type"), outcome) for sub, outcome in judged)  # noqa: B009
        for (source_system, event_type, outcome), n in counts.items():
            self.events.labels(source_system=source_system, event_type=event_type, outcome=outcome,
                               reason=reason).inc(n)  # fmt: skip

    def outcomes(self, submissions: Sequence[SubmissionBase], outcomes: Iterable[Outcome]) -> None:
        """`created` or `duplicate` for each outcome (its `index` is the position in `submissions`)."""
        self._count((submissions[outcome.index], outcome.status) for outcome in outcomes)

    def refused(self, submissions: Iterable[SubmissionBase], reason: str) -> None:
        assert reason in REFUSAL_REASONS, reason
        self._count(((submission, "refused") for submission in submissions), reason)

    def published_to(self, topic: str, records: int) -> None:
        self.published.labels(topic=topic).inc(records)
