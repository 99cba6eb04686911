"""The live operational views answered from the warehouse (L3 waiting-time clocks, L4 referral status, L5 data
completeness): named SQL over the current-state facts (`referral_state`, `trajectory_state`, read FINAL, as the
statistics read them) and the fact logs for the dates the state does not keep; the rules themselves are pure
(`waiting_clocks`, `referral_status`, `completeness`). Every query narrows its rows to the reader's scope itself."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from core.auth import EVERYTHING, DataScope
from services.warehouse import completeness
from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics.query import QUERY_SETTINGS
from services.warehouse.waiting_clocks import ReferralFacts, TrajectoryFacts

DAY = "toDate(toTimeZone({}, 'Europe/Brussels'))"
WITHDRAWN = "event_type = 'ReferralWithdrawn' AND withdraw_kind = 'withdrawn'"


def _day_if(condition: str, moment: str, pick: str = "min") -> str:
    """A Brussels day of the first (`min`) or last (`max`) `moment` where `condition` holds; NULL when none does."""
    return f"if(countIf({condition}) > 0, {DAY.format(f'{pick}If({moment}, {condition})')}, NULL)"


def _referrals_sql(db: str, where: str) -> str:
    """One row per referral (current state, retracted ones out) with the dates of its advice, withdrawal and round
    tables, and the first day a trajectory agreed for it was not started before any dispatch (the warehouse keeps
    such a trajectory with `dispatched` 0, migration 0016)."""
    return f"""
    SELECT r.referral_id, r.school_year, r.referrer_id, r.offer_type, r.referred_date,
           if(r.advised, l.advised_on, NULL), if(r.withdrawn, l.withdrawn_on, NULL),
           rt.scheduled_on, rt.pending_since, rt.held_on, if(rt.decided, NULL, rt.held_on), u.undispatched_on
    FROM (SELECT * FROM {db}.referral_state FINAL WHERE {where}) AS r
    LEFT JOIN (
        SELECT referral_id, {_day_if("1", "dispatched_at")} AS undispatched_on
        FROM {db}.trajectory_state FINAL
        WHERE NOT dispatched AND referral_id IN (SELECT referral_id FROM {db}.referral_state FINAL WHERE {where})
        GROUP BY referral_id
    ) AS u ON u.referral_id = r.referral_id
    LEFT JOIN (
        SELECT referral_id, {_day_if("event_type = 'AdviceGiven'", "occurred_at")} AS advised_on,
               {_day_if(WITHDRAWN, "occurred_at", "max")} AS withdrawn_on
        FROM {db}.referral_log
        WHERE event_type IN ('AdviceGiven', 'ReferralWithdrawn')
          AND referral_id IN (SELECT referral_id FROM {db}.referral_state FINAL WHERE {where})
        GROUP BY referral_id
    ) AS l ON l.referral_id = r.referral_id
    LEFT JOIN (
        SELECT referral_id, {_day_if("scheduled", "scheduled_at")} AS scheduled_on,
               {_day_if("scheduled AND NOT held AND NOT cancelled", "scheduled_at")} AS pending_since,
               {_day_if("held", "held_at")} AS held_on, max(held AND has(outcomes, 'trajectories_to_start')) AS decided
        FROM (
            SELECT referral_id, round_table_id,
                   countIf(event_type = 'RoundTableScheduled') > 0 AS scheduled,
                   minIf(occurred_at, event_type = 'RoundTableScheduled') AS scheduled_at,
                   countIf(event_type = 'RoundTableHeld') > 0 AS held,
                   minIf(occurred_at, event_type = 'RoundTableHeld') AS held_at,
                   countIf(event_type = 'RoundTableCancelled') > 0 AS cancelled,
                   argMaxIf(outcomes, seq, event_type = 'RoundTableHeld') AS outcomes
            FROM {db}.round_table_log
            WHERE referral_id IN (SELECT referral_id FROM {db}.referral_state FINAL WHERE {where})
            GROUP BY referral_id, round_table_id
        )
        GROUP BY referral_id
    ) AS rt ON rt.referral_id = r.referral_id
    ORDER BY r.referrer_id, r.referred_date, r.referral_id"""


def _trajectories_sql(db: str, where: str) -> str:
    """The dispatched trajectories of those referrals (current state) with the day each was not started, if it was
    not (one agreed at a round table and not started before any dispatch is the referral's `undispatched` day)."""
    return f"""
    SELECT t.referral_id, t.trajectory_id, t.provider_id, t.module_id, t.offer_type, {DAY.format("t.dispatched_at")},
           t.carried_over, if(t.started AND toYear(t.started_at) > 1970, {DAY.format("t.started_at")}, NULL),
           if(t.not_started, n.not_started_on, NULL), t.not_started_reason,
           if((t.stopped_early OR t.closed) AND toYear(t.ended_at) > 1970, {DAY.format("t.ended_at")}, NULL),
           multiIf(t.stopped_early, 'stopped_early', t.closed, 'closed', '')
    FROM (SELECT * FROM {db}.trajectory_state FINAL
          WHERE dispatched AND referral_id IN (SELECT referral_id FROM {db}.referral_state FINAL WHERE {where})) AS t
    LEFT JOIN (
        SELECT trajectory_id, {_day_if("event_type = 'TrajectoryNotStarted'", "occurred_at")} AS not_started_on
        FROM {db}.trajectory_log
        WHERE event_type = 'TrajectoryNotStarted'
          AND referral_id IN (SELECT referral_id FROM {db}.referral_state FINAL WHERE {where})
        GROUP BY trajectory_id
    ) AS n ON n.trajectory_id = t.trajectory_id
    ORDER BY t.referral_id, t.dispatched_at, t.trajectory_id"""


def _where(school_year: str | None, referral_id: str | None, scope: DataScope) -> tuple[str, dict[str, Any]] | None:
    """The condition on `referral_state` rows for the question and the reader's scope (None: nothing to read). A
    provider reads no referral's status; a CLB its own referrals (the referrer as amended)."""
    if scope.providers is not None:
        return None
    parts: list[str] = []
    params: dict[str, Any] = {}
    if school_year is not None:
        parts.append("school_year = {year:String}")
        params["year"] = school_year
    if referral_id is not None:
        parts.append("referral_id = {referral:String}")
        params["referral"] = referral_id
    if scope.referrers is not None:
        parts.append("referrer_id IN {referrers:Array(String)}")
        params["referrers"] = sorted(scope.referrers)
    return " AND ".join(parts) or "1", params


def referral_facts(client: ClickHouseClient, db: str, school_year: str | None = None, referral_id: str | None = None,
                   scope: DataScope = EVERYTHING) -> list[ReferralFacts]:  # fmt: skip
    """The facts of the referrals of a school year (or of one referral) the reader may see, in referrer order. For the
    clocks, a provider's waits are narrowed afterwards (read with EVERYTHING, the waits filtered by provider)."""
    condition = _where(school_year, referral_id, scope)
    if condition is None:
        return []
    where, params = condition
    trajectories: dict[str, list[TrajectoryFacts]] = defaultdict(list)
    for row in client.query(_trajectories_sql(db, where), parameters=params, settings=QUERY_SETTINGS).result_rows:
        rid, tid, provider, module, offer, dispatched, carried, started, not_started, reason, ended, ending = row
        reason = reason if not_started else ""
        trajectories[rid].append(TrajectoryFacts(tid, provider, module, offer, dispatched, bool(carried), started,
                                                 not_started, reason, ended, ending))  # fmt: skip
    out = []
    for row in client.query(_referrals_sql(db, where), parameters=params, settings=QUERY_SETTINGS).result_rows:
        rid, year, referrer, offer, referred, advised, withdrawn, scheduled, pending, held, *no_trajectory_days = row
        no_trajectory = min((d for d in no_trajectory_days if d is not None), default=None)
        out.append(ReferralFacts(rid, offer, referred, advised, withdrawn, scheduled, pending, held, no_trajectory,
                                 tuple(trajectories.get(rid, ())), referrer, year))  # fmt: skip
    return out


# -- L5 -------------------------------------------------------------------------------------------------------------
def _trajectory_gaps_sql(db: str) -> str:
    checks = ", ".join(f"if({cond}, '{name}', '')" for name, (cond, _) in completeness.TRAJECTORY_GAPS.items())
    return f"""
    SELECT gap, trajectory_id, referral_id, provider_id, source_system, '' FROM (
        SELECT trajectory_id, referral_id, provider_id, source_system, arrayJoin([{checks}]) AS gap
        FROM {db}.trajectory_state FINAL WHERE school_year = {{year:String}}
    ) WHERE gap != ''
    ORDER BY gap, provider_id, trajectory_id"""


def _referral_gaps_sql(db: str) -> str:
    return f"""
    SELECT referral_id, referrer_id, source_system, missing FROM (
        SELECT referral_id, referrer_id, source_system, {completeness.missing_fields_sql()} AS missing
        FROM {db}.referral_state FINAL WHERE school_year = {{year:String}}
    ) WHERE length(missing) > 0
    ORDER BY source_system, referral_id"""


def _stuck_sql(db: str) -> str:
    """Trajectory events (start, progress, stop, closure) whose trajectory has no dispatch (or carry-over) in the
    store, recorded more than `{days}` days ago: out of order, and not healed by a late dispatch. A not-started
    without a dispatch is no gap: a trajectory agreed at a round table may end so (migration 0016)."""
    return f"""
    SELECT event_type, JSONExtractString(payload, 'trajectory_id') AS trajectory_id, stream_id, source_system,
           toString(event_id), {DAY.format("occurred_at")}
    FROM {db}.events FINAL
    WHERE event_type IN ('TrajectoryStarted', 'TrajectoryProgressReported', 'TrajectoryStoppedEarly',
                         'TrajectoryClosed')
      AND recorded_at < now64(3) - toIntervalDay({{days:UInt32}})
      AND trajectory_id NOT IN (SELECT trajectory_id FROM {db}.trajectory_log
                                WHERE event_type IN ('TrajectoryDispatched', 'TrajectoryCarriedOver'))
    ORDER BY source_system, occurred_at, trajectory_id"""


def completeness_rows(client: ClickHouseClient, db: str, school_year: str, stuck_days: int) -> list[dict[str, Any]]:
    """Every gap as one row: check, the id to fix, its referral, provider ('' for a referral), source system and
    detail (the missing fields, or the stuck event's type and day). The desk's view: no scope narrows it."""
    rows: list[dict[str, Any]] = []
    params = {"year": school_year}
    for gap, tid, rid, provider, system, _ in client.query(
            _trajectory_gaps_sql(db), parameters=params, settings=QUERY_SETTINGS).result_rows:  # fmt: skip
        rows.append({"check": gap, "id": tid, "referral_id": rid, "provider_id": provider, "source_system": system,
                     "detail": None})  # fmt: skip
    for rid, _referrer, system, missing in client.query(
            _referral_gaps_sql(db), parameters=params, settings=QUERY_SETTINGS).result_rows:  # fmt: skip
        rows.append({"check": completeness.REFERRAL_GAP[0], "id": rid, "referral_id": rid, "provider_id": "",
                     "source_system": system, "detail": ", ".join(missing)})  # fmt: skip
    for kind, tid, rid, system, event_id, day in client.query(
            _stuck_sql(db), parameters={"days": stuck_days}, settings=QUERY_SETTINGS).result_rows:  # fmt: skip
        rows.append({"check": completeness.STUCK[0], "id": tid, "referral_id": rid, "provider_id": "",
                     "source_system": system, "detail": f"{kind} {day.isoformat()} (event {event_id})"})  # fmt: skip
    return rows

