"""`kans bench-report`: the annual report's statistics on a 10-school-year store of at least 10 million events,
on the embedded engine (chDB), against the same report computed naively in pandas from the raw events.

The store is built directly in a chDB database: `kans.synthetic` generates the submissions (deterministic,
realistic, scale N = N desks side by side), `fast_event` seals them without pydantic (same event id, school year,
stream id, pupil key and payload defaults as `schemas.registry.seal`; every 1000th one is checked against the
real `seal`), and they go through the real `events` table, so the fact logs fill through their materialized views.
Timed (the first run, then best and median of the repeats): the whole report of one year (R01-R59, from the
current-state facts), a 10-year comparison of one statistic, a typical ad hoc question, the whole report as of a
day (folding the logs); then the pandas reference, and what refolding a writer batch of 500 referrals costs.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from core.auth import EVERYTHING
from core.progress import progress
from core.pupil_vault import PupilVault
from kans.paths import REPO_ROOT
from kans.synthetic.events import STREAM_FIELD
from schemas.catalogue import EVENT_VERSIONS, STORED_AS
from schemas.codelists import municipality_for_postcode
from schemas.envelope import event_id_for, school_year_of
from schemas.groups import GroupRequest
from schemas.households import HouseholdAddress, household_key
from schemas.pseudonym import pupil_key
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.warehouse import state
from services.warehouse.clickhouse import ClickHouseClient, migrate
from services.warehouse.statistics import engine
from services.warehouse.statistics.adhoc import AdhocQuestion
from services.warehouse.statistics.adhoc_answer import answer
from services.warehouse.statistics.report_cache import REPORTS
from services.warehouse.statistics.responses import YearReport
from services.warehouse.writer import COLUMNS

YEARS = tuple(f"{y}-{y + 1}" for y in range(2016, 2026))
REPORT_YEAR = "2019-2020"
AS_OF = date(2020, 10, 1)  # the as-of report: what was known when the 2019-2020 report was written
EVENTS_PER_REGION_YEAR = 2500  # measured: one Brussels-sized desk emits ~2,500-2,700 events a school year
SECRET = b"bench-report-pupil-key-secret-not-for-production"
BATCH = 200_000
RESULTS = REPO_ROOT / "bench-results"


def _defaults(model: Any) -> dict[str, Any]:
    return {name: f.default for name, f in model.model_fields.items() if not f.is_required()}


# The stored payload's optional fields with their defaults, per event type and stored version (what sealing fills
# in: a version-1 TrajectoryDispatched is stored as version 1, without the later version's proposal fields).
CHECK_VAULT = PupilVault(None)  # for the sampled comparison with seal()
PAYLOAD_DEFAULTS = {key: _defaults(cls.model_fields["payload"].annotation) for key, cls in EVENT_VERSIONS.items()}
GROUP_DEFAULTS = _defaults(GroupRequest)


def fast_event(sub: dict[str, Any]) -> tuple[dict[str, Any], datetime, datetime]:
    """(stored payload, occurred_at, recorded_at) of a generated submission, sealed without validation."""
    occurred = datetime.fromisoformat(sub["occurred_at"])
    kind = sub["event_type"]
    version = sub.get("schema_version", 1)
    payload = {**PAYLOAD_DEFAULTS[(kind, STORED_AS.get((kind, version), version))], **sub["payload"]}
    if kind == "ReferralSubmitted":
        # The benchmark store's pupils have no vault: the reference is derived, nothing is sealed (as an event
        # stored before version 3 reads). What the report counts is the same.
        payload["pupil_ref"] = pupil_key(SECRET, payload.pop("pupil_id"))[:32]
        payload["pupil_key_sealed"] = None
        address = payload.pop("household_address", None)  # the address is never stored: its keyed hash is
        payload["household_key"] = None if address is None else household_key(SECRET, HouseholdAddress(**address))
        if payload.get("residence_postcode"):
            payload["residence_municipality"] = municipality_for_postcode(payload["residence_postcode"])
    elif kind == "ReferralAmended" and sub["payload"]["changes"].get("residence_postcode"):
        changes = dict(sub["payload"]["changes"])
        changes["residence_municipality"] = municipality_for_postcode(changes["residence_postcode"])
        payload["changes"] = changes
    elif kind == "GroupReferralSubmitted":
        payload.setdefault("for_school_year", school_year_of(occurred))
        payload["groups"] = [{**GROUP_DEFAULTS, **g} for g in payload["groups"]]
    return payload, occurred, occurred + timedelta(hours=2)


def event_rows(submissions: Iterator[dict[str, Any]], check_every: int = 1000) -> Iterator[list[Any]]:
    """`events` rows of the submissions; every `check_every`-th is also sealed for real and compared."""
    for n, sub in enumerate(submissions):
        payload, occurred, recorded = fast_event(sub)
        event_id = event_id_for(sub["source_system"], sub["source_ref"])
        if n % check_every == 0:
            real = seal(SUBMISSION_ADAPTER.validate_python(sub), recorded, SECRET, CHECK_VAULT)
            unsealed = {"pupil_ref", "pupil_key_sealed"}
            if (
                real.payload.model_dump(mode="json", exclude=unsealed)
                != {k: v for k, v in json.loads(json.dumps(payload)).items() if k not in unsealed}
                or real.event_id != event_id
            ):
                raise AssertionError(f"fast sealing differs from seal() for {sub['event_type']} {sub['source_ref']}")
        yield [
            event_id,
            sub["event_type"],
            STORED_AS.get((sub["event_type"], sub.get("schema_version", 1)), sub.get("schema_version", 1)),
            occurred,
            recorded,
            school_year_of(occurred),
            sub["source_system"],
            sub["source_ref"],
            sub["actor"],
            str(payload[STREAM_FIELD[sub["event_type"]]]),
            json.dumps(payload, separators=(",", ":")),
            0,
            n,
        ]


def build_store(client: ClickHouseClient, database: str, target_events: int, seed: int,
                echo: Callable[[str], None]) -> int:  # fmt: skip
    """Generate and insert at least `target_events` events over YEARS; returns the number inserted."""
    from kans.synthetic.generator import generate
    from kans.synthetic.params import GeneratorParams

    migrate(client, database)
    scale = math.ceil(target_events / (EVENTS_PER_REGION_YEAR * len(YEARS)))
    params = GeneratorParams(years=YEARS, scale=scale, seed=seed, source_system="demo")
    started, batch, total = time.perf_counter(), [], 0
    for row in event_rows(generate(params)):
        batch.append(row)
        if len(batch) >= BATCH:
            client.insert(f"{database}.events", batch, column_names=COLUMNS)
            total += len(batch)
            batch = []
            echo(f"  {total:>12,} events  {total / (time.perf_counter() - started):>8,.0f}/s")
    if batch:
        client.insert(f"{database}.events", batch, column_names=COLUMNS)
        total += len(batch)
    start = time.perf_counter()
    state.rebuild(client, database)  # inserted in bulk past the writer: fold the current state once
    echo(f"  current-state facts folded in {time.perf_counter() - start:,.1f} s")
    return total


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Seconds: the first (cold) run, then best and median of `repeats` more."""
    start = time.perf_counter()
    fn()
    cold = time.perf_counter() - start
    runs = []
    with progress("bench: repeated runs", repeats, "runs") as done:
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
            done.advance(1)
    return {"cold_s": round(cold, 3), "best_s": round(min(runs), 3), "median_s": round(statistics.median(runs), 3)}


# A typical ad hoc question: secondary referrals and pupils by school year and channel, without the corona offer,
# for the report year and the two before it.
AD_HOC = AdhocQuestion(measures=["referrals", "pupils"], dimensions=["school_year", "channel"],
                       filters={"level": ["secondary"], "exclude_offer_type": ["corona"]},
                       years=["2017-2018", "2018-2019", REPORT_YEAR])  # fmt: skip


def run_bench_report(
    data_dir: Path, target_events: int, repeats: int, rebuild: bool, pandas_reference: bool, echo: Callable[[str], None]
) -> dict[str, Any]:
    import clickhouse_connect

    from kans.bench_report_pandas import pandas_report

    database = "bench_report"
    data_dir.mkdir(parents=True, exist_ok=True)
    client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir}")
    present = _stored_events(client, database)
    if rebuild or present < target_events:
        client.command(f"DROP DATABASE IF EXISTS {database}")
        echo(f"building a {len(YEARS)}-school-year store of >= {target_events:,} events in {data_dir} ...")
        start = time.perf_counter()
        build_store(client, database, target_events, seed=2020, echo=echo)
        echo(f"built in {time.perf_counter() - start:,.0f} s")
    migrate(client, database)  # a store built by an older version gets the newer tables (current-state facts)
    events = _stored_events(client, database)
    question = engine.Question()
    results: dict[str, Any] = {"events": events, "years": f"{YEARS[0]}..{YEARS[-1]}", "report_year": REPORT_YEAR,
                               "cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0]}  # fmt: skip
    start = time.perf_counter()
    report = engine.report(client, database, REPORT_YEAR, question)
    results["whole_report_first_in_process_s"] = round(time.perf_counter() - start, 3)
    results["report_rows"] = sum(len(s.rows) for sec in report.sections for s in sec.statistics)
    results["report_statistics"] = sum(len(s.statistics) for s in report.sections)
    results["report_referrals_secondary"] = next(
        s.total for sec in report.sections for s in sec.statistics if s.statistic == "R31"
    )
    results["whole_report_one_year"] = timed(lambda: engine.report(client, database, REPORT_YEAR, question), repeats)
    # The same report computed every time (the kept one forgotten first): what a report costs after any write.
    results["whole_report_one_year_computed"] = timed(
        lambda: _computed(client, database, question), repeats
    )
    results["compare_10_years_R31"] = timed(
        lambda: engine.compare(client, database, "R31", YEARS[0], YEARS[-1], question), repeats
    )
    results["ad_hoc_query"] = timed(lambda: answer(client, database, AD_HOC, "desk", 5, EVERYTHING), repeats)
    results["ad_hoc_question"] = AD_HOC.model_dump(exclude_none=True)
    as_of = engine.Question(as_of=AS_OF)
    results["whole_report_one_year_as_of"] = timed(
        lambda: engine.report(client, database, REPORT_YEAR, as_of), max(1, repeats // 2)
    )
    results["whole_report_one_year_as_of_computed"] = timed(
        lambda: _computed(client, database, as_of), max(1, repeats // 2)
    )
    results["as_of"] = AS_OF.isoformat()
    results["load_average_after"] = os.getloadavg()[0]
    if pandas_reference:
        start = time.perf_counter()
        reference = pandas_report(client, database, REPORT_YEAR)
        seconds = time.perf_counter() - start
        results["pandas_whole_report_one_year_s"] = round(seconds, 3)
        results["pandas_statistics"] = len(reference)
        results["ratio_pandas_to_clickhouse"] = round(seconds / results["whole_report_one_year"]["median_s"], 1)
        results["pandas_agrees_on"] = _agreement(report, reference)
    # What keeping the current state costs the writer: refolding a batch that touched 500 referrals of the year
    # (last: each refresh adds parts to the state tables until they merge).
    sample = [rid for (rid,) in client.query(
        f"SELECT referral_id FROM {database}.referral_state FINAL WHERE school_year = {{y:String}} LIMIT 500",
        parameters={"y": REPORT_YEAR}).result_rows]  # fmt: skip
    batch = state.Touched()
    batch.ids["referral_state"].update(sample)
    results["writer_refresh_500_referrals"] = timed(lambda: state.refresh(client, database, batch), repeats)
    client.close()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-report-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    results["saved_to"] = str(out)
    return results


def _computed(client: ClickHouseClient, database: str, question: engine.Question) -> YearReport:
    """The report computed, not the kept one (`report_cache.py`)."""
    REPORTS.clear()
    return engine.report(client, database, REPORT_YEAR, question)


def _agreement(report: YearReport, reference: dict[str, float]) -> dict[str, bool]:
    """Whether pandas and ClickHouse give the same total for the statistics both compute."""
    totals = {s.statistic: s.total for sec in report.sections for s in sec.statistics}
    return {code: totals.get(code) == value for code, value in sorted(reference.items())}


def _stored_events(client: ClickHouseClient, database: str) -> int:
    try:
        return int(client.query(f"SELECT count() FROM {database}.events").result_rows[0][0])
    except Exception:  # noqa: BLE001 - no store yet
        return 0
