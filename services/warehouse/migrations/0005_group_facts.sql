-- Fact logs of group referrals and group trajectories (DOMAIN §6).
-- group_request_log: one row per group of a GroupReferralSubmitted (ARRAY JOIN of its groups), in the school year
-- the request is for (the payload's for_school_year: May-August requests may be for the next year).
-- group_trajectory_log: one row per group trajectory event; it belongs to its group referral's year.
-- Folded at query time (argMaxIf, recorded_at filtered for as-of); duplicates are harmless as in every fact log.
CREATE TABLE IF NOT EXISTS {db}.group_request_log
(
    school_year           LowCardinality(String),
    group_referral_id     String,
    group_id              String,
    event_id              UUID,
    occurred_at           DateTime64(3, 'UTC'),
    recorded_at           DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    channel               LowCardinality(String),
    referrer_id           String,
    school_id             String,
    school_location       LowCardinality(String),
    level                 LowCardinality(String),
    education_form        LowCardinality(String),
    grade                 LowCardinality(String),
    bubao_type            LowCardinality(Nullable(String)),
    buso_type             LowCardinality(Nullable(String)),
    buso_training_form    LowCardinality(Nullable(String)),
    group_kind            LowCardinality(String),
    pupil_count           UInt16,
    requested_module      LowCardinality(String),
    preferred_provider_id LowCardinality(Nullable(String)),
    class_action_theme    LowCardinality(Nullable(String))
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (group_referral_id, group_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.group_request_log_mv TO {db}.group_request_log AS
WITH JSONExtractString(payload, 'for_school_year') AS requested_year
SELECT
    if(requested_year = '', school_year, requested_year) AS school_year,
    stream_id AS group_referral_id,
    JSONExtractString(g, 'group_id') AS group_id,
    event_id,
    occurred_at,
    recorded_at,
    JSONExtractString(payload, 'channel') AS channel,
    JSONExtractString(payload, 'referrer_id') AS referrer_id,
    JSONExtractString(g, 'school_id') AS school_id,
    JSONExtractString(g, 'school_location') AS school_location,
    JSONExtractString(g, 'level') AS level,
    JSONExtractString(g, 'education_form') AS education_form,
    JSONExtractString(g, 'grade') AS grade,
    JSONExtract(g, 'bubao_type', 'Nullable(String)') AS bubao_type,
    JSONExtract(g, 'buso_type', 'Nullable(String)') AS buso_type,
    JSONExtract(g, 'buso_training_form', 'Nullable(String)') AS buso_training_form,
    JSONExtractString(g, 'group_kind') AS group_kind,
    JSONExtract(g, 'pupil_count', 'UInt16') AS pupil_count,
    JSONExtractString(g, 'requested_module') AS requested_module,
    JSONExtract(g, 'preferred_provider_id', 'Nullable(String)') AS preferred_provider_id,
    JSONExtract(g, 'class_action_theme', 'Nullable(String)') AS class_action_theme
FROM {db}.events
ARRAY JOIN JSONExtractArrayRaw(payload, 'groups') AS g
WHERE event_type = 'GroupReferralSubmitted';

CREATE TABLE IF NOT EXISTS {db}.group_trajectory_log
(
    school_year         LowCardinality(String),
    group_referral_id   String,
    group_id            String,
    group_trajectory_id String,
    event_type          LowCardinality(String),
    event_id            UUID,
    occurred_at         DateTime64(3, 'UTC'),
    recorded_at         DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    provider_id         LowCardinality(String),
    module              LowCardinality(String),
    reason              LowCardinality(String),
    class_hours         Nullable(Float64),
    pupils_reached      Nullable(UInt32)
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (group_referral_id, group_id, group_trajectory_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.group_trajectory_log_mv TO {db}.group_trajectory_log AS
SELECT
    school_year,
    stream_id AS group_referral_id,
    JSONExtractString(payload, 'group_id') AS group_id,
    JSONExtractString(payload, 'group_trajectory_id') AS group_trajectory_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    JSONExtractString(payload, 'provider_id') AS provider_id,
    JSONExtractString(payload, 'module') AS module,
    JSONExtractString(payload, 'reason') AS reason,
    JSONExtract(payload, 'class_hours', 'Nullable(Float64)') AS class_hours,
    JSONExtract(payload, 'pupils_reached', 'Nullable(UInt32)') AS pupils_reached
FROM {db}.events
WHERE event_type IN ('GroupTrajectoryDispatched', 'GroupTrajectoryStarted', 'GroupTrajectoryNotStarted',
                     'GroupTrajectoryStoppedEarly', 'GroupTrajectoryCompleted');
