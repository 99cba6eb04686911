-- ReferralWithdrawn version 2 says what a withdrawal means (`kind`): `withdrawn` as the referral's outcome (it still
-- counts as a referral received, with the outcome "withdrawn" and its reason) or `retracted` as a registration error
-- (it counts nowhere). The referral fact log keeps it as `withdraw_kind`. An event stored before version 2 has no kind:
-- it is read from its reason exactly as the upcaster reads a version-1 event (schemas/referrals_v1.py):
-- entered_in_error and duplicate_referral are a retraction, every other reason a withdrawal.
-- The view gets the column (MODIFY QUERY keeps the view and its target table); the withdrawal rows already in the log
-- get it from the events they came from. The current state gets `withdrawn` and `withdraw_reason` (the referral's
-- latest withdrawal as outcome); a retracted referral stays out of it. The next migration (0011) refolds it.
ALTER TABLE {db}.referral_log ADD COLUMN IF NOT EXISTS withdraw_kind LowCardinality(String) DEFAULT '';

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
    if(event_type = 'AdviceGiven', JSONExtractString(payload, 'kind'), '') AS advice_kind,
    if(event_type != 'ReferralWithdrawn', '', if(JSONHas(payload, 'kind'), JSONExtractString(payload, 'kind'),
       if(JSONExtractString(payload, 'reason') IN ('entered_in_error', 'duplicate_referral'), 'retracted',
          'withdrawn'))) AS withdraw_kind
FROM {db}.events
WHERE event_type IN ('ReferralSubmitted', 'ReferralAmended', 'ReferralWithdrawn', 'AdviceGiven');

ALTER TABLE {db}.referral_log UPDATE withdraw_kind = if(event_id IN (
    SELECT event_id FROM {db}.events WHERE event_type = 'ReferralWithdrawn'
    AND if(JSONHas(payload, 'kind'), JSONExtractString(payload, 'kind') = 'retracted',
           JSONExtractString(payload, 'reason') IN ('entered_in_error', 'duplicate_referral'))), 'retracted', 'withdrawn')
WHERE event_type = 'ReferralWithdrawn' SETTINGS mutations_sync = 2;

ALTER TABLE {db}.referral_state ADD COLUMN IF NOT EXISTS withdrawn UInt8 DEFAULT 0 AFTER advice_kind;
ALTER TABLE {db}.referral_state ADD COLUMN IF NOT EXISTS withdraw_reason LowCardinality(String) DEFAULT '' AFTER withdrawn;
