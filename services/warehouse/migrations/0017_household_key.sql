-- The household key (ReferralSubmitted v4, issue 14 rule 3): the keyed hash of the pupil's address, derived at the
-- ingest (schemas/households.py); the address itself never reaches the log. The referral fact log keeps it from the
-- submission ('' when the source sent no address, or for events before version 4: each such referral is a household
-- of its own in R06); the current state carries the submission's. No stored event has one yet, so nothing is
-- backfilled; the next migration (0018) refolds the current state.
ALTER TABLE {db}.referral_log ADD COLUMN IF NOT EXISTS household_key String DEFAULT '' AFTER pupil_key;
ALTER TABLE {db}.referral_state ADD COLUMN IF NOT EXISTS household_key String DEFAULT '' AFTER pupil_key;

ALTER TABLE {db}.referral_log_mv MODIFY QUERY
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
    source_system,
    multiIf(event_type = 'ReferralSubmitted', keys,
            event_type = 'ReferralAmended' AND has(keys, 'residence_postcode'),
            arrayDistinct(arrayPushBack(keys, 'residence_municipality')),
            event_type = 'ReferralAmended', keys, []) AS set_fields,
    if(JSONHas(p, 'pupil_ref'), JSONExtractString(p, 'pupil_ref'), JSONExtractString(p, 'pupil_key')) AS pupil_key,
    JSONExtractString(p, 'household_key') AS household_key,
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
    if(event_type = 'AdviceGiven', JSONExtractString(payload, 'kind'), '') AS advice_kind,
    if(event_type != 'ReferralWithdrawn', '', if(JSONHas(payload, 'kind'), JSONExtractString(payload, 'kind'),
       if(JSONExtractString(payload, 'reason') IN ('entered_in_error', 'duplicate_referral'), 'retracted',
          'withdrawn'))) AS withdraw_kind
FROM {db}.events
WHERE event_type IN ('ReferralSubmitted', 'ReferralAmended', 'ReferralWithdrawn', 'AdviceGiven');
