"""`kans bench-dispatch`: the dispatch engine replaying synthetic school years exactly as the what-if replays the log
(`services.dispatch.whatif.Replay`: plain in-memory tables, only the events the rules read), nothing written.

`kans.synthetic` generates the years (scale N = N desks of Brussels' size side by side, each with its own providers);
the events the rules read are sealed as the ingest seals them (`schemas.registry.seal`, pupils in an in-memory vault)
and each desk's are replayed by its own engine, as each desk would run its own dispatch service: one engine over
all of them would rank every desk's providers for every pupil. Timed apart: generating, sealing, the engine. Like
`kans bench-generate`, it stops at a time budget: the part done is a measured prefix of the run (year by year, every
desk), marked incomplete, and the whole run's size and time are estimated from it.
"""

from __future__ import annotations

import json
import platform as host
import resource
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.pupil_vault import PupilVault
from kans.paths import REPO_ROOT
from kans.synthetic.bench import _calibrated_total
from kans.synthetic.generator import generate_chunks, regions_of
from kans.synthetic.params import GeneratorParams, year_range
from schemas.registry import SUBMISSION_ADAPTER, seal
from services.dispatch.ruleset import DEFAULT_RULES, RuleSet, load_rule_set
from services.dispatch.whatif import Replay, fed_to_the_engine

SECRET = b"bench-dispatch-pupil-key-secret-not-for-production"
RESULTS = REPO_ROOT / "bench-results"
RECORDED_AFTER = timedelta(minutes=5)  # the ingest accepts a generated event this long after it happened


def replay_synthetic(params: GeneratorParams, rules: RuleSet, budget_s: float | None = None,
                     on_chunk: Callable[[int], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """Generate, seal and replay the run's region-years in order, one `Replay` per desk, until done or `budget_s`
    is spent (checked after each region-year); the counts and the seconds spent on each part."""
    regions, _ = regions_of(params.scale)
    replays = [Replay(rules) for _ in range(regions)]
    vault = PupilVault(None)
    outputs: Counter[str] = Counter()
    generated = chunks = 0
    seal_s = engine_s = 0.0
    started = time.perf_counter()
    for index, chunk in enumerate(generate_chunks(params, today=None)):
        replay = replays[index % regions]  # chunks come year by year, desk by desk
        generated += len(chunk)
        sealing = time.perf_counter()
        events = [seal(SUBMISSION_ADAPTER.validate_python(sub),
                       datetime.fromisoformat(sub["occurred_at"]) + RECORDED_AFTER, SECRET, vault)
                  for sub in chunk if fed_to_the_engine(sub["event_type"], sub["source_system"])]  # fmt: skip
        replaying = time.perf_counter()
        for event in events:
            outputs.update(out.event_type for out in replay.feed(event))
        seal_s, engine_s = seal_s + replaying - sealing, engine_s + time.perf_counter() - replaying
        chunks += 1
        if on_chunk is not None:
            on_chunk(chunks)
        if budget_s is not None and time.perf_counter() - started > budget_s:
            break
    wall = time.perf_counter() - started
    vault.close()
    return {"regions": regions, "region_years_done": chunks, "region_years": regions * len(params.simulated_years),
            "events_generated": generated, "events_fed": sum(r.fed for r in replays),
            "proposals": outputs["DispatchProposed"], "waiting_joins": outputs["WaitingListJoined"],
            "waiting_leaves": outputs["WaitingListLeft"], "blocked": outputs["DispatchBlocked"],
            "auto_dispatched": outputs["TrajectoryDispatched"] + outputs["GroupTrajectoryDispatched"],
            "refused": sum(len(r.refused) for r in replays),
            "refused_first": [vars(refused) for r in replays for refused in r.refused][:5],
            "wall_s": wall, "seal_s": seal_s, "engine_s": engine_s}  # fmt: skip


def run_bench_dispatch(scale: float = 100, years: int = 10, first_year: str = "2017-2018", budget_s: float = 300,
                       rules: Path = DEFAULT_RULES, progress: bool = True,
                       results: Path = RESULTS) -> dict[str, Any]:  # fmt: skip
    """Measure, report and save (bench-results/dispatch-<when>.json). `budget_s` 0 or less: no budget."""
    start = int(first_year[:4])
    params = GeneratorParams(years=year_range(f"{first_year}..{start + years - 1}-{start + years}"), scale=scale)
    rule_set = load_rule_set(rules)
    budget = budget_s if budget_s > 0 else None
    cpu_started = time.process_time()
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        total = regions_of(scale)[0] * len(params.simulated_years)
        columns = (TextColumn("replaying region-years"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("replay", total=total)
            run = replay_synthetic(params, rule_set, budget, lambda done: bar.update(task, completed=done))
    else:
        run = replay_synthetic(params, rule_set, budget)
    cpu = time.process_time() - cpu_started
    wall, engine = run["wall_s"], run["engine_s"]
    complete = run["region_years_done"] == run["region_years"]
    result = {
        "when": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "machine": f"{host.node()} {host.machine()} python {host.python_version()}",
        "command": f"kans bench-dispatch --scale {scale:g} --years {years} --first-year {first_year} "
        f"--budget-s {budget_s:g}" + ("" if rules == DEFAULT_RULES else f" --rules {rules}"),
        "run": {
            "scale": scale,
            "desks": run["regions"],
            "school_years": list(params.years),
            "rule_set": rule_set.version,
        },
        "measured": {
            "complete": complete,
            "region_years": f"{run['region_years_done']} of {run['region_years']}",
            "events_generated": run["events_generated"],
            "events_fed_to_the_engine": run["events_fed"],
            "proposals": run["proposals"],
            "waiting_list_joins": run["waiting_joins"],
            "waiting_list_leaves": run["waiting_leaves"],
            "blocked": run["blocked"],
            "auto_dispatched": run["auto_dispatched"],
            "events_refused_by_the_contract": run["refused"],
            "refused_first": run["refused_first"],
            "wall_s": round(wall, 1),
            "generate_s": round(wall - run["seal_s"] - engine, 1),
            "seal_s": round(run["seal_s"], 1),
            "engine_s": round(engine, 1),
            "cpu_s": round(cpu, 1),
            "engine_events_per_s": round(run["events_fed"] / engine) if engine else None,
            "engine_proposals_per_s": round(run["proposals"] / engine) if engine else None,
            "wall_events_per_s": round(run["events_generated"] / wall) if wall else None,
            "wall_proposals_per_s": round(run["proposals"] / wall) if wall else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }
    # Stopped at the budget: the whole run's events as bench-generate estimates them (later years are bigger), and
    # its time at the rate measured.
    regions = run["regions"]
    events = run["events_generated"]
    whole = events if complete else _calibrated_total(params, events, run["region_years_done"], regions)
    result["whole_run"] = {"events_generated": whole, "seconds": round(wall * whole / events) if events else None,
                           "extrapolated": not complete}  # fmt: skip
    out = results / f"dispatch-{result['when']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    result["saved_to"] = str(out)
    return result
