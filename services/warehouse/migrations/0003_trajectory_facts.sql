-- Fact log of individual trajectories: one typed row per trajectory event (dispatched, started, not started,
-- progress, stopped early, closed, carried over). Folded per trajectory at query time (argMaxIf over
-- (occurred_at, recorded_at), recorded_at filtered for as-of); a carry-over both dispatches and starts the new
-- trajectory. Duplicated events are harmless (argMax / uniqExact; ReplacingMergeTree on event_id).
-- Sorted by event type, then referral: the fold reads the dispatches and the outcomes as separate ranges.
CREATE TABLE IF NOT EXISTS {db}.trajectory_log
(
    school_year            LowCardinality(String),
    referral_id            String,
    trajectory_id          String,
    event_type             LowCardinality(String),
    event_id               UUID,
    occurred_at            DateTime64(3, 'UTC'),
    recorded_at            DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    provider_id            LowCardinality(String),
    module_id              LowCardinality(String),
    offer_type             LowCardinality(String),
    half_days_per_week     Nullable(Float64),
    class_hours            Nullable(Float64),
    duration_bucket        LowCardinality(Nullable(String)),
    reason                 LowCardinality(String),
    perspective            LowCardinality(String),
    previous_trajectory_id String
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (event_type, referral_id, trajectory_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.trajectory_log_mv TO {db}.trajectory_log AS
SELECT
    school_year,
    JSONExtractString(payload, 'referral_id') AS referral_id,
    JSONExtractString(payload, 'trajectory_id') AS trajectory_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    JSONExtractString(payload, 'provider_id') AS provider_id,
    JSONExtractString(payload, 'module_id') AS module_id,
    JSONExtractString(payload, 'offer_type') AS offer_type,
    JSONExtract(payload, 'half_days_per_week', 'Nullable(Float64)') AS half_days_per_week,
    JSONExtract(payload, 'class_hours', 'Nullable(Float64)') AS class_hours,
    JSONExtract(payload, 'duration_bucket', 'Nullable(String)') AS duration_bucket,
    JSONExtractString(payload, 'reason') AS reason,
    JSONExtractString(payload, 'perspective') AS perspective,
    JSONExtractString(payload, 'previous_trajectory_id') AS previous_trajectory_id
FROM {db}.events
WHERE event_type IN ('TrajectoryDispatched', 'TrajectoryStarted', 'TrajectoryNotStarted', 'TrajectoryProgressReported',
                     'TrajectoryStoppedEarly', 'TrajectoryClosed', 'TrajectoryCarriedOver');
