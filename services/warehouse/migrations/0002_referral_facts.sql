-- Fact log of individual referrals: one typed row per ReferralSubmitted / ReferralAmended / ReferralWithdrawn /
-- AdviceGiven event, kept current by a materialized view on `events` (and backfilled by the migration runner with the
-- view's own SELECT: a view only sees new inserts). Statistics fold it per referral with argMaxIf over
-- (occurred_at, recorded_at), filtered by recorded_at for as-of questions: an amendment replaces exactly the fields
-- it carries (`set_fields`), a withdrawal drops the referral. A duplicated event gives a duplicated row; the folds
-- (argMax, uniqExact) make that harmless, and the ReplacingMergeTree sorting key ends with event_id so merges remove
-- it too.
-- Multi-selects keep "not registered" visible: a null list is stored as ['not_registered'], an empty one as [].
-- school_year is the event's year (the referral's own year for the submission row): partitions prune the
-- "referrals of year X" lookup; sorted by event type first, so the fold reads the submissions, and the few
-- amendments, withdrawals and advices, each as one contiguous range.
CREATE TABLE IF NOT EXISTS {db}.referral_log
(
    school_year                LowCardinality(String),
    referral_id                String,
    event_type                 LowCardinality(String),
    event_id                   UUID,
    occurred_at                DateTime64(3, 'UTC'),
    recorded_at                DateTime64(3, 'UTC'),
    -- Version of the row: (occurred_at, recorded_at) as one number, for argMax and "latest first" ordering.
    seq                        UInt128 MATERIALIZED toUInt128(toUnixTimestamp64Milli(occurred_at)) * 10000000000000
                                   + toUInt128(toUnixTimestamp64Milli(recorded_at)),
    set_fields                 Array(LowCardinality(String)),
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
    withdraw_reason            LowCardinality(String),
    advice_kind                LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY school_year
ORDER BY (event_type, referral_id, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.referral_log_mv TO {db}.referral_log AS
WITH
    if(event_type = 'ReferralAmended', JSONExtractRaw(payload, 'changes'), payload) AS p,
    JSONExtractKeys(p) AS keys
SELECT
    school_year,
    stream_id AS referral_id,
    event_type,
    event_id,
    occurred_at,
    recorded_at,
    multiIf(event_type = 'ReferralSubmitted', keys,
            event_type = 'ReferralAmended' AND has(keys, 'residence_postcode'),
            arrayDistinct(arrayPushBack(keys, 'residence_municipality')),
            event_type = 'ReferralAmended', keys, []) AS set_fields,
    JSONExtractString(p, 'pupil_key') AS pupil_key,
    JSONExtractString(p, 'channel') AS channel,
    JSONExtractString(p, 'referrer_id') AS referrer_id,
    JSONExtractString(p, 'offer_type') AS offer_type,
    JSONExtractString(p, 'level') AS level,
    JSONExtractString(p, 'education_form') AS education_form,
    JSONExtractString(p, 'grade') AS grade,
    JSONExtract(p, 'bubao_type', 'Nullable(String)') AS bubao_type,
    JSONExtract(p, 'buso_type', 'Nullable(String)') AS buso_type,
    JSONExtract(p, 'buso_training_form', 'Nullable(String)') AS buso_training_form,
    JSONExtractString(p, 'gender') AS gender,
    JSONExtract(p, 'birth_year', 'Nullable(UInt16)') AS birth_year,
    JSONExtract(p, 'birth_month', 'Nullable(UInt8)') AS birth_month,
    JSONExtract(p, 'school_id', 'Nullable(String)') AS school_id,
    JSONExtractString(p, 'school_location') AS school_location,
    JSONExtract(p, 'residence_postcode', 'Nullable(String)') AS residence_postcode,
    if(JSONExtractString(p, 'residence_municipality') = '', 'unknown',
       JSONExtractString(p, 'residence_municipality')) AS residence_municipality,
    JSONExtractString(p, 'home_language') AS home_language,
    JSONExtract(p, 'home_language_code', 'Nullable(String)') AS home_language_code,
    JSONExtractString(p, 'school_delay') AS school_delay,
    JSONExtract(p, 'primary_schools_attended', 'Nullable(UInt8)') AS primary_schools_attended,
    JSONExtract(p, 'secondary_schools_attended', 'Nullable(UInt8)') AS secondary_schools_attended,
    JSONExtract(p, 'absence_b_half_days', 'Nullable(UInt16)') AS absence_b_half_days,
    JSONExtract(p, 'absence_z_half_days', 'Nullable(UInt16)') AS absence_z_half_days,
    JSONExtract(p, 'absence_other_half_days', 'Nullable(UInt16)') AS absence_other_half_days,
    if(JSONType(p, 'risk_behaviours') = 'Array', JSONExtract(p, 'risk_behaviours', 'Array(String)'),
       ['not_registered']) AS risk_behaviours,
    JSONExtractString(p, 'discipline') AS discipline,
    if(JSONType(p, 'school_situation') = 'Array', JSONExtract(p, 'school_situation', 'Array(String)'),
       ['not_registered']) AS school_situation,
    if(JSONType(p, 'ambulant_care') = 'Array', JSONExtract(p, 'ambulant_care', 'Array(String)'),
       ['not_registered']) AS ambulant_care,
    JSONExtractString(p, 'residential_setting') AS residential_setting,
    JSONExtract(p, 'support_network', 'Nullable(UInt8)') AS support_network,
    if(event_type = 'ReferralWithdrawn', JSONExtractString(payload, 'reason'), '') AS withdraw_reason,
    if(event_type = 'AdviceGiven', JSONExtractString(payload, 'kind'), '') AS advice_kind
FROM {db}.events
WHERE event_type IN ('ReferralSubmitted', 'ReferralAmended', 'ReferralWithdrawn', 'AdviceGiven');
