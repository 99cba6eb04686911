-- A minmax skip index on recorded_at in every fact log. As-of folds count an event from its last copy's recorded_at
-- on (statistics/as_of.py): they look for copies recorded on or after the day asked, and this index skips every
-- granule recorded before it (for "now", all of them) instead of reading the column.

ALTER TABLE {db}.referral_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.referral_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
ALTER TABLE {db}.trajectory_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.trajectory_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
ALTER TABLE {db}.round_table_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.round_table_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
ALTER TABLE {db}.group_request_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.group_request_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
ALTER TABLE {db}.group_trajectory_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.group_trajectory_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
ALTER TABLE {db}.provider_log ADD INDEX IF NOT EXISTS recorded_at_minmax recorded_at TYPE minmax GRANULARITY 1;
ALTER TABLE {db}.provider_log MATERIALIZE INDEX recorded_at_minmax SETTINGS mutations_sync = 2;
