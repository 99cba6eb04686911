-- The audit trail of the read API (kans.audit.v1, schemas/audit.py), stored by the audit writer
-- (services/warehouse/audit.py): who read a pupil's history or per-pupil rows, and who was refused.
-- Append-only: nothing updates or deletes it; a record redelivered by Kafka has the same audit_id and collapses
-- (ReplacingMergeTree, read with FINAL).

CREATE TABLE IF NOT EXISTS {db}.audit_log (
    audit_id UUID,
    at DateTime64(3, 'UTC'),
    subject Nullable(String),
    role Nullable(String),
    scope Array(String),
    client Nullable(String),
    method LowCardinality(String),
    route LowCardinality(String),
    referral_id Nullable(String),
    trajectory_id Nullable(String),
    detail Nullable(String),
    status UInt16,
    outcome LowCardinality(String),
    reason Nullable(String),
    schema_version UInt8,
    kafka_partition UInt32,
    kafka_offset UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (at, audit_id);
