"""The benchmark's reference: the same report computed naively in pandas from the raw events.

Loads the raw events of the year, the year before and the year after (amendments and closures can come later),
parses every payload, folds referrals (amendments in order, retractions out), trajectories, round tables and
groups in pandas, then computes each statistic's table (a group-by over its dimensions) and total. The totals are
compared with ClickHouse's (`bench_report._agreement`), so the reference is also a cross-check.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from services.warehouse.clickhouse import ClickHouseClient
from services.warehouse.statistics.registry import REPORT_STATISTICS

TRAJECTORY = ("TrajectoryDispatched", "TrajectoryCarriedOver")
STARTS = ("TrajectoryStarted", "TrajectoryCarriedOver")


def _events(client: ClickHouseClient, database: str, school_year: str) -> pd.DataFrame:
    start = int(school_year[:4])
    years = [f"{y}-{y + 1}" for y in (start - 1, start, start + 1)]
    df = client.query_df(
        f"SELECT event_id, event_type, occurred_at, recorded_at, school_year, stream_id, payload "
        f"FROM {database}.events WHERE school_year IN {{years:Array(String)}}",
        parameters={"years": years},
    )
    df = df.drop_duplicates("event_id").sort_values(["occurred_at", "recorded_at"], kind="stable")
    df["p"] = [json.loads(text) for text in df["payload"]]
    return df


def _retraction(payload: dict[str, Any]) -> bool:
    """A stored withdrawal that retracts the registration: version 2 says so; version 1 (no kind) by its reason."""
    if "kind" in payload:
        return bool(payload["kind"] == "retracted")
    return payload["reason"] in ("entered_in_error", "duplicate_referral")


def _referrals(df: pd.DataFrame) -> pd.DataFrame:
    subs = df[df.event_type == "ReferralSubmitted"]
    ref = pd.DataFrame.from_records(list(subs.p), index=subs.stream_id.to_numpy()).astype(object)
    ref["school_year"] = subs.school_year.to_numpy()
    ref["referred_at"] = pd.to_datetime(subs.occurred_at.to_numpy(), utc=True).tz_convert("Europe/Brussels")
    ref = ref[~ref.index.duplicated(keep="last")]
    if "pupil_ref" in ref:  # since ReferralSubmitted v3 the pupil is its reference (older events: the pupil key)
        ref["pupil_key"] = ref["pupil_ref"].where(ref["pupil_ref"].notna(), ref.get("pupil_key"))
    for rid, changes in zip(df[df.event_type == "ReferralAmended"].stream_id, df[df.event_type == "ReferralAmended"].p,
                            strict=True):  # fmt: skip
        if rid in ref.index:
            for field, value in changes["changes"].items():
                ref.at[rid, field] = value
    withdrawals = df[df.event_type == "ReferralWithdrawn"]
    retracted = {rid for rid, p in zip(withdrawals.stream_id, withdrawals.p, strict=True) if _retraction(p)}
    ref = ref.drop(index=list(retracted & set(ref.index)))  # a referral withdrawn as its outcome stays
    ref["advised"] = ref.index.isin(set(df[df.event_type == "AdviceGiven"].stream_id))
    ref["month"] = ref.referred_at.dt.strftime("%Y-%m")
    ref["age"] = (ref.referred_at.dt.year * 12 + ref.referred_at.dt.month - ref.birth_year * 12 - ref.birth_month) // 12
    return ref


def _trajectories(df: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    t = df[df.event_type.str.startswith("Trajectory")]
    t = t.assign(tid=[p["trajectory_id"] for p in t.p], rid=[p["referral_id"] for p in t.p])
    d = t[t.event_type.isin(TRAJECTORY)].drop_duplicates("tid", keep="last").set_index("tid")
    out = pd.DataFrame({"rid": d.rid, "provider": [p["provider_id"] for p in d.p],
                        "module": [p["module_id"] for p in d.p], "offer": [p["offer_type"] for p in d.p]})  # fmt: skip
    kinds = t.groupby("tid").event_type.apply(frozenset).reindex(out.index)
    out["not_started"] = [("TrajectoryNotStarted" in k) for k in kinds]
    out["stopped"] = [("TrajectoryStoppedEarly" in k) for k in kinds]
    out["closed"] = [("TrajectoryClosed" in k) for k in kinds]
    out["started"] = [bool(k & {*STARTS, "TrajectoryStoppedEarly", "TrajectoryClosed"}) for k in kinds]
    out["started"] &= ~out.not_started
    for field in ("duration_bucket", "half_days_per_week"):
        known = t[[p.get(field) is not None for p in t.p]]
        out[field] = pd.Series([p[field] for p in known.p], index=known.tid).groupby(level=0).last()
    return out[out.rid.isin(ref.index)].join(ref[["level", "school_year", "pupil_key", "school_id"]], on="rid")


def _groups(df: pd.DataFrame) -> pd.DataFrame:
    subs = df[df.event_type == "GroupReferralSubmitted"]
    rows = [{**g, "grid": p["group_referral_id"], "school_year": p["for_school_year"]} for p in subs.p
            for g in p["groups"]]  # fmt: skip
    groups = pd.DataFrame(rows).drop_duplicates(["grid", "group_id"], keep="last").set_index(["grid", "group_id"])
    t = df[df.event_type.str.startswith("GroupTrajectory")]
    keys = [(p["group_referral_id"], p["group_id"]) for p in t.p]
    events = pd.Series(t.event_type.to_numpy(), index=pd.MultiIndex.from_tuples(keys))
    kinds = events.groupby(level=[0, 1]).apply(frozenset)
    groups["dispatched"] = [("GroupTrajectoryDispatched" in k) for k in kinds.reindex(groups.index, fill_value=set())]
    groups["not_started"] = [("GroupTrajectoryNotStarted" in k) for k in kinds.reindex(groups.index, fill_value=set())]
    starts = {"GroupTrajectoryStarted", "GroupTrajectoryStoppedEarly", "GroupTrajectoryCompleted"}
    groups["started"] = [bool(k & starts) for k in kinds.reindex(groups.index, fill_value=set())]
    groups["started"] &= ~groups.not_started
    groups["stopped"] = [("GroupTrajectoryStoppedEarly" in k) for k in kinds.reindex(groups.index, fill_value=set())]
    for field in ("module", "class_hours", "pupils_reached"):
        known = [(key, p[field]) for key, p in zip(keys, t.p, strict=True) if p.get(field) is not None]
        index = pd.MultiIndex.from_tuples([k for k, _ in known]) if known else None
        latest = pd.Series([v for _, v in known], index=index, dtype=object).groupby(level=[0, 1]).last()
        groups[field] = latest.reindex(groups.index)
    return groups


def _coach_settings(client: ClickHouseClient, database: str, school_year: str) -> int:
    """R50's total: the coach settings (latest fact per provider and setting) with half-days that held in the year."""
    sql = (f"SELECT stream_id, payload FROM {database}.events WHERE event_type = 'ProviderCoachSettingSet' "
           "ORDER BY occurred_at, recorded_at")
    rows = client.query(sql).result_rows
    latest = {(provider, p["setting_id"]): p for provider, p in ((r[0], json.loads(r[1])) for r in rows)}
    first, last = f"{school_year[:4]}-09-01", f"{school_year[5:]}-08-31"
    return sum(1 for p in latest.values() if p["half_days_per_week"] > 0 and p["valid_from"] <= last
               and (p.get("valid_until") is None or p["valid_until"] >= first))  # fmt: skip


def pandas_report(client: ClickHouseClient, database: str, school_year: str) -> dict[str, float]:
    """The total of every statistic of the year (and each one's table, computed and discarded)."""
    df = _events(client, database, school_year)
    ref = _referrals(df)
    ref = ref[ref.school_year == school_year]
    traj = _trajectories(df, ref)
    groups = _groups(df)
    groups = groups[groups.school_year == school_year]
    rt = df[df.event_type.str.startswith("RoundTable")]
    rt = rt.assign(rtid=[p["round_table_id"] for p in rt.p]).drop_duplicates("rtid").join(ref.level, on="stream_id")
    coach_settings = _coach_settings(client, database, school_year)
    totals: dict[str, float] = {}
    for code, definition in REPORT_STATISTICS.items():  # R01-R59 (the report's text's figures have no reference)
        level = definition.level
        r, t, g = ref[ref.level == level], traj[traj.level == level], groups[groups.level == level]
        dims = [d for d in definition.dimensions if d in r.columns]
        if definition.section.value.endswith("groups"):
            started = g[g.started]  # pupils reached: started groups, stopped-early ones included
            reached = started.pupils_reached.fillna(started.pupil_count).sum()
            frame = {"R28": g[g.started & g.module.isin(["class_action", "school_composed_group"])],
                     "R59": g[g.started & g.class_hours.notna()]}.get(code, g)  # fmt: skip
            frame.groupby(["education_form", "grade"], dropna=False).size()
            special = {"R24": g.pupil_count.sum(), "R56": g.pupil_count.sum(), "R27": reached,
                       "R26": g.index.get_level_values(0).nunique()}  # group referrals
            totals[code] = float(special.get(code, len(frame)))
        elif code in ("R15", "R46"):
            totals[code] = float(rt[rt.level == level].rtid.nunique())
        elif code in ("R14",):
            totals[code] = float(r.advised.sum())
        elif code == "R06":  # addresses: a referral without a household key is an address of its own
            keys = r["household_key"] if "household_key" in r else pd.Series(None, index=r.index, dtype=object)
            totals[code] = float(len({k if isinstance(k, str) and k else f"referral:{i}" for i, k in keys.items()}))
        elif code == "R50":  # the providers' coach settings that held in the year
            totals[code] = float(coach_settings)
        elif code in ("R16", "R17", "R47", "R49", "R18", "R19", "R20", "R21", "R48", "R51", "R52", "R53"):
            frame = {"R49": t[t.offer == "corona"], "R20": t[t.stopped], "R52": t[t.stopped], "R21": t[t.closed],
                     "R53": t[t.closed], "R18": t[t.started], "R19": t[t.started],
                     "R51": t[t.started]}.get(code, t)  # fmt: skip
            frame.groupby([c for c in ("provider", "offer") if c in frame]).size()
            totals[code] = float(frame[frame.started].pupil_key.nunique() if code == "R48" else len(frame))
        else:
            frame = {"R34": r[r.education_form != "secondary_special_needs"],
                     "R35": r[r.education_form != "secondary_special_needs"],
                     "R36": r[r.education_form == "secondary_special_needs"]}.get(code, r)  # fmt: skip
            if dims:
                frame.groupby(dims, dropna=False).size()
            totals[code] = float(len(frame))
    return totals
