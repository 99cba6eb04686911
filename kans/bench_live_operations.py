"""What the live operational views (L3 clocks, L4 referral status, L5 completeness) cost on a synthetic school year:
generates 2019-2020 at `--scale` desks, seals every event as the ingest does, stores it in a chDB store of its own
(current-state facts folded once), then times each view's query and rules as the API runs them. Prints JSON.

    python -m kans.bench_live_operations [--scale 10] [--repeats 5] [--store PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from core.auth import EVERYTHING, DataScope
from core.pupil_vault import PupilVault
from kans.synthetic.generator import generate
from kans.synthetic.params import GeneratorParams
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.warehouse import live_queries, state
from services.warehouse.clickhouse import ClickHouseClient, migrate
from services.warehouse.referral_status import state_of
from services.warehouse.waiting_clocks import summarise, trend, waits
from services.warehouse.writer import COLUMNS, event_row

YEAR, AS_OF, DATABASE = "2019-2020", date(2020, 8, 31), "live_operations"
SECRET = b"bench-live-operations-pupil-secret"


def build(client: ClickHouseClient, scale: float) -> int:
    """Generate, seal and store the school year; returns the events stored."""
    migrate(client, DATABASE)
    vault, rows, stored = PupilVault(None), [], 0
    for offset, sub in enumerate(generate(GeneratorParams(years=(YEAR,), scale=scale, seed=2020))):
        recorded = datetime.fromisoformat(sub["occurred_at"]) + timedelta(hours=1)
        value = seal(SUBMISSION_ADAPTER.validate_python(sub), recorded, SECRET, vault).model_dump_json().encode()
        rows.append(event_row(value, 0, offset))
        if len(rows) >= 20_000:
            client.insert(f"{DATABASE}.events", rows, column_names=COLUMNS)
            stored, rows = stored + len(rows), []
    if rows:
        client.insert(f"{DATABASE}.events", rows, column_names=COLUMNS)
        stored += len(rows)
    state.rebuild(client, DATABASE)
    return stored


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return {"median_ms": round(statistics.median(runs) * 1000, 1), "best_ms": round(min(runs) * 1000, 1)}


def measure(client: ClickHouseClient, repeats: int) -> dict[str, Any]:
    def clocks() -> None:
        facts = live_queries.referral_facts(client, DATABASE, YEAR, None, EVERYTHING)
        found = [w for f in facts for w in waits(f, AS_OF)]
        summarise(found, 12)
        trend(found, "referral_to_start")

    referrer = client.query(f"SELECT referrer_id FROM {DATABASE}.referral_state FINAL WHERE school_year = '{YEAR}' "
                            "GROUP BY referrer_id ORDER BY count() DESC LIMIT 1").result_rows[0][0]  # fmt: skip
    one = client.query(f"SELECT referral_id FROM {DATABASE}.referral_state FINAL WHERE school_year = '{YEAR}' "
                       "LIMIT 1").result_rows[0][0]  # fmt: skip
    clb = DataScope(referrers=frozenset({referrer}))
    referrals = client.query(f"SELECT count() FROM {DATABASE}.referral_state FINAL WHERE school_year = '{YEAR}'")
    return {
        "referrals_in_year": referrals.result_rows[0][0],
        "waiting_clocks_whole_year": timed(clocks, repeats),
        "referral_statuses_of_the_largest_clb": timed(
            lambda: [state_of(f) for f in live_queries.referral_facts(client, DATABASE, YEAR, None, clb)], repeats),
        "one_referral_status": timed(lambda: live_queries.referral_facts(client, DATABASE, None, one), repeats),
        "completeness": timed(lambda: live_queries.completeness_rows(client, DATABASE, YEAR, 14), repeats),
    }


def main() -> None:
    import clickhouse_connect

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store", type=Path, default=None, help="chDB directory (default: a temporary one)")
    args = parser.parse_args()
    store = args.store or Path(tempfile.mkdtemp(prefix="kans-bench-live-"))
    client = clickhouse_connect.get_client(dsn=f"chdb://{store}")
    started = time.perf_counter()
    events = build(client, args.scale)
    result = {"scale": args.scale, "school_year": YEAR, "events": events,
              "build_s": round(time.perf_counter() - started, 1), "cpus": os.cpu_count(),
              "load_average": round(os.getloadavg()[0], 2), **measure(client, args.repeats)}  # fmt: skip
    print(json.dumps(result, indent=2))  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
