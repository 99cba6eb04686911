-- Fact log of round tables (scheduled, held with outcomes, cancelled with a reason), folded per round table at
-- query time like the other fact logs; it belongs to its referral's school year through referral_id.
CREATE TABLE IF NOT EXISTS {db}.round_table_log
(
    school_year           LowCardinality(String),
    referral_id           String,
    round_table_id        String,
    event_type            LowCardinality(String),
    event_id              UUID,
    occurred_at           DateTime64(3, 'UTC'),
    recorded_at           DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    scheduled_for         Nullable(Date),
    outcomes              Array(LowCardinality(String)),
    trajectories_to_start Nullable(UInt8),
    cancel_reason         LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (event_type, referral_id, round_table_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.round_table_log_mv TO {db}.round_table_log AS
SELECT
    school_year,
    stream_id AS referral_id,
    JSONExtractString(payload, 'round_table_id') AS round_table_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    toDateOrNull(JSONExtractString(payload, 'scheduled_for')) AS scheduled_for,
    JSONExtract(payload, 'outcomes', 'Array(String)') AS outcomes,
    JSONExtract(payload, 'trajectories_to_start', 'Nullable(UInt8)') AS trajectories_to_start,
    if(event_type = 'RoundTableCancelled', JSONExtractString(payload, 'reason'), '') AS cancel_reason
FROM {db}.events
WHERE event_type IN ('RoundTableScheduled', 'RoundTableHeld', 'RoundTableCancelled');
