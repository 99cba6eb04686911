-- Current-state facts: one row per referral, trajectory, round table and requested group as known now, the fact
-- logs (0002-0005) folded by `services/warehouse/statistics/folds.py`. The writer refolds, after each batch, every
-- referral and group referral the batch touched (`services/warehouse/state.py`): it first writes a tombstone
-- (is_deleted = 1) over each row those referrals had, then their rows as folded now, one version higher. Read with
-- FINAL, a row that is folded again replaces its tombstone (same sorting key), a row that is no longer folded (a
-- withdrawn referral, a level corrected by an amendment) stays deleted. Statistics without an as-of date read these
-- tables; as-of questions still fold the logs (`recorded_at` before the date).
-- Partitioned by the referral's school year and sorted by level first: every statistic asks for one or two years of
-- one level. A tombstone has the partition of the row it deletes, so FINAL never needs to merge across partitions
-- (readers set do_not_merge_across_partitions_select_final: 10x faster here). `row_id` identifies a row for distinct
-- counts under ARRAY JOIN: a 64-bit SipHash of its key (a collision, odds about 1e-8 among a million rows, would
-- count two units as one; uniqExact on the key itself hashes too, and is 2x slower).
-- The rows are filled from the events already stored by the next migration (0008, a full rebuild).
CREATE TABLE IF NOT EXISTS {db}.referral_state
(
    referral_id                String,
    school_year                LowCardinality(String),
    referred_at                DateTime64(3, 'UTC'),
    pupil_key                  String,
    channel                    LowCardinality(String),
    referrer_id                String,
    offer_type                 LowCardinality(String),
    level                      LowCardinality(String),
    education_form             LowCardinality(String),
    grade                      LowCardinality(String),
    bubao_type                 LowCardinality(Nullable(String)),
    buso_type                  LowCardinality(Nullable(String)),
    buso_training_form         LowCardinality(Nullable(String)),
    gender                     LowCardinality(String),
    birth_year                 Nullable(UInt16),
    birth_month                Nullable(UInt8),
    school_id                  Nullable(String),
    school_location            LowCardinality(String),
    residence_postcode         LowCardinality(Nullable(String)),
    residence_municipality     LowCardinality(String),
    home_language              LowCardinality(String),
    home_language_code         LowCardinality(Nullable(String)),
    school_delay               LowCardinality(String),
    primary_schools_attended   Nullable(UInt8),
    secondary_schools_attended Nullable(UInt8),
    absence_b_half_days        Nullable(UInt16),
    absence_z_half_days        Nullable(UInt16),
    absence_other_half_days    Nullable(UInt16),
    risk_behaviours            Array(LowCardinality(String)),
    discipline                 LowCardinality(String),
    school_situation           Array(LowCardinality(String)),
    ambulant_care              Array(LowCardinality(String)),
    residential_setting        LowCardinality(String),
    support_network            Nullable(UInt8),
    advised                    UInt8,
    advice_kind                LowCardinality(String),
    referred_date              Date,
    month                      LowCardinality(String),
    date_key                   UInt32,
    age                        Nullable(Int64),
    row_id                     UInt64 DEFAULT sipHash64(referral_id),
    version                    UInt64,
    is_deleted                 UInt8,
    INDEX referral_idx referral_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY school_year
ORDER BY (level, referral_id);

CREATE TABLE IF NOT EXISTS {db}.trajectory_state
(
    trajectory_id              String,
    referral_id                String,
    provider_id                LowCardinality(String),
    module_id                  LowCardinality(String),
    offer_type                 LowCardinality(String),
    dispatched_at              DateTime64(3, 'UTC'),
    carried_over               UInt8,
    not_started                UInt8,
    not_started_reason         LowCardinality(String),
    stopped_early              UInt8,
    early_stop_reason          LowCardinality(String),
    closed                     UInt8,
    perspective                LowCardinality(String),
    ended_at                   DateTime64(3, 'UTC'),
    duration_bucket            LowCardinality(Nullable(String)),
    half_days_per_week         Nullable(Float64),
    class_hours                Nullable(Float64),
    school_year                LowCardinality(String),
    level                      LowCardinality(String),
    channel                    LowCardinality(String),
    date_key                   UInt32,
    pupil_key                  String,
    school_id                  Nullable(String),
    education_form             LowCardinality(String),
    referral_offer_type        LowCardinality(String),
    referred_at                DateTime64(3, 'UTC'),
    started                    UInt8,
    started_at                 DateTime64(3, 'UTC'),
    status                     LowCardinality(String),
    row_id                     UInt64 DEFAULT sipHash64(trajectory_id),
    version                    UInt64,
    is_deleted                 UInt8,
    INDEX referral_idx referral_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY school_year
ORDER BY (level, trajectory_id);

CREATE TABLE IF NOT EXISTS {db}.round_table_state
(
    round_table_id             String,
    referral_id                String,
    held                       UInt8,
    outcomes                   Array(LowCardinality(String)),
    cancelled                  UInt8,
    cancel_reason              LowCardinality(String),
    school_year                LowCardinality(String),
    level                      LowCardinality(String),
    channel                    LowCardinality(String),
    date_key                   UInt32,
    offer_type                 LowCardinality(String),
    education_form             LowCardinality(String),
    status                     LowCardinality(String),
    row_id                     UInt64 DEFAULT sipHash64(round_table_id),
    version                    UInt64,
    is_deleted                 UInt8,
    INDEX referral_idx referral_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY school_year
ORDER BY (level, round_table_id);

CREATE TABLE IF NOT EXISTS {db}.group_state
(
    group_referral_id          String,
    group_id                   String,
    school_year                LowCardinality(String),
    referred_at                DateTime64(3, 'UTC'),
    channel                    LowCardinality(String),
    school_id                  String,
    school_location            LowCardinality(String),
    level                      LowCardinality(String),
    education_form             LowCardinality(String),
    grade                      LowCardinality(String),
    bubao_type                 LowCardinality(Nullable(String)),
    buso_type                  LowCardinality(Nullable(String)),
    buso_training_form         LowCardinality(Nullable(String)),
    group_kind                 LowCardinality(String),
    pupil_count                UInt16,
    requested_module           LowCardinality(String),
    group_trajectory_id        String,
    provider_id                LowCardinality(String),
    module                     LowCardinality(String),
    dispatched_at              DateTime64(3, 'UTC'),
    not_started                UInt8,
    not_started_reason         LowCardinality(String),
    stopped_early              UInt8,
    early_stop_reason          LowCardinality(String),
    completed                  UInt8,
    started                    UInt8,
    class_hours                Nullable(Float64),
    pupils_reached             Nullable(UInt32),
    referred_date              Date,
    month                      LowCardinality(String),
    offer_type                 LowCardinality(String),
    date_key                   UInt32,
    status                     LowCardinality(String),
    row_id                     UInt64 DEFAULT sipHash64(group_referral_id, group_id),
    version                    UInt64,
    is_deleted                 UInt8,
    INDEX group_referral_idx group_referral_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version, is_deleted)
PARTITION BY school_year
ORDER BY (level, group_referral_id, group_id);
