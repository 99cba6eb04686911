-- Youth coaches in schools and their corona coaching (R50; schemas/coaching.py): one row per ProviderCoachSettingSet
-- (item_id = the setting) and ProviderCoronaCoachingReported (item_id = the report), kept by a materialized view on
-- `events` (backfilled by the migration runner). R50 folds it at query time: the latest fact per (provider, item) by
-- (occurred_at, recorded_at), recorded_at filtered for as-of questions; a small log, no current-state table.
CREATE TABLE IF NOT EXISTS {db}.coaching_log
(
    provider_id        LowCardinality(String),
    item_id            String,
    event_type         LowCardinality(String),
    event_id           UUID,
    occurred_at        DateTime64(3, 'UTC'),
    recorded_at        DateTime64(3, 'UTC'),
    seq                UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                           + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    school_id          String,
    track              LowCardinality(String),
    half_days_per_week Nullable(Float64),
    valid_from         Nullable(Date),
    valid_until        Nullable(Date),
    school_year        LowCardinality(String),
    kind               LowCardinality(String),
    pupils             Nullable(UInt32),
    period_from        Nullable(Date),
    period_until       Nullable(Date)
)
ENGINE = ReplacingMergeTree
ORDER BY (event_type, provider_id, item_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.coaching_log_mv TO {db}.coaching_log AS
SELECT
    stream_id AS provider_id,
    if(event_type = 'ProviderCoachSettingSet', JSONExtractString(payload, 'setting_id'),
       JSONExtractString(payload, 'report_id')) AS item_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    JSONExtractString(payload, 'school_id') AS school_id,
    JSONExtractString(payload, 'track') AS track,
    JSONExtract(payload, 'half_days_per_week', 'Nullable(Float64)') AS half_days_per_week,
    toDateOrNull(JSONExtractString(payload, 'valid_from')) AS valid_from,
    toDateOrNull(JSONExtractString(payload, 'valid_until')) AS valid_until,
    JSONExtractString(payload, 'school_year') AS school_year,
    JSONExtractString(payload, 'kind') AS kind,
    JSONExtract(payload, 'pupils', 'Nullable(UInt32)') AS pupils,
    toDateOrNull(JSONExtractString(payload, 'period_from')) AS period_from,
    toDateOrNull(JSONExtractString(payload, 'period_until')) AS period_until
FROM {db}.events
WHERE event_type IN ('ProviderCoachSettingSet', 'ProviderCoronaCoachingReported');
