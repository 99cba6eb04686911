-- The raw event log in ClickHouse: the warehouse's source of truth, one row per event.
-- Partitioned per school year (cross-year scans prune by partition), ordered for year/type queries.
-- ReplacingMergeTree on the sorting key (which ends with event_id): a re-delivered event collapses into one row;
-- queries read with FINAL (or argMax) so the count is exact before background merges run.
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id        UUID,
    event_type      LowCardinality(String),
    schema_version  UInt16,
    occurred_at     DateTime64(3, 'UTC'),
    recorded_at     DateTime64(3, 'UTC'),
    school_year     LowCardinality(String),
    source_system   LowCardinality(String),
    source_ref      String,
    actor           String,
    stream_id       String,
    payload         String CODEC(ZSTD(3)),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    written_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (event_type, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
