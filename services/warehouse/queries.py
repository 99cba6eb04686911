"""Read queries on the raw `events` table. Statistics (R01-R59) are not here: they live in `statistics/`, one
definition each. Every query takes the reader's scope (`core.auth.DataScope`) and narrows its rows itself."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from core.auth import DataScope
from services.warehouse.clickhouse import ClickHouseClient


def _owned_stream(database: str) -> str:
    """Condition: `{stream}` is a referral (its referrer as amended) or a group referral of `{referrers}`."""
    return f"""(
        {{stream:String}} IN (
            SELECT referral_id FROM {database}.referral_log
            WHERE referral_id = {{stream:String}} AND has(set_fields, 'referrer_id')
            GROUP BY referral_id HAVING argMax(referrer_id, seq) IN {{referrers:Array(String)}})
        OR {{stream:String}} IN (
            SELECT group_referral_id FROM {database}.group_request_log
            WHERE group_referral_id = {{stream:String}} AND referrer_id IN {{referrers:Array(String)}}))"""


def _scope_condition(database: str, scope: DataScope) -> tuple[str, dict[str, Any]] | None:
    """The SQL condition on one stream for `scope`, or None when the scope sees no history at all. A provider reads
    no referral's history (its profile is the referrer's and the desk's business); the live views show it its own
    trajectories."""
    if scope.unrestricted:
        return "1", {}
    if scope.providers is not None or not scope.referrers:
        return None
    return _owned_stream(database), {"referrers": sorted(scope.referrers)}


def stream_events(client: ClickHouseClient, database: str, stream_id: str, scope: DataScope) -> list[dict[str, Any]]:
    """Every stored event of one referral (or group referral, or provider) in the order they happened; nothing when
    the stream is outside the reader's scope (the caller cannot tell it from an unknown id)."""
    condition = _scope_condition(database, scope)
    if condition is None:
        return []
    where, params = condition
    sql = f"""
        SELECT event_id, event_type, schema_version, occurred_at, recorded_at, school_year, source_system,
               source_ref, actor, payload
        FROM {database}.events FINAL
        WHERE stream_id = {{stream:String}} AND {where}
        ORDER BY occurred_at, recorded_at
    """
    result = client.query(sql, parameters={"stream": stream_id, **params})
    out = []
    for row in result.result_rows:
        item = dict(zip(result.column_names, row, strict=True))
        item["event_id"] = str(item["event_id"])
        item["payload"] = json.loads(item["payload"])
        for moment in ("occurred_at", "recorded_at"):  # stored in UTC; say so, never hand out a naive time
            if item[moment].tzinfo is None:
                item[moment] = item[moment].replace(tzinfo=UTC)
        out.append(item)
    return out


def referral_erased(client: ClickHouseClient, database: str, referral_id: str) -> bool:
    """Whether the pupil of this referral has been erased (PupilErased: its reference is in `pupil_erasures`)."""
    sql = f"""
        SELECT count() FROM {database}.referral_log
        WHERE referral_id = {{referral:String}} AND event_type = 'ReferralSubmitted'
          AND pupil_key IN (SELECT pupil_ref FROM {database}.pupil_erasures)
    """
    return bool(client.query(sql, parameters={"referral": referral_id}).result_rows[0][0])


def referral_in_scope(client: ClickHouseClient, database: str, referral_id: str, scope: DataScope) -> bool:
    """Whether the reader's scope covers this referral (e.g. a CLB asking for a trajectory of it)."""
    condition = _scope_condition(database, scope)
    if condition is None:
        return False
    where, params = condition
    if where == "1":
        return True
    rows = client.query(f"SELECT {where}", parameters={"stream": referral_id, **params}).result_rows
    return bool(rows and rows[0][0])
