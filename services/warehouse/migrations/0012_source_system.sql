-- The envelope's source_system in the warehouse: the system a referral (or group referral) was registered in. The
-- report's views "registered in LARS" / "outside LARS" are about that system, not about the channel (DOMAIN §8: a
-- referral from a non-Brussels CLB that the desk typed into LARS is in the LARS view). Both fact logs of
-- registrations get the column (each row its own event's system; the folds take the submission's), their views
-- get it (MODIFY QUERY), and the rows already stored get it from their events through a Join table keyed by
-- event_id. Every current-state table gets it (trajectories and round tables carry their referral's); the next
-- migration (0013) refolds them.
ALTER TABLE {db}.referral_log ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT '' AFTER recorded_at;
ALTER TABLE {db}.group_request_log ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT ''
    AFTER recorded_at;

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

ALTER TABLE {db}.group_request_log_mv MODIFY QUERY
WITH JSONExtractString(payload, 'for_school_year') AS requested_year
SELECT
    if(requested_year = '', school_year, requested_year) AS school_year,
    stream_id AS group_referral_id,
    JSONExtractString(g, 'group_id') AS group_id,
    event_id,
    occurred_at,
    recorded_at,
    source_system,
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

CREATE TABLE IF NOT EXISTS {db}._source_system_of_event (event_id UUID, source_system String)
ENGINE = Join(ANY, LEFT, event_id);
INSERT INTO {db}._source_system_of_event
SELECT event_id, any(source_system) FROM {db}.events
WHERE event_type IN ('ReferralSubmitted', 'ReferralAmended', 'ReferralWithdrawn', 'AdviceGiven', 'GroupReferralSubmitted')
GROUP BY event_id;
ALTER TABLE {db}.referral_log UPDATE source_system = joinGet('{db}._source_system_of_event', 'source_system', event_id)
WHERE 1 SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE {db}.group_request_log UPDATE
    source_system = joinGet('{db}._source_system_of_event', 'source_system', event_id)
WHERE 1 SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
DROP TABLE {db}._source_system_of_event;

ALTER TABLE {db}.referral_state ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT '' AFTER channel;
ALTER TABLE {db}.trajectory_state ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT ''
    AFTER channel;
ALTER TABLE {db}.round_table_state ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT ''
    AFTER channel;
ALTER TABLE {db}.group_state ADD COLUMN IF NOT EXISTS source_system LowCardinality(String) DEFAULT '' AFTER channel;
