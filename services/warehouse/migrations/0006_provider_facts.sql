-- Provider facts the statistics need: provider names and module names/kinds (labels, and which modules are
-- youth coaching). Folded at query time with argMax, recorded_at filtered for as-of, like the other fact logs.
CREATE TABLE IF NOT EXISTS {db}.provider_log
(
    provider_id LowCardinality(String),
    module_id   LowCardinality(String),
    event_type  LowCardinality(String),
    event_id    UUID,
    occurred_at DateTime64(3, 'UTC'),
    recorded_at DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    valid_from  Date,
    name        String,
    kind        LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (provider_id, module_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.provider_log_mv TO {db}.provider_log AS
SELECT
    stream_id AS provider_id,
    JSONExtractString(payload, 'module_id') AS module_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    toDate(JSONExtractString(payload, 'valid_from')) AS valid_from,
    JSONExtractString(payload, 'name') AS name,
    JSONExtractString(payload, 'kind') AS kind
FROM {db}.events
WHERE event_type IN ('ProviderRegistered', 'ModuleOffered');
