"""The project's Kafka topics, declared explicitly (the broker never auto-creates), and their creation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.kafka_security import client_config, sasl_enabled
from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def events_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}kans.events.v1"


def source_index_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}kans.ingest.source-refs.v1"


def inbound_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}kans.inbound.v1"


def dead_letter_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}kans.inbound.dlq.v1"


def event_dead_letter_topic(settings: Settings) -> str:
    """Where the event log's consumers (ClickHouse writer, projections) put the records they cannot take."""
    return f"{settings.topic_prefix}kans.events.dlq.v1"


def audit_topic(settings: Settings) -> str:
    """Who read a pupil's history or per-pupil rows, and who was refused (the read API's audit records)."""
    return f"{settings.topic_prefix}kans.audit.v1"


AUDIT_WRITER_GROUP = "kans-audit-writer"  # the consumer group storing the audit trail in ClickHouse (after the prefix)
DAY_MS = 24 * 60 * 60 * 1000
AUDIT_RETENTION_DAYS = 10 * 366  # ten years: longer than a pupil is of school age and any complaint period after it


PROJECTION_TABLES = ("trajectories", "provider-load")


def projections_group(settings: Settings) -> str:
    """The projections workers' faust application id: their consumer group, and the prefix of their own topics."""
    return f"{settings.topic_prefix}{settings.projections_app_id}"


def projections_changelog_topic(settings: Settings, table: str) -> str:
    """The changelog a projections table is restored from (faust's naming: `<app id>-<table>-changelog`)."""
    return f"{projections_group(settings)}-{table}-changelog"


def load_changes_topic(settings: Settings) -> str:
    """The projections worker's internal topic between its two agents (faust's naming of an app's internal topics)."""
    return f"{projections_group(settings)}-load-changes"


def dispatch_feed_topic(settings: Settings) -> str:
    """The dispatch worker's internal one-partition topic between its two agents."""
    return f"{settings.topic_prefix}{settings.dispatch_app_id}-feed"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [
        TopicSpec(
            events_topic(settings),
            settings.event_partitions,
            # The event log is the source of truth: never deleted, never compacted.
            {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1",
             "min.insync.replicas": str(settings.min_insync_replicas)},
            "Every accepted KANS event, keyed by stream_id (referral or provider id).",
        ),
        TopicSpec(
            source_index_topic(settings),
            settings.event_partitions,
            {"cleanup.policy": "compact", "min.compaction.lag.ms": "0",
             "min.insync.replicas": str(settings.min_insync_replicas)},
            "(source_system, source_ref) -> event id and fingerprint: the ingest's idempotency index.",
        ),
        TopicSpec(
            inbound_topic(settings),
            settings.event_partitions,
            # A buffer, not a record: what is valid is in the event log once the inbound worker has read it.
            {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)},
            "Submissions produced by source systems (the JSON of POST /v1/events), header api-key.",
        ),
        TopicSpec(
            dead_letter_topic(settings),
            1,
            # Kept long enough for a source system to be told and to resubmit a corrected record.
            {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)},
            "Inbound messages refused: the original bytes, the reason and the origin in headers.",
        ),
        TopicSpec(
            event_dead_letter_topic(settings),
            1,
            # A record no consumer could take stays in the event log forever; its dead letter says why and where
            # (origin in headers) and is kept a year, long enough to find and mend what wrote it.
            {"cleanup.policy": "delete", "retention.ms": str(365 * DAY_MS),
             "min.insync.replicas": str(settings.min_insync_replicas)},
            "Event-log records a consumer could not take: reason, origin and consumer in headers, value redacted.",
        ),
        TopicSpec(
            audit_topic(settings),
            settings.event_partitions,
            # Append-only and long-lived: deleted only after the retention, never compacted (each record is its own).
            {"cleanup.policy": "delete", "retention.ms": str(AUDIT_RETENTION_DAYS * DAY_MS), "retention.bytes": "-1",
             "min.insync.replicas": str(settings.min_insync_replicas)},
            "Reads of pupils' histories and per-pupil rows, and refused attempts: who, what, when, why (read API).",
        ),
        # The faust workers' internal topics, made before the workers start: a worker that subscribes to one faust
        # has only just asked the broker to create finds it missing in the metadata, ignores it, and its second
        # agent never gets a partition (seen on a fresh `kans up`: the provider-load view stayed empty).
        TopicSpec(
            load_changes_topic(settings),
            settings.event_partitions,
            {"cleanup.policy": "delete"},
            "Projections worker (internal): each event's changes of the provider-load rows, keyed by provider|module.",
        ),
        # Its tables' changelogs too (compacted, as faust makes them): two workers starting together both ask for
        # them, and the one that finds a changelog missing in the metadata stops (PartitionsMismatch).
        *(TopicSpec(
            projections_changelog_topic(settings, table),
            settings.event_partitions,
            {"cleanup.policy": "compact"},
            f"Projections worker (internal): the changelog of its table `{table}`, which a worker restores it from.",
        ) for table in PROJECTION_TABLES),
        TopicSpec(
            dispatch_feed_topic(settings),
            1,
            {"cleanup.policy": "delete"},
            "Dispatch worker (internal): the events the rules read, in the one order the rules take them.",
        ),
    ]


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics (default: the project's); existing ones are left as they are. Returns those created.

    The project's topics come with their ACLs on a secured broker (`core.kafka_acls`): a topic prefix's grants are
    made where its topics are, so every platform (a test's, a benchmark's) is locked down like `make up`'s."""
    if specs is None and sasl_enabled(settings):
        from core.kafka_acls import ensure_acls  # it names the topics of this module

        ensure_acls(settings)
    admin = KafkaAdminClient(**client_config(settings), client_id="kans-topics")
    try:
        existing = set(admin.list_topics())
        created: list[str] = []
        for spec in specs if specs is not None else topic_specs(settings):
            if spec.name in existing:
                continue
            try:
                replicas = settings.replication_factor
                admin.create_topics([NewTopic(spec.name, spec.partitions, replicas, topic_configs=spec.config)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("created topics %s", created)
        return created
    finally:
        admin.close()
