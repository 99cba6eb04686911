"""Read queries on the warehouse. Statistic definitions are plain functions returning values; SQL binds parameters."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from schemas.codelists import allowed, label

MONTHS_NL = ["september", "oktober", "november", "december", "januari", "februari", "maart", "april", "mei",
             "juni", "juli", "augustus"]  # fmt: skip


def school_year_months(school_year: str) -> list[str]:
    """`2019-2020` -> ['2019-09', ..., '2020-08']: the report's September -> August axis."""
    start = int(school_year[:4])
    return [f"{start if m >= 9 else start + 1}-{m:02d}" for m in [*range(9, 13), *range(1, 9)]]


def referrals_per_month(client: Any, database: str, school_year: str, level: str | None = None) -> dict[str, Any]:
    """R01/R31: referrals per month of a school year, split by offer type (regular vs corona).

    Counts referral events (a pupil referred twice counts twice), every channel included.
    """
    where = ["event_type = 'ReferralSubmitted'", "school_year = {year:String}"]
    params: dict[str, Any] = {"year": school_year}
    if level is not None:
        where.append("JSONExtractString(payload, 'level') = {level:String}")
        params["level"] = level
    sql = f"""
        SELECT formatDateTime(toTimeZone(occurred_at, 'Europe/Brussels'), '%Y-%m') AS month,
               JSONExtractString(payload, 'offer_type') AS offer_type,
               count() AS referrals
        FROM {database}.events FINAL
        WHERE {" AND ".join(where)}
        GROUP BY month, offer_type
    """
    counts: dict[tuple[str, str], int] = {
        (month, offer): int(n) for month, offer, n in client.query(sql, parameters=params).result_rows
    }
    offers = allowed("offer_type")
    months = []
    for month, name in zip(school_year_months(school_year), MONTHS_NL, strict=True):
        split = {offer: counts.get((month, offer), 0) for offer in offers}
        months.append({"month": month, "label_nl": name, **split, "total": sum(split.values())})
    return {
        "statistic": "referrals_per_month",
        "school_year": school_year,
        "population": "individual referrals, every channel" + (f", level {level}" if level else ""),
        "offer_types": [{"code": o, "label_nl": label("offer_type", o)} for o in offers],
        "months": months,
        "total": sum(m["total"] for m in months),
    }


def stream_events(client: Any, database: str, stream_id: str) -> list[dict[str, Any]]:
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


def count_events(client: Any, database: str) -> int:
    return int(client.query(f"SELECT count() FROM {database}.events FINAL").result_rows[0][0])
