"""Read queries on the raw `events` table. Statistics (R01-R59) are not here: they live in `statistics/`, one
definition each."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from services.warehouse.clickhouse import ClickHouseClient


def stream_events(client: ClickHouseClient, database: str, stream_id: str) -> list[dict[str, Any]]:
    """Every stored event of one referral (or provider), in the order they happened."""
    sql = f"""
        SELECT event_id, event_type, schema_version, occurred_at, recorded_at, school_year, source_system,
               source_ref, actor, payload
        FROM {database}.events FINAL
        WHERE stream_id = {{stream:String}}
        ORDER BY occurred_at, recorded_at
    """
    result = client.query(sql, parameters={"stream": stream_id})
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
