"""The fact logs folded into one row per referral, trajectory, round table and group.

Every fold reads only rows of events recorded before `{as_of_ms}` (epoch ms; far in the future for "now"; an event
stored twice counts from its last copy on, `as_of.py`), for the referrals
and group referrals in its `Scope`: those of the school years `{years}` (a report, an as-of question, a rebuild), or
the given `{referral_ids}` / `{group_referral_ids}` (the writer refolding what a batch touched, `state.py`).
The latest row wins by `seq` (occurred_at, then recorded_at, as one number): the base row of an entity (its
submission or dispatch) is picked with `ORDER BY ... seq DESC LIMIT 1 BY id`, which also makes an event delivered
twice harmless; the few later facts (amendments, outcomes) are folded with argMaxIf and joined. An amendment
replaces only the fields it carries (`set_fields`); a referral withdrawn as its outcome stays (it was received:
`withdrawn`, `withdraw_reason`), a retracted registration is dropped (`withdraw_kind`, migration 0010). Every row
carries `source_system`, the system its referral (group referral) was registered in (0012). Each fold gives `row_id`,
a number unique per row, so statistics can count distinct units exactly and fast (the current-state tables replace
it with a hash of the entity's key).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.warehouse.profile_columns import PROFILE_FIELDS
from services.warehouse.statistics.as_of import known
from services.warehouse.statistics.filters import date_key_sql

YEARS = "school_year IN {years:Array(String)}"
BRUSSELS_DAY = "toDate(toTimeZone({column}, 'Europe/Brussels'))"

DISPATCH = "('TrajectoryDispatched', 'TrajectoryCarriedOver')"
WITHDRAWN = "event_type = 'ReferralWithdrawn' AND withdraw_kind = 'withdrawn'"  # the referral's outcome: it counts
RETRACTED = "event_type = 'ReferralWithdrawn' AND withdraw_kind = 'retracted'"  # a registration error: it does not
SUBMITTED_IN_YEARS = f"event_type = 'ReferralSubmitted' AND {YEARS}"


@dataclass(frozen=True)
class Scope:
    """Which referrals and group referrals a fold covers: those submitted in the school years `{years}`, or exactly
    the ids bound as `{referral_ids}` and `{group_referral_ids}` (retracted ones included: the folds drop them).

    A fold looks the referrals of the years up several times (each later fact, each `known` check): for a whole
    as-of report they are put once in `Set` tables (`referral_set`, `group_set`: `submitted_referrals` and
    `requested_groups` of the same years, `snapshot.py`), so each look-up probes the kept set instead of reading the
    submissions and building a set of ~200k ids again (the 10-million-event store's snapshot: ~2.6 -> ~1.9 s)."""

    by_ids: bool = False
    referral_set: str | None = None
    group_set: str | None = None

    def submissions(self) -> str:
        """Condition on a referral's submission rows."""
        return "referral_id IN {referral_ids:Array(String)}" if self.by_ids else YEARS

    def referrals(self, db: str) -> str:
        """Condition on any row keyed by `referral_id` (amendments, trajectories, round tables ...)."""
        if self.by_ids:
            return "referral_id IN {referral_ids:Array(String)}"
        if self.referral_set is not None:
            return f"referral_id IN {self.referral_set}"
        return f"referral_id IN ({submitted_referrals(db)})"

    def group_requests(self) -> str:
        return "group_referral_id IN {group_referral_ids:Array(String)}" if self.by_ids else YEARS

    def groups(self, db: str) -> str:
        """Condition on group trajectory rows."""
        if self.by_ids:
            return "group_referral_id IN {group_referral_ids:Array(String)}"
        if self.group_set is not None:
            return f"group_referral_id IN {self.group_set}"
        return f"group_referral_id IN ({requested_groups(db)})"


def submitted_referrals(db: str) -> str:
    """The referrals submitted in the school years `{years}`, as known as-of (one row per copy of a submission)."""
    return f"SELECT referral_id FROM {db}.referral_log WHERE {known(db, 'referral_log', SUBMITTED_IN_YEARS)}"


def requested_groups(db: str) -> str:
    """The group referrals requested for the school years `{years}`, as known as-of."""
    return f"SELECT group_referral_id FROM {db}.group_request_log WHERE {known(db, 'group_request_log', YEARS)}"


YEARS_SCOPE = Scope()
IDS_SCOPE = Scope(by_ids=True)


def referrals_fold(db: str, scope: Scope = YEARS_SCOPE) -> str:
    """One row per referral in scope, not retracted, with its current profile, whether it got advice only and whether
    it was withdrawn as its outcome (the latest withdrawal's reason)."""
    fields = ", ".join(PROFILE_FIELDS)
    patches = ", ".join(f"argMaxIf(tuple({f}), seq, has(set_fields, '{f}')).1 AS new_{f}, "
                        f"max(has(set_fields, '{f}')) AS set_{f}" for f in PROFILE_FIELDS)  # fmt: skip
    merged = ", ".join(f"if(a.set_{f}, a.new_{f}, s.{f}) AS {f}" for f in PROFILE_FIELDS)
    day = BRUSSELS_DAY.format(column="referred_at")
    return f"""
    SELECT *, rowNumberInAllBlocks() AS row_id, {day} AS referred_date,
           formatDateTime(referred_date, '%Y-%m') AS month, {date_key_sql("referred_date")} AS date_key,
           if(birth_year IS NULL, NULL, intDiv(toYear(referred_date) * 12 + toMonth(referred_date)
              - birth_year * 12 - birth_month, 12)) AS age
    FROM (
        SELECT s.referral_id AS referral_id, s.school_year AS school_year, s.occurred_at AS referred_at,
               s.source_system AS source_system, s.pupil_key AS pupil_key, s.household_key AS household_key,
               {merged}, adv.kind != '' AS advised,
               adv.kind AS advice_kind, wd.reason != '' AS withdrawn, wd.reason AS withdraw_reason
        FROM (
            SELECT referral_id, school_year, occurred_at, source_system, pupil_key, household_key, {fields}
            FROM {db}.referral_log
            WHERE {known(db, "referral_log", f"event_type = 'ReferralSubmitted' AND {scope.submissions()}")}
            ORDER BY referral_id, seq DESC LIMIT 1 BY referral_id
        ) AS s
        LEFT JOIN (
            SELECT referral_id, {patches} FROM {db}.referral_log
            WHERE {known(db, "referral_log", f"event_type = 'ReferralAmended' AND {scope.referrals(db)}")}
            GROUP BY referral_id
        ) AS a ON a.referral_id = s.referral_id
        LEFT JOIN (
            SELECT referral_id, argMax(advice_kind, seq) AS kind FROM {db}.referral_log
            WHERE {known(db, "referral_log", f"event_type = 'AdviceGiven' AND {scope.referrals(db)}")}
            GROUP BY referral_id
        ) AS adv ON adv.referral_id = s.referral_id
        LEFT JOIN (
            SELECT referral_id, argMax(withdraw_reason, seq) AS reason FROM {db}.referral_log
            WHERE {known(db, "referral_log", f"{WITHDRAWN} AND {scope.referrals(db)}")}
            GROUP BY referral_id
        ) AS wd ON wd.referral_id = s.referral_id
        WHERE s.referral_id NOT IN (
            SELECT referral_id FROM {db}.referral_log
            WHERE {known(db, "referral_log", f"{RETRACTED} AND {scope.referrals(db)}")})
    )"""


def trajectories_fold(db: str, referrals: str, scope: Scope = YEARS_SCOPE) -> str:
    """One row per dispatched (or carried-over) trajectory of the referrals in scope (`referrals`: their folded
    relation), its outcome, and the referral's columns (school year, level, channel, pupil ...). `offer_type` is the
    trajectory's own; a carry-over both dispatches and starts the new trajectory.

    A trajectory agreed at a round table and not started before any dispatch (a TrajectoryNotStarted without a
    dispatch: the pupil withdrew after the round table) is a row too, with `dispatched` 0, no provider or module and
    its referral's offer type: it is not an offered trajectory (statistics of offered trajectories read
    `dispatched` rows only, `query.StatisticQuery.trajectories`), but it is what became of its referral (R14/R47)."""
    dispatches = known(db, "trajectory_log", f"event_type IN {DISPATCH} AND {scope.referrals(db)}")
    return f"""
    SELECT d.trajectory_id AS trajectory_id, d.referral_id AS referral_id, d.provider_id AS provider_id,
           d.module_id AS module_id, if(d.dispatched, d.offer_type, r.offer_type) AS offer_type,
           d.dispatched_at AS dispatched_at, d.carried_over AS carried_over, d.dispatched AS dispatched,
           o.not_started AS not_started, o.not_started_reason AS not_started_reason,
           o.stopped_early AS stopped_early, o.early_stop_reason AS early_stop_reason, o.closed AS closed,
           o.perspective AS perspective, o.ended_at AS ended_at, o.duration_bucket AS duration_bucket,
           o.half_days_per_week AS half_days_per_week, o.class_hours AS class_hours, r.school_year AS school_year,
           r.level AS level, r.channel AS channel, r.source_system AS source_system, r.date_key AS date_key,
           r.pupil_key AS pupil_key, r.school_id AS school_id, r.education_form AS education_form,
           r.offer_type AS referral_offer_type, r.referred_at AS referred_at, rowNumberInAllBlocks() AS row_id,
           (o.has_start OR d.carried_over OR o.stopped_early OR o.closed) AND NOT o.not_started AS started,
           if(d.carried_over, d.dispatched_at, o.first_start) AS started_at,
           multiIf(o.not_started, 'not_started', o.stopped_early, 'stopped_early', o.closed, 'closed', started,
                   'running', 'waiting') AS status
    FROM (
        SELECT * FROM (
            SELECT trajectory_id, referral_id, provider_id, module_id, offer_type, occurred_at AS dispatched_at,
                   toUInt8(event_type = 'TrajectoryCarriedOver') AS carried_over, toUInt8(1) AS dispatched
            FROM {db}.trajectory_log WHERE {dispatches}
            ORDER BY trajectory_id, seq DESC LIMIT 1 BY trajectory_id)
        UNION ALL
        SELECT * FROM (
            SELECT trajectory_id, any(referral_id) AS of_referral, '' AS provider_id, '' AS module_id,
                   '' AS offer_type, min(occurred_at) AS dispatched_at, toUInt8(0) AS carried_over,
                   toUInt8(0) AS dispatched
            FROM {db}.trajectory_log
            WHERE {known(db, "trajectory_log", f"event_type = 'TrajectoryNotStarted' AND {scope.referrals(db)}")}
              AND trajectory_id NOT IN (SELECT trajectory_id FROM {db}.trajectory_log WHERE {dispatches})
            GROUP BY trajectory_id)
    ) AS d
    LEFT JOIN (
        SELECT trajectory_id AS outcome_of,
        max(event_type = 'TrajectoryStarted') AS has_start,
        minIf(occurred_at, event_type = 'TrajectoryStarted') AS first_start,
        max(event_type = 'TrajectoryNotStarted') AS not_started,
        argMaxIf(reason, seq, event_type = 'TrajectoryNotStarted') AS not_started_reason,
        max(event_type = 'TrajectoryStoppedEarly') AS stopped_early,
        argMaxIf(reason, seq, event_type = 'TrajectoryStoppedEarly') AS early_stop_reason,
        max(event_type = 'TrajectoryClosed') AS closed,
        argMaxIf(perspective, seq, event_type = 'TrajectoryClosed') AS perspective,
        minIf(occurred_at, event_type IN ('TrajectoryStoppedEarly', 'TrajectoryClosed')) AS ended_at,
        argMaxIf(duration_bucket, seq, duration_bucket IS NOT NULL) AS duration_bucket,
        argMaxIf(half_days_per_week, seq, half_days_per_week IS NOT NULL) AS half_days_per_week,
        argMaxIf(class_hours, seq, class_hours IS NOT NULL) AS class_hours
        FROM {db}.trajectory_log
        WHERE {known(db, "trajectory_log", f"event_type NOT IN {DISPATCH} AND {scope.referrals(db)}")}
        GROUP BY trajectory_id
    ) AS o ON o.outcome_of = d.trajectory_id
    INNER JOIN ({referrals}) AS r ON r.referral_id = d.referral_id"""


def round_tables_fold(db: str, referrals: str, scope: Scope = YEARS_SCOPE) -> str:
    """One row per round table of the referrals in scope: held (with outcomes), cancelled (reason) or planned."""
    return f"""
    SELECT rt.*, r.referral_id AS referral_id, r.school_year AS school_year, r.level AS level, r.channel AS channel,
           r.source_system AS source_system, r.date_key AS date_key,
           r.offer_type AS offer_type, r.education_form AS education_form, rowNumberInAllBlocks() AS row_id,
           multiIf(rt.cancelled, 'cancelled', rt.held, 'held', 'scheduled') AS status
    FROM (
        SELECT round_table_id, any(referral_id) AS of_referral,
        max(event_type = 'RoundTableHeld') AS held,
        argMaxIf(outcomes, seq, event_type = 'RoundTableHeld') AS outcomes,
        max(event_type = 'RoundTableCancelled') AS cancelled,
        argMaxIf(cancel_reason, seq, event_type = 'RoundTableCancelled') AS cancel_reason
        FROM {db}.round_table_log WHERE {known(db, "round_table_log", scope.referrals(db))}
        GROUP BY round_table_id
    ) AS rt
    INNER JOIN ({referrals}) AS r ON r.referral_id = rt.of_referral"""


def groups_fold(db: str, scope: Scope = YEARS_SCOPE) -> str:
    """One row per requested group with its latest dispatched group trajectory (or none yet), in the school year
    the request is for. Group offers have no corona variant: `offer_type` is 'regular'."""
    day = BRUSSELS_DAY.format(column="g.referred_at")
    return f"""
    SELECT g.*, gt.*, {day} AS referred_date, formatDateTime(referred_date, '%Y-%m') AS month,
           'regular' AS offer_type, rowNumberInAllBlocks() AS row_id,
           if(referred_date < makeDate(toUInt16(left(g.school_year, 4)), 9, 1), 0,
              {date_key_sql("referred_date")}) AS date_key,
           multiIf(gt.group_trajectory_id = '', 'not_dispatched', gt.not_started, 'not_started',
                   gt.stopped_early, 'stopped_early', gt.completed, 'completed', gt.started, 'running',
                   'waiting') AS status
    FROM (
        SELECT group_referral_id, group_id, school_year, occurred_at AS referred_at, channel, source_system, school_id,
               school_location, level, education_form, grade, bubao_type, buso_type, buso_training_form,
               group_kind, pupil_count, requested_module
        FROM {db}.group_request_log WHERE {known(db, "group_request_log", scope.group_requests())}
        ORDER BY group_referral_id, group_id, seq DESC LIMIT 1 BY group_referral_id, group_id
    ) AS g
    LEFT JOIN (
        SELECT group_referral_id AS gt_referral_id, group_id AS gt_group_id, group_trajectory_id,
        argMaxIf(provider_id, seq, event_type = 'GroupTrajectoryDispatched') AS provider_id,
        argMaxIf(module, seq, event_type = 'GroupTrajectoryDispatched') AS module,
        minIf(occurred_at, event_type = 'GroupTrajectoryDispatched') AS dispatched_at,
        max(event_type = 'GroupTrajectoryNotStarted') AS not_started,
        argMaxIf(reason, seq, event_type = 'GroupTrajectoryNotStarted') AS not_started_reason,
        max(event_type = 'GroupTrajectoryStoppedEarly') AS stopped_early,
        argMaxIf(reason, seq, event_type = 'GroupTrajectoryStoppedEarly') AS early_stop_reason,
        max(event_type = 'GroupTrajectoryCompleted') AS completed,
        (max(event_type = 'GroupTrajectoryStarted') OR stopped_early OR completed) AND NOT not_started AS started,
        argMaxIf(class_hours, seq, class_hours IS NOT NULL) AS class_hours,
        argMaxIf(pupils_reached, seq, pupils_reached IS NOT NULL) AS pupils_reached
        FROM {db}.group_trajectory_log
        WHERE {known(db, "group_trajectory_log", scope.groups(db))}
        GROUP BY group_referral_id, group_id, group_trajectory_id
        HAVING max(event_type = 'GroupTrajectoryDispatched')
        ORDER BY dispatched_at DESC, group_trajectory_id DESC
        LIMIT 1 BY gt_referral_id, gt_group_id
    ) AS gt ON gt.gt_referral_id = g.group_referral_id AND gt.gt_group_id = g.group_id"""


def provider_names_sql(db: str) -> str:
    """(provider_id, module_id, name, kind): providers (module_id '') and their modules, as known as-of."""
    return f"""
    SELECT provider_id, module_id, argMax(name, seq), argMax(kind, seq)
    FROM {db}.provider_log WHERE {known(db, "provider_log")}
    GROUP BY provider_id, module_id"""
